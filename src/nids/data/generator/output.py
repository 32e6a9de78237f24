"""Generate a data set and write it as parquet (local path or ``s3://``): what `nids generate` runs."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from nids.data.generator import generate_flows
from nids.errors import ConfigError, NidsError, ServiceUnavailableError

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


def write_generated(df: pd.DataFrame, out: str, s3_endpoint_url: str | None = None) -> None:
    """Write flows with :func:`nids.data.write_flows`; S3 failures become service errors."""
    from nids.data import write_flows

    try:
        write_flows(df, out, s3_endpoint_url=s3_endpoint_url)
    except NidsError:
        raise
    except OSError as exc:
        raise ConfigError(f"cannot write {out}: {exc}") from exc
    except Exception as exc:  # botocore/s3fs errors share no base class with OSError
        raise ServiceUnavailableError(f"cannot write {out}: {exc}") from exc


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

        df = generate_flows(
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
        write_generated(df, out, s3_endpoint_url)
        bar.update(task, completed=len(_STAGES))
    return GenerationSummary(
        path=out,
        rows=len(df),
        first=df["ts"].iloc[0].to_pydatetime(),
        last=df["ts"].iloc[-1].to_pydatetime(),
        labels=_counts(df["label"]),
        attacks=_counts(df["attack_type"]),
        drift=drift,
        seconds=time.perf_counter() - began,
    )


def _counts(column: pd.Series) -> dict[str, int]:
    """Value -> count for the non-null values, most frequent first."""
    return {str(k): int(v) for k, v in column.value_counts().items()}
