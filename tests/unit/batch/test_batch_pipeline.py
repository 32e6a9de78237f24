"""Reader prefetch and background writes: order kept, errors surface, threads end."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from batch_fixtures import fitted_scorer, model_tag, write_archive

from nids.batch import local
from nids.batch.options import BatchOptions
from nids.batch.pipeline import BackgroundSink, prefetched


def _threads() -> set[str]:
    return {t.name for t in threading.enumerate()}


def test_prefetched_keeps_order_and_reads_one_ahead() -> None:
    produced: list[int] = []

    def items() -> Iterator[int]:
        for i in range(5):
            produced.append(i)
            yield i

    stream = prefetched(items())
    assert next(stream) == 0
    time.sleep(0.2)
    # Bounded: one item handed over, one in the queue, one blocked in put, never more.
    assert 1 <= len(produced) <= 3
    assert list(stream) == [1, 2, 3, 4]
    assert "nids-batch-reader" not in _threads()


def test_prefetched_reraises_the_producer_error_in_the_consumer() -> None:
    def items() -> Iterator[int]:
        yield 1
        raise ValueError("corrupt file, line 7")

    stream = prefetched(items())
    assert next(stream) == 1
    with pytest.raises(ValueError, match="line 7"):
        next(stream)


def test_closing_a_prefetch_stops_its_thread() -> None:
    def forever() -> Iterator[int]:
        i = 0
        while True:
            yield i
            i += 1

    stream = prefetched(forever())
    assert next(stream) == 0
    stream.close()
    assert "nids-batch-reader" not in _threads()


def test_background_sink_writes_in_order_and_surfaces_errors() -> None:
    written: list[int] = []

    def write(item: int) -> None:
        if item == 3:
            raise OSError("disk full")
        written.append(item)

    sink = BackgroundSink(write)
    for i in range(3):
        sink.submit(i)
    sink.drain()
    assert written == [0, 1, 2]
    sink.submit(3)
    with pytest.raises(OSError, match="disk full"):
        sink.drain()
    sink.close()


def test_a_failed_write_fails_the_run_and_publishes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scorer, flows = fitted_scorer()
    source = write_archive(flows, tmp_path / "in", parts=3)
    calls: list[Any] = []
    real_write = local.PartitionedWriter.write

    def failing(self: Any, table: Any) -> None:
        calls.append(table.num_rows)
        if len(calls) == 2:
            raise OSError("disk full")
        real_write(self, table)

    monkeypatch.setattr(local.PartitionedWriter, "write", failing)
    with pytest.raises(OSError, match="disk full"):
        local.score_local(
            scorer, model_tag(scorer), source, str(tmp_path / "out"), BatchOptions(500)
        )
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name != "in"] == []
