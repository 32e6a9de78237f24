"""Shadow variants: score copies of live flows off the request path, never alert.

The request thread only offers the batch to a bounded queue (``put_nowait``); a
daemon thread scores it when no request is in flight (so the GIL it needs is not
taken from a request), logs the predictions under the shadow's variant name and
counts them. A full queue drops the batch, counted per shadow variant.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

log = logging.getLogger("nids.abtest")
_STOP = object()


@dataclass
class ShadowTarget:
    """One shadow variant: its name, share of flows scored and model holder."""

    name: str
    sample: float
    holder: Any  # nids.serving.holder.ModelHolder


class ShadowScorer:
    """Bounded queue + worker thread scoring shadow variants."""

    def __init__(
        self,
        experiment: str,
        targets: list[ShadowTarget],
        *,
        service_metrics: Any,
        ab_metrics: Any,
        scoring_context: Any,
        is_busy: Callable[[], bool],
        queue_size: int = 64,
        seed: int | None = None,
    ) -> None:
        self.experiment = experiment
        self.targets = targets
        self.metrics = service_metrics
        self.ab = ab_metrics
        self.ctx = scoring_context  # nids.serving.scoring.ScoringContext (its prediction log)
        self.is_busy = is_busy
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=queue_size)
        self._rng = np.random.default_rng(seed)
        self._thread: threading.Thread | None = None
        self.stats = {"scored": 0, "dropped": 0}

    def start(self) -> None:
        """Start the worker (idempotent)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="nids-ab-shadow", daemon=True)
            self._thread.start()

    def submit(self, flows: pd.DataFrame) -> None:
        """Offer a scored request's flows; never blocks or raises."""
        try:
            self._queue.put_nowait(flows)
        except queue.Full:
            for target in self.targets:
                self._count(target.name, "dropped", len(flows))

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until everything queued so far is scored (True) or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self._queue.unfinished_tasks

    def close(self, timeout: float = 10.0) -> None:
        """Stop the worker (queued batches not yet scored are dropped, counted)."""
        if self._thread is None:
            return
        while True:  # make room for the stop marker without blocking
            try:
                self._queue.put_nowait(_STOP)
                break
            except queue.Full:
                try:
                    item = self._queue.get_nowait()
                    self._queue.task_done()
                    for target in self.targets:
                        self._count(target.name, "dropped", len(item))
                except queue.Empty:
                    pass
        self._thread.join(timeout)
        self._thread = None

    def _count(self, variant: str, outcome: str, n: int) -> None:
        self.stats[outcome] += n
        self.ab.shadow.labels(self.experiment, variant, outcome).inc(n)

    def _run(self) -> None:
        while True:
            items = [self._queue.get()]
            while self.is_busy():  # requests first: the shadow takes idle time only
                time.sleep(0.0005)
            # Coalesce what queued up meanwhile: one scoring call instead of many small ones.
            while len(items) < 64 and items[-1] is not _STOP:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            frames = [i for i in items if i is not _STOP]
            try:
                if frames:
                    batch = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
                    for target in self.targets:
                        self._score(target, batch)
            finally:
                for _ in items:
                    self._queue.task_done()
            if len(frames) < len(items):
                return

    def _score(self, target: ShadowTarget, flows: pd.DataFrame) -> None:
        served = target.holder.current
        if served is None:
            self._count(target.name, "dropped", len(flows))
            return
        if target.sample < 1:
            keep = self._rng.random(len(flows)) < target.sample
            flows = flows.loc[keep]
            if flows.empty:
                return
        try:
            start = time.perf_counter()
            with served.lock:
                pred = served.scorer.predict_frame(flows, state=served.context, explain="none")
            elapsed = time.perf_counter() - start
        except Exception:  # a broken shadow must not take the worker down
            log.exception("shadow variant %s failed to score", target.name)
            self._count(target.name, "dropped", len(flows))
            return
        version = served.ref.version
        self.metrics.flows_scored.labels(version, target.name).inc(len(flows))
        self.ab.latency.labels(self.experiment, target.name).observe(elapsed)
        self._count(target.name, "scored", len(flows))
        if self.ctx is not None and self.ctx.prediction_log is not None:
            from nids.serving.scoring import log_predictions

            log_predictions(flows, pred, served, self.ctx, target.name, elapsed)
