"""`nids score-batch` and `nids prepare`: score or sample flow archives, locally or on Spark."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import typer

_ENGINE_HELP = "local: one process, streamed batches; spark: Spark executors (NIDS_SPARK_MASTER)."
_ON_ERROR_HELP = "fail (default) on the first bad row/file, or quarantine bad rows and files."


def score_batch_command(
    input_: str = typer.Option(
        ..., "--input", "-i", help="Flow archive: file, directory, glob or s3:// URL."
    ),
    output: str = typer.Option(
        ..., "--output", "-o", help="Output directory (date=/hour= parquet + _summary.json)."
    ),
    model: str | None = typer.Option(
        None, "--model", help="Model URI (default: NIDS_MODEL_URI, the production alias)."
    ),
    engine: Literal["local", "spark"] = typer.Option("local", help=_ENGINE_HELP),
    explain: Literal["alerts", "all", "none"] = typer.Option(
        "alerts", help="Which flows get top-feature explanations."
    ),
    on_error: Literal["fail", "quarantine"] | None = typer.Option(
        None, "--on-error", help=_ON_ERROR_HELP
    ),
    quarantine_dir: Path | None = typer.Option(None, help="Where refused rows/files go."),
    batch_rows: int | None = typer.Option(None, min=1000, help="Rows per streamed batch."),
    overwrite: bool = typer.Option(False, help="Replace a non-empty output directory."),
) -> None:
    """Score a flow archive with a registered model into partitioned parquet plus a summary."""
    from rich.console import Console

    from nids.batch.run import score_batch
    from nids.settings import Settings

    settings = Settings().with_overrides(
        on_error=on_error, quarantine_dir=quarantine_dir, batch_rows=batch_rows
    )
    summary = score_batch(
        settings,
        input_,
        output,
        model_uri=model,
        engine=engine,
        explain=explain,
        overwrite=overwrite,
        progress=True,
    )
    Console().print(
        f"{summary.rows:,} flows scored ({summary.engine}), {summary.alerts:,} alerts, "
        f"{summary.refused_rows:,} refused; {output}/_summary.json",
        highlight=False,
    )


def prepare_command(
    input_: str = typer.Option(
        ..., "--input", "-i", help="Flow archive: file, directory, glob or s3:// URL."
    ),
    output: str = typer.Option(
        ..., "--output", "-o", help="Output directory (sample.parquet, features.parquet)."
    ),
    engine: Literal["local", "spark"] = typer.Option("local", help=_ENGINE_HELP),
    max_rows: int | None = typer.Option(
        None, min=1, help="Sample size target (default: NIDS_MAX_TRAIN_ROWS)."
    ),
    min_per_stratum: int = typer.Option(
        50, min=0, help="Flows kept at least per (date, hour, label) stratum."
    ),
    features: bool = typer.Option(
        True, "--features/--no-features", help="Also write the sample's full-context features."
    ),
    seed: int | None = typer.Option(None, help="Sampling seed (default: NIDS_SEED)."),
    on_error: Literal["fail", "quarantine"] | None = typer.Option(
        None, "--on-error", help=_ON_ERROR_HELP
    ),
    overwrite: bool = typer.Option(False, help="Write into a non-empty output directory."),
) -> None:
    """Stratified, time-aware training sample (and its features) of a large flow archive."""
    from rich.console import Console

    from nids.batch.prepare import prepare_training_data
    from nids.settings import Settings

    settings = Settings().with_overrides(seed=seed, on_error=on_error)
    summary = prepare_training_data(
        settings,
        input_,
        output,
        engine=engine,
        max_rows=max_rows,
        min_per_stratum=min_per_stratum,
        features=features,
        overwrite=overwrite,
        progress=True,
    )
    Console().print(
        f"{summary['plan']['total_rows']:,} flows read, {summary['sample_rows']:,} sampled "
        f"({engine}); {output}/sample.parquet",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    app.command("score-batch")(score_batch_command)
    app.command("prepare")(prepare_command)
