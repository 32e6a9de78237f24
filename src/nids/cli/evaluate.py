"""`nids evaluate`: honest evaluation against the plain baseline, with ablations."""

from __future__ import annotations

from typing import Literal

import typer


def evaluate(
    data: str = typer.Option(
        ..., "--data", help="Flows to test on (or to split, without --train); any format."
    ),
    train: str | None = typer.Option(
        None, "--train", help="Earlier capture to fit and calibrate on (test = all of --data)."
    ),
    protocol: Literal["temporal", "random"] = typer.Option(
        "temporal", help="Split by time (honest) or at random (optimistic, documented)."
    ),
    train_on: Literal["benign", "all"] = typer.Option(
        "benign", help="Fit on flows not labelled malicious, or on everything (contaminated)."
    ),
    ablation: bool = typer.Option(False, "--ablation", help="Re-run without each feature group."),
    all_detectors: bool = typer.Option(
        False, "--all-detectors", help="Also evaluate every other detector."
    ),
    detector: str | None = typer.Option(None, help="Detector of our model (default: setting)."),
    model_uri: str | None = typer.Option(
        None, help="Evaluate a registered model (e.g. models:/nids-isoforest@production)."
    ),
    home_networks: str | None = typer.Option(
        None, help="Comma-separated home CIDRs (default: setting; inferred if they see no traffic)."
    ),
    output: str = typer.Option(
        "reports/evaluation", help="Report directory (JSON, Markdown, PNG)."
    ),
    seed: int | None = typer.Option(None, help="Random seed."),
    target_fpr: float | None = typer.Option(None, min=0, max=1, help="Threshold target FPR."),
    k: int | None = typer.Option(None, min=1, help="k of precision@k."),
    log: bool = typer.Option(True, "--log/--no-log", help="Log the evaluation to MLflow."),
) -> None:
    """Evaluate the model on later traffic against the plain IsolationForest baseline."""
    from rich.console import Console

    from nids.model.detectors import DETECTORS
    from nids.settings import Settings
    from nids.training.evaluation_report import evaluate_command, print_summary

    settings = Settings().with_overrides(
        detector=detector,
        seed=seed,
        target_fpr=target_fpr,
        precision_k=k,
        home_networks=home_networks.split(",") if home_networks else None,
    )
    result, report, run_id = evaluate_command(
        settings,
        data,
        train=train,
        protocol=protocol,
        train_on=train_on,
        detectors=list(DETECTORS) if all_detectors else None,
        ablation=ablation,
        model_uri=model_uri,
        output=output,
        log=log,
    )
    print_summary(result, report, run_id, Console())


def register(app: typer.Typer) -> None:
    app.command("evaluate")(evaluate)
