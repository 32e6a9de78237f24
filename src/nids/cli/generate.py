"""`nids generate`: write synthetic labelled traffic (optionally drifted) as parquet."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from nids.data.generator.output import GenerationSummary


def generate(
    out: str = typer.Option(
        "data/netflow.parquet", "--out", "-o", help="Parquet file to write (local or s3://)."
    ),
    flows: int = typer.Option(200_000, "--flows", "-n", help="Number of flows."),
    days: float = typer.Option(7.0, "--days", help="Time span in days."),
    attack_share: float = typer.Option(
        0.05, "--attack-share", help="Share of malicious flows (0-1)."
    ),
    seed: int | None = typer.Option(
        None, "--seed", help="Random seed (default: the NIDS_SEED setting)."
    ),
    drift: str | None = typer.Option(None, "--drift", help="Drift scenario (see --list-drift)."),
    start: str | None = typer.Option(
        None, "--start", help="ISO start date/time, UTC (default: 2025-11-03, a Monday)."
    ),
    home_cidr: str = typer.Option(
        "10.0.0.0/16", "--home-cidr", help="IPv4 network of the simulated site (/20 or larger)."
    ),
    list_drift: bool = typer.Option(
        False, "--list-drift", help="Print the drift scenarios and exit."
    ),
) -> None:
    """Generate an enterprise network's flows with labelled attack campaigns."""
    if list_drift:
        from nids.data.generator.drift import describe_scenarios

        _print_scenarios(describe_scenarios())
        return
    from nids.data.generator.output import generate_to_path
    from nids.settings import Settings

    settings = Settings().with_overrides(seed=seed)
    summary = generate_to_path(
        out, n_flows=flows, days=days, attack_share=attack_share, seed=settings.seed,
        drift=drift, start=start, home_cidr=home_cidr,
        s3_endpoint_url=settings.s3_endpoint_url,
    )  # fmt: skip
    _print_summary(summary)


def _print_scenarios(scenarios: dict[str, str]) -> None:
    table = Table("scenario", "what changes", show_lines=True)
    for name, text in scenarios.items():
        table.add_row(name, text)
    Console().print(table)


def _print_summary(summary: GenerationSummary) -> None:
    console = Console()
    console.print(
        f"wrote [bold]{summary.rows:,}[/] flows to [bold]{summary.path}[/] "
        f"in {summary.seconds:.1f} s" + (f" (drift: {summary.drift})" if summary.drift else "")
    )
    console.print(f"time span: {summary.first:%Y-%m-%d %H:%M} → {summary.last:%Y-%m-%d %H:%M} UTC")
    table = Table("label / attack type", "flows", "share")
    for name, count in [*summary.labels.items(), *summary.attacks.items()]:
        table.add_row(name, f"{count:,}", f"{count / summary.rows:.2%}")
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("generate")(generate)
