"""`nids train`: the same as ``python models/nids/train.py``."""

from __future__ import annotations

from typing import Literal

import typer


def train(
    data: str = typer.Option(
        ..., "--data", help="Flows to train on: file, directory, glob or s3:// URL, any format."
    ),
    experiment: str | None = typer.Option(None, help="MLflow experiment name."),
    seed: int | None = typer.Option(None, help="Random seed (splits, sampling, detector)."),
    n_estimators: int | None = typer.Option(None, min=1, help="Isolation Forest trees."),
    max_samples: int | None = typer.Option(None, min=2, help="Sub-sample size per tree."),
    target_fpr: float | None = typer.Option(
        None, min=0, max=1, help="False-positive rate on held-out benign flows."
    ),
    alerts_per_day: float | None = typer.Option(
        None, min=0, help="Alert budget per day (instead of --target-fpr)."
    ),
    train_on: Literal["all", "benign"] | None = typer.Option(
        None, help="Fit on all flows or on flows labelled benign only."
    ),
    test_fraction: float | None = typer.Option(
        None, min=0, max=1, help="Share of the latest flows held out for evaluation."
    ),
    threshold_method: Literal["quantile", "tail"] | None = typer.Option(
        None, help="Threshold rule on held-out benign scores."
    ),
    detector: str | None = typer.Option(None, help="Detector of the pipeline (isoforest, ...)."),
    register: bool = typer.Option(False, "--register/--no-register", help="Register the model."),
    model_name: str | None = typer.Option(None, help="Registered model name."),
    on_error: Literal["fail", "quarantine"] | None = typer.Option(
        None, help="Malformed input rows: fail, or quarantine them and go on."
    ),
    tracking_uri: str | None = typer.Option(
        None, help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI or embedded SQLite)."
    ),
) -> None:
    """Train, evaluate and log a model to MLflow; optionally register it."""
    from rich.console import Console

    from nids.settings import Settings
    from nids.training.report import print_summary
    from nids.training.trainer import train as run_training

    console = Console()
    settings = Settings().with_overrides(
        experiment_name=experiment,
        seed=seed,
        n_estimators=n_estimators,
        max_samples=max_samples,
        target_fpr=target_fpr,
        alerts_per_day=alerts_per_day,
        train_on=train_on,
        test_fraction=test_fraction,
        threshold_method=threshold_method,
        detector=detector,
        model_name=model_name,
        on_error=on_error,
        mlflow_tracking_uri=tracking_uri,
    )
    print_summary(run_training(settings, data, register=register, console=console), console)


def register(app: typer.Typer) -> None:
    app.command("train")(train)
