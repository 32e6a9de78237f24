"""Write canonical flows as parquet (local or ``s3://``) and convert any input to it."""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from nids.data.readers.sources import filesystem, is_s3
from nids.data.schema import COLUMNS, FLOW_SCHEMA
from nids.data.validation import DTYPES, OnError, validate_flows
from nids.errors import EmptyDataError, SchemaError


def to_table(df: pd.DataFrame) -> pa.Table:
    """A canonical frame as an Arrow table with exactly ``FLOW_SCHEMA``."""
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise SchemaError(f"missing column(s) {', '.join(missing)}", field=missing[0])
    try:
        table = pa.table(
            [_arrow_column(df[f.name], f.type) for f in FLOW_SCHEMA], schema=FLOW_SCHEMA
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, AttributeError) as exc:
        raise SchemaError(
            f"flows do not match the canonical schema: {exc}",
            hint="pass them through nids.data.validate_flows first",
        ) from exc
    for name in COLUMNS:
        if not FLOW_SCHEMA.field(name).nullable and table.column(name).null_count:
            raise SchemaError("null values in a required column", field=name)
    return table


def _arrow_column(series: pd.Series, type_: pa.DataType) -> pa.Array:
    if pa.types.is_timestamp(type_):
        # Via UTC numpy values: pyarrow's pandas path trips a pandas 3.1 deprecation.
        values = series.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[us]")
        return pa.array(values, type=type_)
    return pa.array(series, type=type_, from_pandas=True)


@contextlib.contextmanager
def _atomic_output(path: str, s3_endpoint_url: str | None) -> Iterator[IO[bytes]]:
    """A binary handle whose content appears at ``path`` only if the block succeeds.

    Writes go to a local temporary file first; it is renamed into place (local) or
    uploaded in one piece (S3) at the end, so a failure publishes nothing.
    """
    s3 = is_s3(path)
    if s3:
        tmp = Path(tempfile.mkstemp(prefix="nids-", suffix=".parquet.tmp")[1])
    else:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with tmp.open("wb") as fh:
            yield fh
        if s3:
            filesystem(path, s3_endpoint_url).put_file(str(tmp), path.split("://", 1)[1])
        else:
            tmp.replace(path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_flows(
    df: pd.DataFrame, path: str | os.PathLike[str], *, s3_endpoint_url: str | None = None
) -> None:
    """Write flows to a parquet file (local or ``s3://``) with ``FLOW_SCHEMA``, atomically.

    A frame that is not already canonical (columns, dtypes) is validated first, which
    fills optional columns and Community IDs and raises on invalid rows.
    """
    if list(df.columns) != COLUMNS or any(str(df[c].dtype) != DTYPES[c] for c in COLUMNS):
        df = validate_flows(df, source=os.fspath(path))
    table = to_table(df)
    with _atomic_output(os.fspath(path), s3_endpoint_url) as fh:
        pq.write_table(table, fh, compression="zstd")


def ingest(
    source: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    fmt: str | None = None,
    on_error: OnError = "fail",
    quarantine_dir: Path | None = None,
    s3_endpoint_url: str | None = None,
    progress: bool = False,
) -> Any:
    """Convert any supported input to one canonical parquet file, streaming.

    Returns the :class:`~nids.data.readers.ReadReport`. On failure nothing is left at
    ``out``.
    """
    from nids.data.readers import ReadReport, iter_flow_batches

    report = ReadReport()
    batches = iter_flow_batches(
        source,
        fmt=fmt,
        on_error=on_error,
        quarantine_dir=quarantine_dir,
        s3_endpoint_url=s3_endpoint_url,
        report=report,
        progress=progress,
    )
    written = 0
    with _atomic_output(os.fspath(out), s3_endpoint_url) as fh:
        with pq.ParquetWriter(fh, FLOW_SCHEMA, compression="zstd") as writer:
            for batch in batches:
                writer.write_table(to_table(batch))
                written += len(batch)
        if written == 0:  # every row was quarantined: do not publish an empty file
            raise EmptyDataError("no valid flows to write", source=os.fspath(source))
    return report
