"""`nids ingest`, `nids data summary`, `nids data validate`: read, convert and inspect flow data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console

data_app = typer.Typer(help="Inspect and validate flow data.", no_args_is_help=True)

_FORMAT_HELP = (
    "Input format (default: detected from content): parquet, zeek-tsv, zeek-json, "
    "nfdump-csv, nf-v9, cicflowmeter-csv."
)
_S3_HELP = "S3-compatible endpoint URL for s3:// sources (default: AWS_ENDPOINT_URL)."


def _report_table(report: Any, title: str) -> Any:
    from rich.table import Table

    table = Table("source", "format", "rows", "refused", "quarantine file / error", title=title)
    for s in report.sources:
        table.add_row(
            s.source,
            s.fmt or "?",
            f"{s.rows:,}",
            f"{s.quarantined:,}",
            s.error or s.quarantine_file or "",
        )
    return table


def ingest_command(
    src: str = typer.Argument(..., help="File, directory, glob or s3:// URL of flow records."),
    out: str = typer.Option(
        ..., "--out", "-o", help="Parquet file to write (canonical schema), local or s3://."
    ),
    fmt: str | None = typer.Option(None, "--format", "-f", help=_FORMAT_HELP),
    on_error: str | None = typer.Option(
        None, "--on-error", help="fail (default) or quarantine malformed rows."
    ),
    quarantine_dir: Path | None = typer.Option(
        None, "--quarantine-dir", help="Quarantine directory."
    ),
    s3_endpoint_url: str | None = typer.Option(None, "--s3-endpoint-url", help=_S3_HELP),
) -> None:
    """Convert any supported flow input to canonical parquet; print row and refusal counts."""
    from nids.data.io import ingest
    from nids.settings import Settings

    s = Settings().with_overrides(
        on_error=on_error, quarantine_dir=quarantine_dir, s3_endpoint_url=s3_endpoint_url
    )
    report = ingest(
        src,
        str(out),
        fmt=fmt,
        on_error=s.on_error,
        quarantine_dir=s.quarantine_dir,
        s3_endpoint_url=s.s3_endpoint_url,
        progress=True,
    )
    console = Console()
    console.print(_report_table(report, f"ingested into {out}"))
    console.print(f"{report.rows:,} flows written, {report.quarantined:,} refused")


@data_app.command("summary")
def summary_command(
    path: str = typer.Argument(..., help="File, directory, glob or s3:// URL of flow records."),
    fmt: str | None = typer.Option(None, "--format", "-f", help=_FORMAT_HELP),
    s3_endpoint_url: str | None = typer.Option(None, "--s3-endpoint-url", help=_S3_HELP),
) -> None:
    """Print rows, time span, label/attack mix, protocol/service/conn_state mix and top ports."""
    from nids.data.summary import summarise_flows
    from nids.settings import Settings

    s = Settings().with_overrides(s3_endpoint_url=s3_endpoint_url)
    summary = summarise_flows(path, fmt=fmt, s3_endpoint_url=s.s3_endpoint_url, progress=True)
    Console().print(summary.to_rich())


@data_app.command("validate")
def validate_command(
    path: str = typer.Argument(..., help="File, directory, glob or s3:// URL of flow records."),
    fmt: str | None = typer.Option(None, "--format", "-f", help=_FORMAT_HELP),
    s3_endpoint_url: str | None = typer.Option(None, "--s3-endpoint-url", help=_S3_HELP),
) -> None:
    """Check every row against the schema; print counts and examples; exit 2 on any error."""
    from nids.data.readers import validate_source
    from nids.errors import SchemaError
    from nids.settings import Settings

    s = Settings().with_overrides(s3_endpoint_url=s3_endpoint_url)
    report = validate_source(path, fmt=fmt, s3_endpoint_url=s.s3_endpoint_url, progress=True)
    console = Console()
    console.print(_report_table(report, f"validation of {path}"))
    for reason, count in report.reasons.most_common():
        console.print(f"  {count:,} x {reason}", highlight=False)
    for src in report.sources:
        for example in src.examples:
            console.print(f"  e.g. {example}", highlight=False, soft_wrap=True)
    bad = report.quarantined + len(report.failed_sources)
    if bad:
        raise SchemaError(
            f"{report.quarantined:,} invalid row(s), {len(report.failed_sources)} unreadable "
            f"file(s) in {path}; {report.rows:,} valid rows"
        )
    console.print(f"{report.rows:,} valid flows, no errors")


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest_command)
    app.add_typer(data_app, name="data")
