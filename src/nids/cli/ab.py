"""`nids ab`: A/B experiments between model versions (report and verdict, assignment)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import typer

from nids.settings import Settings

ab_app = typer.Typer(help="A/B experiments: verdict report, host assignment.", no_args_is_help=True)


@ab_app.command("report")
def report(
    config: Path | None = typer.Option(
        None, "--config", help="Experiment file (YAML/JSON) [NIDS_AB_CONFIG]."
    ),
    log: str | None = typer.Option(
        None, "--log", help="Prediction log root or glob [NIDS_PREDICTION_LOG_DIR]."
    ),
    since: datetime | None = typer.Option(None, help="Only records scored from this time (UTC)."),
    out: Path = typer.Option(Path("reports/ab"), help="Directory for <experiment>.html/.json."),
    apply: bool = typer.Option(
        False, "--apply", help="Promote a winning candidate through the registry gate (audited)."
    ),
) -> None:
    """Flows, alerts, alert rate CIs, latency, agreement, precision per variant, and a verdict."""
    from nids.abtest.report import run_report

    run_report(Settings(), config_path=config, log_root=log, since=since, out_dir=out, apply=apply)


@ab_app.command("assign")
def assign(
    keys: list[str] = typer.Argument(..., help="Assignment keys (source IPs, Community IDs...)."),
    config: Path | None = typer.Option(
        None, "--config", help="Experiment file (YAML/JSON) [NIDS_AB_CONFIG]."
    ),
) -> None:
    """Print the variant each key is routed to (sticky, before any guardrail cut-off)."""
    from nids.abtest.assign import print_assignment

    print_assignment(Settings().with_overrides(ab_config=config), keys)


def register(app: typer.Typer) -> None:
    app.add_typer(ab_app, name="ab")
