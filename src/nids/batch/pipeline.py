"""Overlap reading and writing with scoring: the local engine's use of a second core.

Reading (parquet decode, validation) and writing (parquet encode) are mostly native
code that releases the GIL, as are the numba feature and forest kernels, so one reader
thread and one writer thread run beside the scoring thread. At most one batch waits in
each hand-off, so memory stays bounded (about three reader batches in flight).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

T = TypeVar("T")

_END = object()


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def prefetched(items: Iterator[T]) -> Generator[T, None, None]:
    """``items`` produced one ahead in a background thread; its exceptions re-raised here."""
    hand: queue.Queue[object] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def put(value: object) -> bool:
        while not stop.is_set():
            try:
                hand.put(value, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(_END)
        except BaseException as exc:  # handed to the consumer
            put(_Failure(exc))

    thread = threading.Thread(target=produce, name="nids-batch-reader", daemon=True)
    thread.start()
    try:
        while True:
            value = hand.get()
            if value is _END:
                return
            if isinstance(value, _Failure):
                raise value.exc
            yield value  # type: ignore[misc]
    finally:
        stop.set()
        thread.join()


class BackgroundSink(Generic[T]):
    """Calls ``write(item)`` in one background thread, at most one call pending."""

    def __init__(self, write: Callable[[T], None]) -> None:
        self._write = write
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="nids-batch-writer")
        self._pending: Future[None] | None = None

    def submit(self, item: T) -> None:
        """Queue ``item`` after waiting for the previous write (its error raises here)."""
        self.drain()
        self._pending = self._pool.submit(self._write, item)

    def drain(self) -> None:
        """Wait for the pending write; re-raise its error."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def close(self) -> None:
        """Wait for the pending write (errors ignored: the caller is already failing or done)."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.exception()
        self._pool.shutdown(wait=True)
