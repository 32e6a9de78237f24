"""Where alert lines go: stdout, an append-only rotating file, or an HTTP webhook.

The request path only enqueues (bounded, never blocks); one background thread writes.
A full queue or a webhook that keeps failing drops alerts, and every drop is counted
(``stats`` and the Prometheus counters), never silent.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nids.settings import Settings

log = logging.getLogger("nids.serving.alerts")

#: Rotated files kept next to the live one (alerts.jsonl.1 ... .N).
ROTATE_KEEP = 5


class StdoutSink:
    """Alert lines on stdout (Kubernetes log shipping)."""

    def write(self, lines: list[bytes]) -> None:
        """Write and flush a batch of JSON lines."""
        out = sys.stdout.buffer if hasattr(sys.stdout, "buffer") else None
        if out is not None:
            out.write(b"".join(lines))
            out.flush()
        else:  # a replaced stdout (tests, notebooks) without a byte buffer
            sys.stdout.write(b"".join(lines).decode())
            sys.stdout.flush()

    def close(self) -> None:
        """Nothing to release."""


class FileSink:
    """Append-only JSON lines file, rotated (``.1`` ... ``.5``) beyond ``max_bytes``."""

    def __init__(self, path: Path, max_bytes: int) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self._fh: Any = None

    def _open(self) -> Any:
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = self.path.open("ab")
        return self._fh

    def write(self, lines: list[bytes]) -> None:
        """Append a batch, rotating first when it would exceed the size cap."""
        data = b"".join(lines)
        fh = self._open()
        if fh.tell() and fh.tell() + len(data) > self.max_bytes:
            self._rotate()
            fh = self._open()
        fh.write(data)
        fh.flush()

    def _rotate(self) -> None:
        self.close()
        for i in range(ROTATE_KEEP - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{i}")
            if older.exists():
                older.replace(self.path.with_name(f"{self.path.name}.{i + 1}"))
        self.path.replace(self.path.with_name(f"{self.path.name}.1"))

    def close(self) -> None:
        """Close the file."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None


class WebhookSink:
    """POST batches of alerts as an ``application/x-ndjson`` body, with retries."""

    def __init__(self, url: str, *, retries: int = 3, backoff_s: float = 0.2) -> None:
        import httpx

        self.url = url
        self.retries = retries
        self.backoff_s = backoff_s
        self._client = httpx.Client(timeout=5.0)

    def write(self, lines: list[bytes]) -> None:
        """Deliver a batch; raises after the last failed attempt."""
        import httpx

        body = b"".join(lines)
        for attempt in range(self.retries + 1):
            try:
                response = self._client.post(
                    self.url, content=body, headers={"content-type": "application/x-ndjson"}
                )
                if response.status_code < 500 and response.status_code != 429:
                    response.raise_for_status()
                    return
                error: Exception = RuntimeError(f"webhook answered {response.status_code}")
            except httpx.HTTPStatusError:
                raise  # a 4xx will not get better by retrying
            except httpx.HTTPError as exc:
                error = exc
            if attempt < self.retries:
                time.sleep(self.backoff_s * 2**attempt)
        raise error

    def close(self) -> None:
        """Close the HTTP client."""
        self._client.close()


Sink = StdoutSink | FileSink | WebhookSink


def build_sink(settings: Settings) -> Sink | None:
    """The sink the settings ask for (None for ``alert_sink=none``)."""
    from nids.errors import ConfigError

    if settings.alert_sink == "none":
        return None
    if settings.alert_sink == "stdout":
        return StdoutSink()
    if settings.alert_sink == "file":
        return FileSink(settings.alert_file, settings.alert_file_max_bytes)
    if not settings.alert_webhook_url:
        raise ConfigError("alert_sink=webhook needs NIDS_ALERT_WEBHOOK_URL")
    return WebhookSink(settings.alert_webhook_url)


class AlertDispatcher:
    """Bounded queue in front of a sink, drained by one daemon thread."""

    def __init__(
        self,
        sink: Sink,
        *,
        queue_size: int,
        on_sent: Callable[[int], None] | None = None,
        on_dropped: Callable[[int], None] | None = None,
    ) -> None:
        self.sink = sink
        self._queue: queue.Queue[list[bytes] | None] = queue.Queue(maxsize=queue_size)
        self._on_sent = on_sent or (lambda n: None)
        self._on_dropped = on_dropped or (lambda n: None)
        self.stats = {"sent": 0, "dropped": 0}
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="nids-alert-sink", daemon=True)
        self._thread.start()

    def submit(self, lines: list[bytes]) -> None:
        """Queue alert lines; never blocks (a full queue drops and counts them)."""
        if not lines:
            return
        try:
            self._queue.put_nowait(lines)
        except queue.Full:
            self._count("dropped", len(lines))

    def _count(self, key: str, n: int) -> None:
        with self._lock:
            self.stats[key] += n
        (self._on_sent if key == "sent" else self._on_dropped)(n)

    def _run(self) -> None:
        while True:
            batch = self._queue.get()
            taken = 1
            try:
                if batch is None:
                    return
                # Coalesce what is already waiting into one write / one POST.
                stop = False
                while len(batch) < 1000:
                    try:
                        more = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    taken += 1
                    if more is None:
                        stop = True
                        break
                    batch = batch + more
                self._deliver(batch)
                if stop:
                    return
            finally:
                for _ in range(taken):
                    self._queue.task_done()

    def _deliver(self, batch: list[bytes]) -> None:
        try:
            self.sink.write(batch)
            self._count("sent", len(batch))
        except Exception as exc:  # a sink failure must not kill the writer
            log.warning("alert sink failed, %d alert(s) dropped: %s", len(batch), exc)
            self._count("dropped", len(batch))

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until queued alerts are written (or ``timeout`` passes)."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)

    def close(self, timeout: float = 10.0) -> None:
        """Drain the queue, stop the thread and close the sink."""
        self.flush(timeout)
        with contextlib.suppress(queue.Full):
            self._queue.put(None, timeout=1.0)
        self._thread.join(timeout)
        self.sink.close()
