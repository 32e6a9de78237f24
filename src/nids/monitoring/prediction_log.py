"""The prediction log: a sampled record of scored flows, hourly-partitioned parquet.

Layout: ``<root>/date=YYYY-MM-DD/hour=HH/part-<uuid>.parquet`` on local disk or an
``s3://`` prefix (via fsspec). The service hands each scored batch to
:meth:`PredictionLogWriter.submit`, which samples rows and queues them without
blocking; a background thread buffers and writes them. Every failure (full queue,
full disk, unwritable path, size cap) becomes a counted drop, never an exception
in the request path.

Durability: a file becomes visible only complete (local: written as a dot-prefixed
temporary name, then renamed; S3: an object appears whole on close). A record is
"flushed" once its file is visible; a restart keeps every flushed record exactly
once, and a crash loses only what was still buffered.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import queue
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from nids.data.schema import INPUT_COLUMNS, table_to_frame
from nids.errors import DataError, EmptyDataError

log = logging.getLogger(__name__)

PART_GLOB = "date=*/hour=*/part-*.parquet"
_STOP = object()
# The writer thread wakes at most this often for submitted batches (seconds).
_GATHER_S = 0.05


def _fs(root: str, storage_options: dict[str, Any] | None = None) -> tuple[Any, str]:
    import fsspec

    fs, path = fsspec.core.url_to_fs(root, **(storage_options or {}))
    return fs, str(path).rstrip("/")


def build_log_frame(
    flows: pd.DataFrame,
    predictions: pd.DataFrame,
    *,
    model_name: str,
    model_version: str,
    variant: str = "default",
    features: np.ndarray | None = None,
    feature_names: Sequence[str] | None = None,
    scored_at: datetime | None = None,
) -> pd.DataFrame:
    """Rows for the log: the input flow columns, score, alert flag, model, variant, time.

    ``predictions`` is the Scorer's ``predict_frame`` output for ``flows`` (same row
    order). Engineered ``features`` (online values from the service's host state)
    are stored as ``feature:<name>`` columns, so drift checks see what the model saw.
    """
    out = flows[[c for c in INPUT_COLUMNS if c in flows.columns]].reset_index(drop=True)
    out["score"] = np.asarray(predictions["score"], dtype=float)
    out["is_alert"] = np.asarray(predictions["is_alert"], dtype=bool)
    out["model_name"] = model_name
    out["model_version"] = str(model_version)
    out["variant"] = variant
    out["scored_at"] = pd.Timestamp(scored_at or datetime.now(UTC))
    if features is not None and feature_names is not None:
        out = with_features(out, features, feature_names)
    return out


FEATURE_PREFIX = "feature:"


def feature_columns(feature_names: Sequence[str]) -> list[str]:
    """Log column names of engineered features (``feature:<name>``, as in the profile)."""
    return [f"{FEATURE_PREFIX}{n}" for n in feature_names]


def with_features(
    frame: pd.DataFrame, features: np.ndarray, feature_names: Sequence[str]
) -> pd.DataFrame:
    """``frame`` plus one ``feature:<name>`` column per engineered feature (same rows)."""
    x = np.asarray(features, dtype=float)
    if x.ndim != 2 or x.shape != (len(frame), len(feature_names)):
        raise DataError(
            f"feature matrix of shape {x.shape} for {len(frame)} rows and "
            f"{len(feature_names)} feature names"
        )
    feats = pd.DataFrame(x, columns=feature_columns(feature_names), index=frame.index)
    return pd.concat([frame, feats], axis=1)


class PredictionLogWriter:
    """Non-blocking, sampled, size-bounded writer of the prediction log.

    ``stats`` counts rows: ``submitted`` (offered), ``sampled`` (kept by sampling),
    ``written`` (in visible files), ``dropped`` (lost to a full queue, a write error
    or the size cap) and ``files``/``bytes`` written.
    """

    def __init__(
        self,
        root: str,
        *,
        sample_rate: float,
        max_bytes: int,
        seed: int | None = None,
        queue_size: int = 256,
        flush_rows: int = 50_000,
        flush_interval_s: float = 60.0,
        storage_options: dict[str, Any] | None = None,
    ) -> None:
        if not 0 <= sample_rate <= 1:
            raise DataError(f"sample_rate must be in [0, 1], got {sample_rate}")
        self.root = root
        self.sample_rate = sample_rate
        self.max_bytes = max_bytes
        self.flush_rows = flush_rows
        self.flush_interval_s = flush_interval_s
        self._storage_options = storage_options
        self._rng = np.random.default_rng(seed)
        self._rng_lock = threading.Lock()
        self._stats_lock = threading.Lock()
        self._stats = {"submitted": 0, "sampled": 0, "written": 0, "dropped": 0, "files": 0}
        self._stats["bytes"] = 0
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=queue_size)
        self._thread: threading.Thread | None = None
        self._closed = False
        self._start_lock = threading.Lock()
        # Known part files (path, size), oldest first: the size cap evicts from the front.
        self._files: list[tuple[str, int]] | None = None

    # --- request path ---------------------------------------------------------------
    def submit(
        self,
        frame: pd.DataFrame | LogRows,
        *,
        features: np.ndarray | None = None,
        feature_names: Sequence[str] | None = None,
    ) -> None:
        """Sample ``frame``'s rows and queue them for writing; never blocks or raises.

        ``frame`` is a log frame (:func:`build_log_frame`) or a :class:`LogRows` that
        builds the rows on demand. Only the sampling draw happens here; selecting
        (or building) the rows, adding the
        engineered ``features`` of the sampled rows as ``feature:<name>`` columns and
        ``sample_rate``/``scored_at`` is the writer thread's job, so a request pays
        microseconds. The caller must not modify ``frame`` or ``features`` afterwards.
        """
        try:
            n = len(frame)
            self._count("submitted", n)
            if n == 0 or self.sample_rate == 0 or self._closed:
                return
            with self._rng_lock:
                rows = np.flatnonzero(self._rng.random(n) < self.sample_rate)
            if rows.size == 0:
                return
            self._count("sampled", int(rows.size))
            self._ensure_thread()
            try:
                batch = _Batch(frame, rows, self.sample_rate, _now(), features, feature_names)
                self._queue.put_nowait(batch)
            except queue.Full:
                self._count("dropped", int(rows.size))
        except Exception:  # the request path must never fail because of the log
            log.exception("prediction log: submit failed")
            with contextlib.suppress(Exception):
                self._count("dropped", len(frame))

    @property
    def stats(self) -> dict[str, int]:
        """Row and file counters (a copy)."""
        with self._stats_lock:
            return dict(self._stats)

    def flush(self, timeout: float = 30.0) -> None:
        """Write everything queued so far and wait for it (off the request path)."""
        if self._thread is None or not self._thread.is_alive():
            return
        done = threading.Event()
        try:
            self._queue.put(done, timeout=timeout)
        except queue.Full:
            return
        done.wait(timeout)

    def close(self, timeout: float = 30.0) -> None:
        """Flush and stop the writer thread (idempotent); call on service shutdown."""
        if self._closed:
            return
        self._closed = True
        if self._thread is not None and self._thread.is_alive():
            with contextlib.suppress(queue.Full):
                self._queue.put(_STOP, timeout=timeout)
            self._thread.join(timeout)
            if self._thread.is_alive():  # say so: a daemon thread dies with the process
                stats = self.stats
                log.warning(
                    "prediction log: still writing %ss after close; up to %d sampled rows "
                    "not yet written (%d dropped so far)",
                    timeout,
                    stats["sampled"] - stats["written"] - stats["dropped"],
                    stats["dropped"],
                )

    def __enter__(self) -> PredictionLogWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- writer thread --------------------------------------------------------------
    def _count(self, key: str, n: int) -> None:
        with self._stats_lock:
            self._stats[key] += n

    def _ensure_thread(self) -> None:
        if self._thread is not None:
            return
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="prediction-log", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        buffer: list[pd.DataFrame | _Sampled] = []
        rows = 0
        last = time.monotonic()
        pending: list[Any] = []
        while True:
            if not pending:
                try:
                    pending.append(self._queue.get(timeout=max(self.flush_interval_s / 4, 0.05)))
                except queue.Empty:
                    pending.append(None)
                if isinstance(pending[0], _Batch):
                    self._gather()
                pending += self._drain()
            item = pending.pop(0)
            if isinstance(item, _Batch):
                try:
                    part = item.rows_part()
                except Exception as exc:  # garbage submitted: a counted drop
                    log.warning("prediction log: unusable batch: %s", exc)
                    self._count("dropped", int(item.rows.size))
                else:
                    buffer.append(part)
                    rows += len(part)
            due = time.monotonic() - last >= self.flush_interval_s
            if item is _STOP or isinstance(item, threading.Event) or rows >= self.flush_rows or due:
                if buffer:
                    self._write_buffer(buffer, rows)
                buffer, rows, last = [], 0, time.monotonic()
            if isinstance(item, threading.Event):
                item.set()
            if item is _STOP:
                return

    def _gather(self) -> None:
        """Let the next batches queue up: one wake-up (and one GIL hand-over from the
        request thread) per gathering period, not per request; a queue filling up
        (a burst of requests) ends the wait early, so nothing is dropped for it."""
        deadline = time.monotonic() + _GATHER_S
        limit = max(self._queue.maxsize // 4, 1) if self._queue.maxsize else 1024
        while time.monotonic() < deadline and self._queue.qsize() < limit:
            time.sleep(_GATHER_S / 10)

    def _drain(self) -> list[Any]:
        """Everything queued right now (at most one queue's worth)."""
        items: list[Any] = []
        with contextlib.suppress(queue.Empty):
            while len(items) < (self._queue.maxsize or 4096):
                items.append(self._queue.get_nowait())
        return items

    def _write_buffer(self, buffer: list[pd.DataFrame | _Sampled], rows: int) -> None:
        try:
            frame = _log_frame(buffer)
        except Exception as exc:  # parts that do not combine: counted drops, never raise
            log.warning("prediction log: cannot combine %d buffered rows: %s", rows, exc)
            self._count("dropped", rows)
            return
        self._write(frame)

    def _write(self, frame: pd.DataFrame) -> None:
        try:
            fs, base = _fs(self.root, self._storage_options)
            if self._files is None:
                self._files = _existing_parts(fs, base)
            hours = pd.to_datetime(frame["scored_at"], utc=True).dt.floor("h")
        except Exception as exc:
            log.warning("prediction log: cannot write under %s: %s", self.root, exc)
            self._count("dropped", len(frame))
            return
        for hour in sorted(hours.unique()):
            part = frame.loc[(hours == hour).to_numpy()].reset_index(drop=True)
            self._write_part(fs, base, pd.Timestamp(hour), part)

    def _write_part(self, fs: Any, base: str, hour: pd.Timestamp, part: pd.DataFrame) -> None:
        assert self._files is not None
        buf = io.BytesIO()
        try:
            pq.write_table(frame_to_table(part), buf)
        except Exception as exc:  # e.g. a column of mixed types: drop, never raise
            log.warning("prediction log: cannot encode %d rows: %s", len(part), exc)
            self._count("dropped", len(part))
            return
        data = buf.getvalue()
        if not self._make_room(fs, len(data)):
            self._count("dropped", len(part))
            return
        folder = f"{base}/date={hour:%Y-%m-%d}/hour={hour:%H}"
        name = f"part-{uuid.uuid4().hex}.parquet"
        try:
            fs.makedirs(folder, exist_ok=True)
            if _is_local(fs):
                tmp = f"{folder}/.{name}.tmp"
                with fs.open(tmp, "wb") as fh:
                    fh.write(data)
                fs.mv(tmp, f"{folder}/{name}")  # atomic rename on one filesystem
            else:
                with fs.open(f"{folder}/{name}", "wb") as fh:  # S3 objects appear whole
                    fh.write(data)
        except Exception as exc:  # full disk, permissions, network: a counted drop
            log.warning("prediction log: write of %d rows failed: %s", len(part), exc)
            with contextlib.suppress(Exception):
                fs.rm(f"{folder}/.{name}.tmp")
            self._count("dropped", len(part))
            return
        self._files.append((f"{folder}/{name}", len(data)))
        self._count("written", len(part))
        self._count("files", 1)
        self._count("bytes", len(data))

    def _make_room(self, fs: Any, size: int) -> bool:
        """Evict the oldest part files until ``size`` more bytes fit under the cap."""
        assert self._files is not None
        if size > self.max_bytes:
            return False
        total = sum(s for _, s in self._files)
        while self._files and total + size > self.max_bytes:
            path, old = self._files.pop(0)
            with contextlib.suppress(Exception):
                fs.rm(path)
            total -= old
        return True


def frame_to_table(frame: pd.DataFrame) -> pa.Table:
    """``frame`` as the Arrow table ``DataFrame.to_parquet`` writes (pandas metadata
    included), safe to call from a background thread.

    pandas silences a deprecation that pyarrow's conversion of time-zone-aware columns
    raises by swapping the process-wide warning filters (``catch_warnings``) around it.
    Those filters are not per thread: another thread swapping them at the same moment
    (a client serialising parquet, a test runner between phases) can undo the
    silencing, and under warnings-as-errors a whole flush was lost to it. Here the
    zone-aware columns are converted as naive UTC and given back their zone afterwards,
    in the Arrow type and in the pandas metadata, so no warning arises at all.
    """
    zoned = {
        str(c): dtype.tz
        for c, dtype in frame.dtypes.items()
        if isinstance(dtype, pd.DatetimeTZDtype)
    }
    if not zoned:
        return pa.Table.from_pandas(frame, preserve_index=False, nthreads=1)
    naive = frame.assign(**{c: frame[c].dt.tz_convert(None) for c in zoned})
    table = pa.Table.from_pandas(naive, preserve_index=False, nthreads=1)
    meta = json.loads(table.schema.metadata[b"pandas"])
    for column in meta["columns"]:
        if column["name"] in zoned:
            column["pandas_type"] = "datetimetz"
            column["metadata"] = {"timezone": str(zoned[column["name"]])}
    for name, tz in zoned.items():
        i = table.schema.get_field_index(name)
        kind = pa.timestamp(table.schema.field(i).type.unit, tz=str(tz))
        table = table.set_column(i, pa.field(name, kind), table.column(i).cast(kind))
    return table.replace_schema_metadata({**table.schema.metadata, b"pandas": json.dumps(meta)})


def _now() -> pd.Timestamp:
    return pd.Timestamp.now(tz=UTC)


class LogRows(Protocol):
    """Log rows built off the request path, in two steps.

    ``take(rows)`` selects the sampled rows (cheap, still unbuilt: the writer thread
    does it per submitted batch); ``combine(parts)`` builds one Arrow table of many
    selections at flush time, with the columns :func:`build_log_frame` gives
    (``scored_at`` included). One build per flush instead of one per request keeps the
    writer's work, and its interference with the request thread, small.
    """

    def __len__(self) -> int: ...

    def take(self, rows: np.ndarray) -> LogRows: ...

    def combine(self, parts: Sequence[Any]) -> pa.Table: ...


@dataclass
class _Batch:
    """A submitted frame and the rows sampled from it (selected off the request path)."""

    frame: pd.DataFrame | LogRows
    rows: np.ndarray
    sample_rate: float
    submitted_at: pd.Timestamp
    features: np.ndarray | None = None
    feature_names: Sequence[str] | None = None

    def rows_part(self) -> pd.DataFrame | _Sampled:
        """The sampled rows (with their features) and the rate they stand for, the time."""
        whole = self.rows.size == len(self.frame)
        x = None
        if self.features is not None and self.feature_names is not None:
            x = np.asarray(self.features, dtype=float)
            if x.ndim != 2 or x.shape != (len(self.frame), len(self.feature_names)):
                raise DataError(f"feature matrix of shape {x.shape} for {len(self.frame)} flows")
            x = x if whole else x[self.rows]
        if not isinstance(self.frame, pd.DataFrame):
            names = tuple(self.feature_names) if x is not None and self.feature_names else None
            return _Sampled(self.frame.take(self.rows), x, names, self.sample_rate)
        part = self.frame if whole else self.frame.take(self.rows)
        if x is not None and self.feature_names is not None:
            part = with_features(part, x, self.feature_names)
        part = part.assign(sample_rate=self.sample_rate)  # to scale counts back up
        if "scored_at" not in part.columns:
            part["scored_at"] = self.submitted_at
        return part


@dataclass
class _Sampled:
    """Sampled rows of a :class:`LogRows` batch, built with others at flush time."""

    rows: LogRows
    features: np.ndarray | None
    feature_names: tuple[str, ...] | None
    sample_rate: float

    def __len__(self) -> int:
        return len(self.rows)

    def joins(self, other: _Sampled) -> bool:
        """Whether ``other`` can be built in the same table."""
        return type(other.rows) is type(self.rows) and other.feature_names == self.feature_names


def _combined(run: list[_Sampled]) -> pd.DataFrame:
    """The log frame of compatible sampled parts: one table build, one conversion."""
    table = run[0].rows.combine([s.rows for s in run])
    names, arrays = list(table.column_names), list(table.columns)
    first = run[0]
    if first.feature_names is not None:
        x = np.vstack([s.features for s in run if s.features is not None])
        names += feature_columns(first.feature_names)
        arrays += [pa.array(column) for column in np.ascontiguousarray(x.T)]
    names.append("sample_rate")  # to scale counts back up
    arrays.append(pa.array(np.repeat([s.sample_rate for s in run], [len(s) for s in run])))
    return table_to_frame(pa.Table.from_arrays(arrays, names=names))


def _log_frame(parts: list[pd.DataFrame | _Sampled]) -> pd.DataFrame:
    """One frame of buffered parts; runs of compatible sampled parts are built together."""
    frames: list[pd.DataFrame] = []
    run: list[_Sampled] = []
    for part in [*parts, None]:
        if isinstance(part, _Sampled) and (not run or run[0].joins(part)):
            run.append(part)
            continue
        if run:
            frames.append(_combined(run))
            run = []
        if isinstance(part, _Sampled):
            run.append(part)
        elif part is not None:
            frames.append(part)
    return pd.concat(frames, ignore_index=True)


def _is_local(fs: Any) -> bool:
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    return protocol in {"file", "local"}


def _existing_parts(fs: Any, base: str) -> list[tuple[str, int]]:
    try:
        paths = sorted(fs.glob(f"{base}/{PART_GLOB}"))
        found = [(p, int(fs.size(p))) for p in paths]
    except (OSError, FileNotFoundError):
        return []
    return sorted(found, key=lambda item: _partition_key(item[0]))


def _partition_key(path: str) -> str:
    parts = [p for p in path.split("/") if p.startswith(("date=", "hour="))]
    return "/".join(parts)


def list_parts(
    source: str, *, since: datetime | None = None, storage_options: dict[str, Any] | None = None
) -> list[str]:
    """Part files under a log root or matching a glob (optionally from ``since``'s hour)."""
    fs, base = _fs(source, storage_options)
    if any(ch in source for ch in "*?["):
        paths = [p for p in fs.glob(base) if p.endswith(".parquet")]
        if any(fs.isdir(p) for p in fs.glob(base)):
            paths += [p for d in fs.glob(base) if fs.isdir(d) for p in fs.glob(f"{d}/**/*.parquet")]
    elif fs.isdir(base):
        paths = fs.glob(f"{base}/{PART_GLOB}") or fs.glob(f"{base}/**/part-*.parquet")
    else:
        paths = [base] if fs.exists(base) else []
    paths = sorted({p for p in paths if not p.rsplit("/", 1)[-1].startswith(".")})
    if since is not None:
        floor = f"date={since:%Y-%m-%d}/hour={since:%H}"
        paths = [p for p in paths if not _partition_key(p) or _partition_key(p) >= floor]
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    return [p if _is_local(fs) else f"{protocol}://{p}" for p in paths]


def read_prediction_log(
    source: str,
    *,
    since: datetime | None = None,
    storage_options: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """Read prediction-log records from a root, a partition directory or a glob."""
    paths = list_parts(source, since=since, storage_options=storage_options)
    if not paths:
        raise EmptyDataError("no prediction-log files found", source=source)
    frames = []
    for path in paths:
        try:
            frames.append(pd.read_parquet(path, storage_options=_opts(path, storage_options)))
        except Exception as exc:
            raise DataError(f"unreadable prediction-log file: {exc}", source=path) from exc
    frame = pd.concat(frames, ignore_index=True)
    if since is not None and "scored_at" in frame.columns:
        frame = frame[pd.to_datetime(frame["scored_at"], utc=True) >= pd.Timestamp(since)]
    return frame.reset_index(drop=True)


def _opts(path: str, storage_options: dict[str, Any] | None) -> dict[str, Any] | None:
    return storage_options if "://" in path else None


def read_latest_window(
    root: str, hours: float, *, now: datetime | None = None, **kwargs: Any
) -> pd.DataFrame:
    """Records scored in the last ``hours`` hours (the window a monitoring cycle checks)."""
    since = (now or datetime.now(UTC)) - timedelta(hours=hours)
    frame = read_prediction_log(root, since=since, **kwargs)
    if frame.empty:
        raise EmptyDataError(f"no prediction-log records in the last {hours:g} h", source=root)
    return frame
