"""The shadow process: parse, score and log shadow variants at the lowest CPU priority.

Started by :class:`nids.abtest.shadow.ShadowScorer` with the ``spawn`` context, so it
shares neither the GIL nor a core with the service unless the machine has one to
spare (``os.nice(19)``). It loads each shadow model through the service's own
loader and verification (:class:`nids.serving.holder.ModelHolder`, whose poller
keeps an alias-named shadow hot-reloaded), parses the request bodies the service
handed over with the service's parser, scores them with the same Scorer, writes
the prediction log under the shadow's variant name and never alerts. After every
coalesced group of batches it sends its counters back on the report queue.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import time
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("nids.abtest")
MAX_COALESCE = 64  # batches scored in one call: fewer, larger Scorer calls
REPORT_EVERY_S = 0.25  # counters go back when idle this long, or this often while busy


@dataclass
class WorkerSpec:
    """Everything the child needs; picklable (the loader and probe must be too)."""

    experiment: str
    targets: list[tuple[str, float, Any]]  # (variant, sample, Settings naming its model_uri)
    loader: Any
    probe: Any
    prediction_log: dict[str, Any] | None = None  # PredictionLogWriter kwargs incl. root
    seed: int | None = None
    max_flows: int = 1_000_000
    nice: int = 19
    threads: int = 1  # numba threads of the compiled forest in the shadow process


@dataclass
class _Counts:
    scored: int = 0
    dropped: int = 0
    failed: int = 0
    latency: list[float] = field(default_factory=list)

    def take(self, version: str | None, error: str | None) -> dict[str, Any]:
        out = {
            "scored": self.scored,
            "dropped": self.dropped,
            "failed": self.failed,
            "latency": self.latency,
            "version": version,
            "error": error,
        }
        self.scored = self.dropped = self.failed = 0
        self.latency = []
        return out


def run(spec: WorkerSpec, inbox: Any, reports: Any) -> None:
    """The child's main: serve ``inbox`` until its ``None`` stop marker.

    ``reports`` is the write end of a pipe (``Connection``): counters since the last
    report, sent when the inbox has been idle ``REPORT_EVERY_S`` or that often while busy.
    """
    parent = os.getppid()
    with contextlib.suppress(OSError):
        os.nice(spec.nice)
    with contextlib.suppress(Exception):  # one core at most: the other stays the service's
        import numba

        numba.set_num_threads(spec.threads)
    import numpy as np

    from nids.serving.holder import ModelHolder
    from nids.serving.metrics import ServiceMetrics

    metrics = ServiceMetrics.create()
    holders = {
        name: ModelHolder(settings, metrics, loader=spec.loader, probe=spec.probe)
        for name, _, settings in spec.targets
    }
    for holder in holders.values():
        holder.load("initial")
        holder.start_polling()  # alias-named shadows follow the registry, as the service does
    writer: Any = None
    log_ctx: Any = None
    if spec.prediction_log is not None:
        from nids.monitoring.prediction_log import PredictionLogWriter
        from nids.serving.alerts import AllowList
        from nids.serving.scoring import ScoringContext

        writer = PredictionLogWriter(**spec.prediction_log)
        log_ctx = ScoringContext(metrics, AllowList(), None, "ecs", prediction_log=writer)
    rng = np.random.default_rng(spec.seed)
    counts = {name: _Counts() for name in holders}
    reports.send(_report(holders, counts, handled=0))  # loaded (or not): versions known
    handled, last_report = 0, time.monotonic()
    try:
        while True:
            try:
                items = [inbox.get(timeout=REPORT_EVERY_S)]
            except queue.Empty:  # idle: report what is pending, check on the service
                if handled:
                    reports.send(_report(holders, counts, handled=handled))
                    handled, last_report = 0, time.monotonic()
                if os.getppid() != parent:  # the service died without stopping us
                    return
                continue
            while len(items) < MAX_COALESCE and items[-1] is not None:
                try:
                    items.append(inbox.get_nowait())
                except queue.Empty:
                    break
            batches = [i for i in items if i is not None]
            if batches:
                _score(spec, batches, holders, counts, log_ctx, rng)
                handled += sum(n for _, _, n in batches)
            stopping = len(batches) < len(items)
            # Busy: at most one report per REPORT_EVERY_S (each costs the service a wake-up).
            if handled and (stopping or time.monotonic() - last_report >= REPORT_EVERY_S):
                reports.send(_report(holders, counts, handled=handled))
                handled, last_report = 0, time.monotonic()
            if stopping:
                return
    finally:
        if writer is not None:
            writer.close()
        for holder in holders.values():
            holder.stop()


def _report(holders: dict[str, Any], counts: dict[str, _Counts], *, handled: int) -> dict[str, Any]:
    variants = {}
    for name, holder in holders.items():
        served = holder.current
        version = served.ref.version if served is not None else None
        variants[name] = counts[name].take(version, holder.last_error)
    return {"handled": handled, "variants": variants}


def _score(
    spec: WorkerSpec,
    batches: list[tuple[bytes, str | None, int]],
    holders: dict[str, Any],
    counts: dict[str, _Counts],
    log_ctx: Any,
    rng: Any,
) -> None:
    import pandas as pd

    from nids.errors import NidsError
    from nids.serving.parsing import parse_body

    frames = []
    for body, content_type, n in batches:
        try:
            frames.append(parse_body(body, content_type, max_flows=spec.max_flows))
        except NidsError as exc:  # the service accepted it, so this is a bug: count, go on
            log.error("shadow could not parse a batch: %s", exc)
            for c in counts.values():
                c.failed += n
    if not frames:
        return
    flows = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    for name, sample, _ in spec.targets:
        _score_one(name, sample, flows, holders[name], counts[name], log_ctx, rng)


def _score_one(
    name: str,
    sample: float,
    flows: Any,
    holder: Any,
    counts: _Counts,
    log_ctx: Any,
    rng: Any,
) -> None:
    served = holder.current
    if served is None:  # not loaded (yet): nothing to score with
        counts.dropped += len(flows)
        return
    if sample < 1:
        flows = flows.loc[rng.random(len(flows)) < sample].reset_index(drop=True)
        if flows.empty:
            return
    try:
        start = time.perf_counter()
        pred = served.scorer.predict(flows, state=served.context, explain="none")
        elapsed = time.perf_counter() - start
    except Exception:  # a broken shadow model must not take the process down
        log.exception("shadow variant %s failed to score", name)
        counts.failed += len(flows)
        return
    counts.scored += len(flows)
    counts.latency.append(elapsed)
    if log_ctx is not None:  # the service's own logging path, under the shadow's name
        from nids.serving.scoring import log_predictions

        verdicts = {"score": pred.scores, "is_alert": pred.is_alert}
        log_predictions(flows, verdicts, served, log_ctx, name, elapsed, pred.features)
