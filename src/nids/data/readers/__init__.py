"""Flow readers: any supported input (local, glob, directory, ``s3://``) to canonical frames.

Formats are recognised by content: parquet, Zeek conn.log (TSV and JSON lines), nfdump
CSV (both layouts), nProbe NetFlow v9 CSV (NF-* datasets) and CICFlowMeter CSV. See
docs/data.md for each mapping.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from nids.data.readers.detect import FORMATS, detect_format
from nids.data.readers.engine import ReadOptions, ReadReport, SourceReport, read_batches
from nids.data.schema import COLUMNS
from nids.data.validation import DTYPES, OnError

__all__ = [
    "FORMATS",
    "ReadReport",
    "SourceReport",
    "detect_format",
    "iter_flow_batches",
    "read_flows",
    "read_flows_report",
    "validate_source",
]


def _select(df: pd.DataFrame, columns: list[str] | None) -> pd.DataFrame:
    return df if columns is None else df[columns]


def iter_flow_batches(
    source: str | os.PathLike[str],
    *,
    batch_rows: int = 500_000,
    fmt: str | None = None,
    on_error: OnError = "fail",
    quarantine_dir: Path | None = None,
    s3_endpoint_url: str | None = None,
    columns: list[str] | None = None,
    report: ReadReport | None = None,
    progress: bool = False,
) -> Iterator[pd.DataFrame]:
    """Stream valid canonical batches of at most about ``batch_rows`` rows (bounded memory).

    Pass a :class:`ReadReport` as ``report`` to receive counts as the stream is consumed.
    """
    opts = ReadOptions(fmt, on_error, quarantine_dir, s3_endpoint_url, batch_rows, progress)
    for batch in read_batches(
        os.fspath(source), opts, report if report is not None else ReadReport()
    ):
        yield _select(batch, columns)


def read_flows_report(
    source: str | os.PathLike[str],
    *,
    fmt: str | None = None,
    on_error: OnError = "fail",
    quarantine_dir: Path | None = None,
    s3_endpoint_url: str | None = None,
    columns: list[str] | None = None,
    progress: bool = False,
) -> tuple[pd.DataFrame, ReadReport]:
    """Read every flow of ``source`` into one canonical frame, with a :class:`ReadReport`.

    ``on_error="fail"`` raises a :class:`~nids.errors.DataError` naming file, line and
    field at the first bad line; ``"quarantine"`` writes bad rows with their reasons to
    ``<quarantine_dir>/<file-stem>.quarantine.jsonl`` (default: settings) and reads on.
    """
    report = ReadReport()
    batches = list(
        iter_flow_batches(
            source,
            fmt=fmt,
            on_error=on_error,
            quarantine_dir=quarantine_dir,
            s3_endpoint_url=s3_endpoint_url,
            report=report,
            progress=progress,
        )
    )
    frame = batches[0] if len(batches) == 1 else pd.concat(batches, ignore_index=True)
    return _select(frame.astype(DTYPES)[COLUMNS], columns), report


def read_flows(
    source: str | os.PathLike[str],
    *,
    fmt: str | None = None,
    on_error: OnError = "fail",
    quarantine_dir: Path | None = None,
    s3_endpoint_url: str | None = None,
    columns: list[str] | None = None,
) -> pd.DataFrame:
    """Read ``source`` (file, directory, glob or ``s3://`` URL) as a canonical flow frame."""
    frame, _report = read_flows_report(
        source,
        fmt=fmt,
        on_error=on_error,
        quarantine_dir=quarantine_dir,
        s3_endpoint_url=s3_endpoint_url,
        columns=columns,
    )
    return frame


def validate_source(
    source: str | os.PathLike[str],
    *,
    fmt: str | None = None,
    s3_endpoint_url: str | None = None,
    progress: bool = False,
) -> ReadReport:
    """Read all of ``source`` and count every invalid line/row (nothing is written)."""
    report = ReadReport()
    opts = ReadOptions(fmt, "collect", None, s3_endpoint_url, 500_000, progress)
    for _batch in read_batches(os.fspath(source), opts, report):
        pass
    return report
