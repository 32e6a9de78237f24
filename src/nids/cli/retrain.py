"""`nids retrain`: one run of the retraining pipeline (docs/retraining.md)."""

from __future__ import annotations

from typing import Literal

import typer


def retrain(
    data: str | None = typer.Option(
        None, "--data", help="Window to train on: file, directory, glob or s3:// glob."
    ),
    since: str | None = typer.Option(
        None, help="Start (ISO date/time, UTC) of a window over the dated data root."
    ),
    until: str | None = typer.Option(None, help="End (exclusive) of that window; default now."),
    root: str | None = typer.Option(
        None, help="Dated data root for --since/--until (default: NIDS_RETRAIN_DATA_ROOT)."
    ),
    force: bool = typer.Option(False, "--force", help="Retrain even if this data was retrained."),
    on_error: Literal["fail", "quarantine"] | None = typer.Option(
        None, help="Bad objects/rows: fail, or quarantine them, report them and go on."
    ),
    feedback: bool = typer.Option(
        True, "--feedback/--no-feedback", help="Add analyst-confirmed flows to the evaluation."
    ),
    model_name: str | None = typer.Option(None, help="Registered model name."),
    tracking_uri: str | None = typer.Option(None, help="MLflow tracking URI."),
) -> None:
    """Retrain, compare with production, register and promote through the gate.

    Exit 0 = promoted (or this data was already retrained), 5 = champion kept,
    6 = another retrain holds the lock.
    """
    from rich.console import Console

    from nids.pipelines.retraining import print_result, retrain_from_cli
    from nids.settings import Settings

    console = Console()
    settings = Settings().with_overrides(
        on_error=on_error, model_name=model_name, mlflow_tracking_uri=tracking_uri
    )
    result = retrain_from_cli(
        settings, data=data, since=since, until=until, root=root, force=force,
        use_feedback=feedback, console=console,
    )  # fmt: skip
    print_result(result, console)
    raise typer.Exit(result.exit_code)


def register(app: typer.Typer) -> None:
    app.command("retrain")(retrain)
