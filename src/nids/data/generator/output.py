"""Generate a data set and write it as parquet (local path or ``s3://``): what `nids generate` runs."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from nids.data.generator import generate_table
from nids.errors import ConfigError, ServiceUnavailableError

_STAGES = ("network", "benign traffic", "attack campaigns", "frame and community ids", "write")


@dataclass(frozen=True)
class GenerationSummary:
    """What was written: where, how many flows, the time span and the label/attack mix."""

    path: str
    rows: int
    first: datetime
    last: datetime
    labels: dict[str, int]
    attacks: dict[str, int]
    drift: str | None
    seconds: float


def parse_start(value: str | datetime | None) -> datetime | None:
    """An ISO date/time as an aware UTC datetime (naive values are taken as UTC)."""
    if value is None or isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError as exc:
            raise ConfigError(
                f"--start {value!r} is not an ISO date/time (e.g. 2025-11-03 or 2025-11-03T08:00Z)"
            ) from exc
    if parsed is not None and parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def write_table(table: pa.Table, out: str, s3_endpoint_url: str | None = None) -> None:
    """Write a flow table as parquet; a local file appears only once complete."""
    if out.startswith("s3://"):
        import fsspec

        options = {"client_kwargs": {"endpoint_url": s3_endpoint_url}} if s3_endpoint_url else {}
        try:
            with fsspec.open(out, "wb", **options) as fh:
                pq.write_table(table, fh)
        except Exception as exc:  # botocore/s3fs errors do not share a base class
            raise ServiceUnavailableError(f"cannot write {out}: {exc}") from exc
        return
    path = Path(out)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, tmp)
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ConfigError(f"cannot write {out}: {exc}") from exc


def generate_to_path(
    out: str,
    *,
    n_flows: int,
    days: float = 7.0,
    attack_share: float = 0.05,
    seed: int = 0,
    drift: str | None = None,
    start: str | datetime | None = None,
    home_cidr: str = "10.0.0.0/16",
    s3_endpoint_url: str | None = None,
    show_progress: bool = True,
) -> GenerationSummary:
    """Generate flows (see :func:`generate_flows`) and write them to ``out`` as parquet."""
    began = time.perf_counter()
    with Progress(
        TextColumn("{task.description:<28}"),
        BarColumn(),
        TimeElapsedColumn(),
        transient=True,
        disable=not show_progress,
    ) as bar:
        task = bar.add_task("generating", total=len(_STAGES))

        def stage(name: str) -> None:
            bar.update(task, description=name, completed=_STAGES.index(name))

        table = generate_table(
            n_flows,
            days=days,
            attack_share=attack_share,
            seed=seed,
            drift=drift,
            start=parse_start(start),
            home_cidr=home_cidr,
            progress=stage,
        )
        stage("write")
        write_table(table, out, s3_endpoint_url)
        bar.update(task, completed=len(_STAGES))
    ts = table.column("ts")
    return GenerationSummary(
        path=out,
        rows=table.num_rows,
        first=ts[0].as_py(),
        last=ts[-1].as_py(),
        labels=_counts(table.column("label")),
        attacks=_counts(table.column("attack_type")),
        drift=drift,
        seconds=time.perf_counter() - began,
    )


def _counts(column: pa.ChunkedArray) -> dict[str, int]:
    """Value -> count for the non-null values, most frequent first."""
    pairs = [(str(v["values"]), int(v["counts"])) for v in column.value_counts().to_pylist()]
    return dict(sorted((p for p in pairs if p[0] != "None"), key=lambda p: -p[1]))
