"""`nids monitor drift|run` and `nids feedback import|summary|export`."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer

from nids.errors import EXIT_DRIFT


class Correction(StrEnum):
    """Choices of ``--correction``."""

    bh = "bh"
    bonferroni = "bonferroni"
    none = "none"


monitor_app = typer.Typer(help="Drift detection and monitoring cycles.", no_args_is_help=True)
feedback_app = typer.Typer(help="Analyst verdicts on alerts.", no_args_is_help=True)


def _exit_for(drifted: bool) -> None:
    if drifted:
        raise typer.Exit(EXIT_DRIFT)


@monitor_app.command("drift")
def drift(
    current: str = typer.Option(
        ..., "--current", help="Window to check: prediction-log root/partition, flow file or glob."
    ),
    reference: str | None = typer.Option(
        None, help="Model URI (default: the production model) or a reference_profile.json."
    ),
    p_threshold: float | None = typer.Option(None, min=0, max=1, help="KS significance level."),
    correction: Correction | None = typer.Option(
        None, case_sensitive=False, help="Multiple-testing correction across columns."
    ),
    psi_threshold: float | None = typer.Option(None, min=0, help="Minimum PSI to count."),
    wasserstein_threshold: float | None = typer.Option(
        None, min=0, help="Minimum Wasserstein (reference std units) to count."
    ),
    report: Path | None = typer.Option(None, help="Write the HTML report here."),
    json_out: Path | None = typer.Option(None, "--json", help="Write the JSON result here."),
    mlflow: bool = typer.Option(True, "--mlflow/--no-mlflow", help="Log a monitoring run."),
    show_all: bool = typer.Option(False, "--all", help="Show every column, not only notable ones."),
) -> None:
    """Compare a window with the model's reference. Exit 0 = no drift, 3 = drift."""
    from rich.console import Console

    from nids.monitoring.job import run_drift
    from nids.monitoring.report import drift_table
    from nids.settings import Settings

    settings = Settings().with_overrides(
        drift_p_threshold=p_threshold,
        drift_correction=correction.value if correction else None,
        drift_psi_threshold=psi_threshold,
        drift_wasserstein_threshold=wasserstein_threshold,
    )
    check = run_drift(
        settings,
        current,
        reference=reference,
        report=report,
        json_out=json_out,
        log_to_mlflow=mlflow,
    )
    console = Console()
    console.print(drift_table(check.result, only_interesting=not show_all))
    for note in check.notes:
        console.print(f"note: {note}")
    _exit_for(check.result.drifted)


@monitor_app.command("run")
def run(
    window_h: float | None = typer.Option(None, min=0, help="Hours of prediction log to check."),
) -> None:
    """One monitoring cycle (drift + feedback metrics + MLflow). Exit 3 on drift."""
    from rich.console import Console

    from nids.monitoring.job import run_cycle
    from nids.monitoring.report import drift_table
    from nids.pipelines.trigger import drift_retrain_hook
    from nids.settings import Settings

    check = run_cycle(Settings(), window_h=window_h, retrain_hook=drift_retrain_hook)
    console = Console()
    console.print(drift_table(check.result, only_interesting=True))
    for note in [f"report: {check.report_path}", f"MLflow run: {check.run_id}", *check.notes]:
        console.print(note)
    _exit_for(check.result.drifted)


@feedback_app.command("import")
def import_(
    file: Path = typer.Argument(..., help="CSV (header row) or JSON Lines file of verdicts."),
    db_url: str | None = typer.Option(None, help="Feedback database URL (SQLAlchemy)."),
) -> None:
    """Record analyst verdicts from a file (all or nothing)."""
    from nids.monitoring.feedback import import_feedback
    from nids.settings import Settings

    count = import_feedback(Settings().with_overrides(feedback_db_url=db_url), file)
    typer.echo(f"imported {count} verdicts")


@feedback_app.command("summary")
def summary(
    db_url: str | None = typer.Option(None, help="Feedback database URL (SQLAlchemy)."),
) -> None:
    """Verdict counts and live precision per model version."""
    from rich.console import Console

    from nids.monitoring.feedback import summary_table
    from nids.settings import Settings

    Console().print(summary_table(Settings().with_overrides(feedback_db_url=db_url)))


@feedback_app.command("export")
def export(
    out: Path = typer.Argument(..., help="Parquet file for the labelled flows."),
    db_url: str | None = typer.Option(None, help="Feedback database URL (SQLAlchemy)."),
) -> None:
    """Write feedback-confirmed flows, labelled by verdict, for the next retrain."""
    from nids.monitoring.feedback import export_labelled_flows
    from nids.settings import Settings

    count = export_labelled_flows(Settings().with_overrides(feedback_db_url=db_url), out)
    typer.echo(f"wrote {count} labelled flows to {out}")


def register(app: typer.Typer) -> None:
    app.add_typer(monitor_app, name="monitor")
    app.add_typer(feedback_app, name="feedback")
