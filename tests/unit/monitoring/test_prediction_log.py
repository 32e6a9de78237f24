"""Prediction log: sampling, partitions, atomic files, restarts, drops, size cap."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from nids.errors import EmptyDataError
from nids.monitoring.prediction_log import (
    PredictionLogWriter,
    build_log_frame,
    frame_to_table,
    list_parts,
    read_latest_window,
    read_prediction_log,
)


def scored(n: int, start: int = 0, at: str | None = None) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "community_id": [f"1:{i}" for i in range(start, start + n)],
            "src_bytes": np.arange(start, start + n, dtype=np.int64),
            "score": np.linspace(0, 1, n),
            "is_alert": np.arange(n) % 10 == 0,
        }
    )
    if at is not None:
        frame["scored_at"] = pd.Timestamp(at)
    return frame


def test_sampled_rows_land_in_hourly_partitions(tmp_path: Path) -> None:
    root = tmp_path / "log"
    with PredictionLogWriter(str(root), sample_rate=0.25, max_bytes=10**8, seed=1) as writer:
        writer.submit(scored(4000, at="2026-01-01T10:59:00Z"))
        writer.submit(scored(4000, start=4000, at="2026-01-01T11:05:00Z"))
    stats = writer.stats
    assert stats["submitted"] == 8000
    assert 1800 < stats["sampled"] < 2200  # 25 % of 8000
    assert stats["written"] == stats["sampled"] and stats["dropped"] == 0
    parts = list_parts(str(root))
    assert {Path(p).parent.name for p in parts} == {"hour=10", "hour=11"}
    assert all(Path(p).parent.parent.name == "date=2026-01-01" for p in parts)
    frame = read_prediction_log(str(root))
    assert len(frame) == stats["written"]
    assert frame["community_id"].is_unique
    assert (frame["sample_rate"] == 0.25).all()


def test_restart_mid_hour_keeps_flushed_records_once(tmp_path: Path) -> None:
    root = str(tmp_path / "log")
    first = PredictionLogWriter(root, sample_rate=1.0, max_bytes=10**8)
    first.submit(scored(300, at="2026-01-01T10:10:00Z"))
    first.flush()
    # A crash mid-write leaves a temporary file: it must never be read as data.
    hour_dir = Path(list_parts(root)[0]).parent
    (hour_dir / ".part-dead.parquet.tmp").write_bytes(b"PAR1 truncated")
    first.close()
    second = PredictionLogWriter(root, sample_rate=1.0, max_bytes=10**8)
    second.submit(scored(200, start=300, at="2026-01-01T10:40:00Z"))
    second.close()
    frame = read_prediction_log(root)
    assert sorted(frame["src_bytes"]) == list(range(500))
    assert len(list_parts(root)) == 2


def test_unwritable_path_degrades_to_counted_drops(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    writer = PredictionLogWriter(str(blocker / "log"), sample_rate=1.0, max_bytes=10**8)
    writer.submit(scored(50))
    writer.flush()
    writer.submit(scored(70))
    writer.close()
    assert writer.stats["dropped"] == 120 and writer.stats["written"] == 0


def test_full_disk_degrades_to_counted_drops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fsspec.implementations.local import LocalFileSystem

    real_open = LocalFileSystem.open

    def full_disk(self: LocalFileSystem, path: str, mode: str = "rb", **kw: object) -> object:
        if "w" in mode:
            raise OSError(28, "No space left on device")
        return real_open(self, path, mode, **kw)

    monkeypatch.setattr(LocalFileSystem, "open", full_disk)
    root = tmp_path / "log"
    writer = PredictionLogWriter(str(root), sample_rate=1.0, max_bytes=10**8)
    writer.submit(scored(40))
    writer.close()
    assert writer.stats["dropped"] == 40 and writer.stats["written"] == 0
    assert not [p for p in root.rglob("*") if p.is_file()]  # nothing half-written


def test_full_queue_drops_instead_of_blocking(tmp_path: Path) -> None:
    writer = PredictionLogWriter(
        str(tmp_path / "log"), sample_rate=1.0, max_bytes=10**8, queue_size=1
    )
    writer._ensure_thread = lambda: None  # type: ignore[method-assign]  # no consumer
    writer.submit(scored(5))
    writer.submit(scored(7))
    assert writer.stats["dropped"] == 7
    writer.submit(None)  # type: ignore[arg-type]  # garbage in: still no exception
    assert writer.stats["dropped"] == 7


def test_close_that_times_out_says_what_is_unwritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    writer = PredictionLogWriter(str(tmp_path / "log"), sample_rate=1.0, max_bytes=10**8)
    release = threading.Event()
    write = writer._write
    monkeypatch.setattr(writer, "_write", lambda frame: (release.wait(30), write(frame)))
    writer.submit(scored(40))
    with caplog.at_level("WARNING", logger="nids.monitoring.prediction_log"):
        writer.close(timeout=0.3)  # the writer is stuck in a slow write
    assert "still writing 0.3s after close; up to 40 sampled rows not yet written" in caplog.text
    release.set()
    assert writer._thread is not None
    writer._thread.join(10)
    assert writer.stats["written"] == 40  # the write finished after all


def test_frames_encode_as_to_parquet_does_without_touching_warning_filters(
    tmp_path: Path,
) -> None:
    frame = scored(300, at="2026-01-01T10:10:00Z")
    frame["local"] = pd.Timestamp("2026-01-01T05:10:00", tz="America/New_York")
    frame["naive"] = pd.Timestamp("2026-01-01T10:10:00")
    frame["tcp_flags"] = pd.array([2, None] * 150, dtype="Int16")
    # pyarrow's conversion of zone-aware columns warns; pandas hides that by swapping
    # the process-wide filters, which another thread can undo (a flush was lost to it).
    with pytest.warns(DeprecationWarning, match="drops timezone"):
        pa.Table.from_pandas(frame)
    table = frame_to_table(frame)  # warnings are errors here: none may arise
    pq.write_table(table, tmp_path / "ours.parquet")
    frame.to_parquet(tmp_path / "pandas.parquet", index=False)
    ours, theirs = (pq.read_schema(tmp_path / f) for f in ("ours.parquet", "pandas.parquet"))
    assert ours.equals(theirs, check_metadata=True)
    back = pd.read_parquet(tmp_path / "ours.parquet")
    pd.testing.assert_frame_equal(back, pd.read_parquet(tmp_path / "pandas.parquet"))
    pd.testing.assert_frame_equal(back, frame)


def test_size_cap_evicts_oldest_parts(tmp_path: Path) -> None:
    root = str(tmp_path / "log")
    writer = PredictionLogWriter(root, sample_rate=1.0, max_bytes=12_000)
    for hour in range(6):
        writer.submit(scored(100, start=hour * 100, at=f"2026-01-01T{hour:02d}:30:00Z"))
        writer.flush()
    writer.close()
    parts = list_parts(root)
    total = sum(Path(p).stat().st_size for p in parts)
    assert total <= 12_000
    assert 0 < len(parts) < 6
    assert Path(parts[-1]).parent.name == "hour=05"  # the newest survives


def test_latest_window_and_empty_log(tmp_path: Path) -> None:
    root = str(tmp_path / "log")
    now = datetime(2026, 1, 2, 12, tzinfo=UTC)
    with PredictionLogWriter(root, sample_rate=1.0, max_bytes=10**8) as writer:
        writer.submit(scored(10, at=(now - timedelta(hours=30)).isoformat()))
        writer.submit(scored(20, start=10, at=(now - timedelta(hours=2)).isoformat()))
    assert len(read_latest_window(root, 24, now=now)) == 20
    with pytest.raises(EmptyDataError):
        read_latest_window(root, 1, now=now)
    with pytest.raises(EmptyDataError):
        read_prediction_log(str(tmp_path / "nothing"))


def test_build_log_frame() -> None:
    flows = pd.DataFrame({"src_ip": ["10.0.0.1", "10.0.0.2"], "label": ["benign", "benign"]})
    predictions = pd.DataFrame({"score": [0.1, 0.9], "is_alert": [False, True]})
    frame = build_log_frame(
        flows,
        predictions,
        model_name="nids-isoforest",
        model_version="4",
        variant="b",
        features=np.array([[1.0, 2.0], [3.0, 4.0]]),
        feature_names=["a", "b"],
    )
    assert list(frame.columns) == [
        "src_ip",
        "score",
        "is_alert",
        "model_name",
        "model_version",
        "variant",
        "scored_at",
        "feature:a",
        "feature:b",
    ]
    assert frame["is_alert"].tolist() == [False, True]
    assert frame["feature:b"].tolist() == [2.0, 4.0]


def test_submitted_features_are_logged_for_the_sampled_rows(tmp_path: Path) -> None:
    root = str(tmp_path / "log")
    frame = scored(2000, at="2026-01-01T10:00:00Z")
    x = np.column_stack([np.arange(2000) * 2.0, np.arange(2000) * -1.0])
    with PredictionLogWriter(root, sample_rate=0.3, max_bytes=10**8, seed=3) as writer:
        writer.submit(frame, features=x, feature_names=["double", "negated"])
        # a matrix that does not match its frame is a counted drop, not an exception
        writer.submit(scored(10, at="2026-01-01T10:00:00Z"), features=x, feature_names=["a"])
    logged = read_prediction_log(root)
    assert writer.stats["written"] == len(logged) and 450 < len(logged) < 750
    assert writer.stats["dropped"] == writer.stats["sampled"] - writer.stats["written"] > 0
    row = logged["src_bytes"].to_numpy()  # the flow's position in the batch
    np.testing.assert_array_equal(logged["feature:double"], row * 2.0)
    np.testing.assert_array_equal(logged["feature:negated"], row * -1.0)
