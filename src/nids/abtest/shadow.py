"""Shadow variants: score copies of live flows in another process, never alert.

The request path only hands the request body it already holds (bytes plus content
type) to a bounded ``multiprocessing`` queue with ``put_nowait``: microseconds, no
parsing or serialising in the service. A full queue drops the batch, counted. The
queue's feeder thread pickles a ``bytes`` object (one copy) and writes it to a pipe
with the GIL released. Everything else, parsing, scoring, the prediction log, runs
in the shadow process (:mod:`nids.abtest.shadow_worker`, spawned, ``nice 19``),
which reports its counters back on a pipe; a monitor thread, blocked on that pipe
with the GIL released, applies them to the service's Prometheus registry and,
when the pipe closes, restarts the process (counted, with backoff).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from nids.abtest.shadow_worker import WorkerSpec
from nids.errors import ConfigError

log = logging.getLogger("nids.abtest")
OUTCOMES = ("scored", "dropped", "failed")


@dataclass
class ShadowTarget:
    """One shadow variant: its name, share of flows scored and model settings."""

    name: str
    sample: float
    settings: Any  # nids.settings.Settings with the variant's model_uri


@dataclass
class _Generation:
    """One shadow process with its queues and how many flows it was given/handled."""

    process: Any
    inbox: Any
    reports: Any
    submitted: int = 0
    handled: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class ShadowScorer:
    """Bounded hand-off to the shadow process, its counters, its restarts."""

    def __init__(
        self,
        experiment: str,
        targets: list[ShadowTarget],
        *,
        service_metrics: Any,
        ab_metrics: Any,
        loader: Any,
        probe: Any,
        prediction_log: dict[str, Any] | None = None,
        max_flows: int = 1_000_000,
        queue_size: int = 64,
        seed: int | None = None,
    ) -> None:
        self.experiment = experiment
        self.targets = targets
        self.metrics = service_metrics
        self.ab = ab_metrics
        self.queue_size = queue_size
        self.spec = WorkerSpec(
            experiment,
            [(t.name, t.sample, t.settings) for t in targets],
            loader,
            probe,
            prediction_log=prediction_log,
            seed=seed,
            max_flows=max_flows,
        )
        self.stats = dict.fromkeys(OUTCOMES, 0)
        self.restarts = 0
        self.versions: dict[str, str | None] = {t.name: None for t in targets}
        self.errors: dict[str, str | None] = {t.name: None for t in targets}
        self._gen: _Generation | None = None
        self._closing = threading.Event()
        self._monitor: threading.Thread | None = None
        self._stats_lock = threading.Lock()

    # --- lifecycle (service start/stop) -----------------------------------------------
    def start(self) -> None:
        """Spawn the shadow process and its monitor (idempotent)."""
        if self._monitor is not None:
            return
        self._gen = self._spawn()
        self._monitor = threading.Thread(target=self._watch, name="nids-ab-shadow", daemon=True)
        self._monitor.start()

    def close(self, timeout: float = 10.0) -> None:
        """Stop the process: it scores what is queued until ``timeout``, the rest is dropped."""
        self._closing.set()
        gen = self._gen
        if gen is not None:
            with contextlib.suppress(queue.Full, ValueError, OSError):
                gen.inbox.put(None, timeout=timeout)  # stop marker after what is queued
        if self._monitor is not None:
            self._monitor.join(timeout)
            if self._monitor.is_alive() and self._gen is not None:
                self._gen.process.terminate()  # stuck: its end of the pipe closes, we wake
                self._monitor.join(10)
            self._monitor = None

    # --- request path -----------------------------------------------------------------
    def submit(self, body: bytes, content_type: str | None, n_flows: int) -> None:
        """Offer a scored request's body; never blocks or raises."""
        gen = self._gen
        if gen is None or self._closing.is_set():
            self._count_all("dropped", n_flows)
            return
        try:
            gen.inbox.put_nowait((body, content_type, n_flows))
        except (queue.Full, ValueError, OSError):  # full, or closed by a restart
            self._count_all("dropped", n_flows)
            return
        with gen.lock:
            gen.submitted += n_flows

    # --- observation ------------------------------------------------------------------
    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every batch handed over so far is handled (True) or ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            gen = self._gen
            if gen is None or gen.handled >= gen.submitted:
                return True
            time.sleep(0.02)
        return False

    def wait_ready(self, timeout: float = 120.0) -> bool:
        """Wait until the process has loaded every shadow model (True) or ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(v is not None for v in self.versions.values()):
                return True
            time.sleep(0.05)
        return False

    def snapshot(self) -> dict[str, Any]:
        """Counters for ``GET /v1/experiment``."""
        with self._stats_lock:
            out: dict[str, Any] = dict(self.stats)
        gen = self._gen
        out["queued_flows"] = 0 if gen is None else max(0, gen.submitted - gen.handled)
        out["restarts"] = self.restarts
        out["alive"] = bool(gen is not None and gen.process.is_alive())
        return out

    # --- internals --------------------------------------------------------------------
    def _spawn(self) -> _Generation:
        import multiprocessing

        from nids.abtest import shadow_worker

        if multiprocessing.current_process().daemon:
            raise ConfigError(
                "shadow variants need their own process, and a daemonic process cannot start "
                "one: run the service in a non-daemonic process or drop the shadow variants"
            )
        ctx = multiprocessing.get_context("spawn")  # a fresh interpreter: own GIL, no forked locks
        inbox = ctx.Queue(maxsize=self.queue_size)
        reports, writer = ctx.Pipe(duplex=False)
        process = ctx.Process(
            target=shadow_worker.run,
            args=(self.spec, inbox, writer),
            name=f"nids-shadow-{self.experiment}",
            daemon=True,
        )
        process.start()
        writer.close()  # the child holds the only write end: its exit is our EOF
        return _Generation(process, inbox, reports)

    def _watch(self) -> None:
        """Apply the child's reports; when it is gone, account for it and restart it."""
        backoff = 1.0
        gen = self._gen
        assert gen is not None
        while True:
            self._read(gen)  # blocks (GIL released) until the process exits
            gen.process.join(5)
            self._lost(gen)
            gen.inbox.cancel_join_thread()  # never hang on an unread pipe
            gen.inbox.close()  # a late submit to it fails fast (counted as dropped)
            gen.reports.close()
            if self._closing.is_set():
                return
            self.restarts += 1
            self.ab.shadow_restarts.labels(self.experiment).inc()
            log.error(
                "shadow process of %s exited (code %s); restarting in %.0f s",
                self.experiment,
                gen.process.exitcode,
                backoff,
            )
            if self._closing.wait(backoff):
                return
            backoff = min(backoff * 2, 60.0)
            gen = self._gen = self._spawn()

    def _read(self, gen: _Generation) -> None:
        """Apply reports until the child's end of the pipe closes."""
        while True:
            try:
                report = gen.reports.recv()
            except (EOFError, OSError):
                return
            except Exception:  # a report cut short by a dying process
                log.warning("shadow report unreadable", exc_info=True)
                return
            self._apply(report)
            with gen.lock:
                gen.handled += report["handled"]

    def _apply(self, report: dict[str, Any]) -> None:
        for name, got in report["variants"].items():
            version = got["version"]
            self.versions[name], self.errors[name] = version, got["error"]
            for outcome in OUTCOMES:
                if got[outcome]:
                    self._count(name, outcome, got[outcome])
            if got["scored"]:
                self.metrics.flows_scored.labels(version, name).inc(got["scored"])
            hist = self.ab.latency.labels(self.experiment, name)
            for seconds in got["latency"]:
                hist.observe(seconds)

    def _lost(self, gen: _Generation) -> None:
        """Flows a dead or stopped process never reported on: dropped."""
        with gen.lock:
            lost = gen.submitted - gen.handled
            gen.handled = gen.submitted
        if lost > 0:
            self._count_all("dropped", lost)

    def _count_all(self, outcome: str, n: int) -> None:
        for target in self.targets:
            self._count(target.name, outcome, n)

    def _count(self, variant: str, outcome: str, n: int) -> None:
        with self._stats_lock:
            self.stats[outcome] += n
        self.ab.shadow.labels(self.experiment, variant, outcome).inc(n)
