"""The in-service half of an experiment: route each flow to its variant, guard, shadow.

``ExperimentRouter.score`` replaces the single-model scoring of ``POST /v1/score``
when ``settings.ab_config`` names an experiment: every flow is assigned by its key
(sticky, see :mod:`nids.abtest.assign`), each variant scores its share with
:func:`nids.serving.scoring.score_results` (so alerts, metrics and prediction-log
rows carry the variant), and results are merged back in request order. A candidate
that fails is never seen by the client: its flows are re-scored by the control, and
the guardrails cut it off once its rolling window breaks a rule.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from nids.abtest.assign import assign
from nids.abtest.config import ExperimentConfig
from nids.abtest.guardrails import Breach, GuardrailWindow
from nids.abtest.metrics import ABMetrics
from nids.abtest.shadow import ShadowScorer, ShadowTarget
from nids.errors import ServiceUnavailableError
from nids.serving.batch import FlowBatch

log = logging.getLogger("nids.abtest")
ARROW_STREAM = "application/vnd.apache.arrow.stream"


@dataclass
class VariantRuntime:
    """A routed or shadow variant in the running service."""

    name: str
    holder: Any  # nids.serving.holder.ModelHolder
    guard: GuardrailWindow | None = None
    cut: Breach | None = None
    cut_at: datetime | None = None
    flows: int = 0
    errors: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class ExperimentRouter:
    """Routes flows between an experiment's variants inside one service process."""

    def __init__(
        self,
        config: ExperimentConfig,
        holders: Mapping[str, Any],
        *,
        metrics: Any,
        shadow: ShadowScorer | None = None,
    ) -> None:
        self.config = config
        self.metrics = metrics
        self.ab = ABMetrics.create(metrics.registry)
        self.control = config.control.name
        self.variants = {  # routed only: shadows live in the shadow process
            v.name: VariantRuntime(
                v.name,
                holders[v.name],
                guard=None if v.name == self.control else GuardrailWindow(config.guardrails),
            )
            for v in config.routed
        }
        self.weights = config.weights()
        self.events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.shadow = shadow
        for v in config.routed:
            self.ab.routed.labels(config.name, v.name).set(1)

    # --- lifecycle --------------------------------------------------------------------
    def start(self) -> None:
        """Load every routed variant's model (control first), start hot reload and shadows."""
        started = set()
        for name in [self.control, *(n for n in self.variants if n != self.control)]:
            holder = self.variants[name].holder
            if id(holder) in started:
                continue
            started.add(id(holder))
            if holder.current is None:
                holder.load("initial")
            holder.start_polling()
        if self.shadow is not None:
            self.shadow.start()

    def stop(self) -> None:
        """Stop shadows and reload pollers."""
        if self.shadow is not None:
            self.shadow.close()
        for runtime in self.variants.values():
            runtime.holder.stop()

    # --- routing ----------------------------------------------------------------------
    def keys(
        self, flows: FlowBatch | pd.DataFrame, headers: Mapping[str, str] | None
    ) -> np.ndarray:
        """The assignment key of every flow (object array, ``None`` where missing)."""
        batch = _batch(flows)
        key = self.config.assign_by
        if key.startswith("header:"):
            value = (headers or {}).get(key.removeprefix("header:"))
            if value is not None:
                return np.full(len(batch), value, dtype=object)
            key = "src_ip"  # no header: fall back to the source host
        column = batch.columns.get(key)
        if column is None:  # an absent optional column is all nulls in the frame too
            return np.full(len(batch), None, dtype=object)
        return column.astype(object, copy=False)

    def assign(
        self, flows: FlowBatch | pd.DataFrame, headers: Mapping[str, str] | None = None
    ) -> np.ndarray:
        """Each flow's variant, after guardrail cut-offs (their hosts go to the control)."""
        names = assign(self.keys(flows, headers), self.weights, self.config.name)
        for name, runtime in self.variants.items():
            if name != self.control and (runtime.cut is not None or runtime.holder.current is None):
                names[names == name] = self.control
        return names

    def score(
        self,
        flows: FlowBatch | pd.DataFrame,
        ctx: Any,
        *,
        headers: Mapping[str, str] | None = None,
        explain: str = "alerts",
        body: bytes | None = None,
        content_type: str | None = None,
    ) -> bytes:
        """Score a request's flows across variants; the JSON response body.

        ``flows``: the parsed :class:`FlowBatch` (a canonical frame is converted to
        one). ``body``/``content_type``: the request as received, handed to the shadows
        as is (without them the flows are serialised to Arrow IPC for the shadows).
        """
        from nids.serving.scoring import response_body, score_results

        control = self.variants[self.control].holder.current
        if control is None:
            raise ServiceUnavailableError("no verified control model loaded yet")
        batch = _batch(flows)
        names = self.assign(batch, headers)
        results: list[Any] = [None] * len(batch)
        n_alerts = 0
        counts: dict[str, int] = {}
        for name in dict.fromkeys(names.tolist()):
            rows = np.flatnonzero(names == name)
            part = batch.take(rows) if rows.size < len(batch) else batch
            got, alerts, used = self._score_variant(name, part, ctx, explain, score_results)
            for row, result in zip(rows, got, strict=True):
                results[row] = result
            n_alerts += alerts
            counts[used] = counts.get(used, 0) + int(rows.size)
        if self.shadow is not None:
            if body is None:
                body, content_type = arrow_body(batch), ARROW_STREAM
            self.shadow.submit(body, content_type, len(batch))
        experiment = {"name": self.config.name, "variants": counts}
        return response_body(control.ref, results, n_alerts, experiment=experiment)

    def _score_variant(
        self, name: str, part: FlowBatch, ctx: Any, explain: str, score_results: Any
    ) -> tuple[list[Any], int, str]:
        runtime = self.variants[name]
        served = runtime.holder.current
        if name == self.control:
            start = time.perf_counter()
            got, alerts = score_results(part, served, ctx, explain=explain, variant=name)
            self.ab.latency.labels(self.config.name, name).observe(time.perf_counter() - start)
            return got, alerts, name
        start = time.perf_counter()
        try:
            got, alerts = score_results(part, served, ctx, explain=explain, variant=name)
        except Exception as exc:  # the client never sees a candidate's failure
            elapsed = time.perf_counter() - start
            runtime.errors += 1
            self.ab.errors.labels(self.config.name, name).inc()
            log.warning("variant %s failed (%s); control re-scores its flows", name, exc)
            self._guard(runtime, failed=True, seconds=elapsed, flows=len(part), alerts=0)
            return self._score_variant(self.control, part, ctx, explain, score_results)
        elapsed = time.perf_counter() - start
        runtime.flows += len(part)
        self.ab.latency.labels(self.config.name, name).observe(elapsed)
        self._guard(runtime, failed=False, seconds=elapsed, flows=len(part), alerts=alerts)
        return got, alerts, name

    def _guard(self, runtime: VariantRuntime, **outcome: Any) -> None:
        if runtime.guard is None or runtime.cut is not None:
            return
        breach = runtime.guard.record(**outcome)
        if breach is not None:
            self.cut_off(runtime.name, breach)

    def cut_off(self, name: str, breach: Breach) -> None:
        """Stop routing to ``name`` (its hosts go to the control) and record why."""
        runtime = self.variants[name]
        with self._lock:
            if runtime.cut is not None:
                return
            runtime.cut, runtime.cut_at = breach, datetime.now(UTC)
        event = {
            "time": runtime.cut_at.isoformat(),
            "experiment": self.config.name,
            "variant": name,
            "rule": breach.rule,
            "detail": breach.detail,
            "action": "cut_off",
        }
        self.events.append(event)
        self.ab.routed.labels(self.config.name, name).set(0)
        self.ab.cutoffs.labels(self.config.name, name, breach.rule).inc()
        log.error("A/B %s: variant %s cut off: %s", self.config.name, name, breach.detail)

    def status(self) -> dict[str, Any]:
        """What ``GET /v1/experiment`` answers: variants, weights, state, events."""
        variants = []
        for v in self.config.variants:
            if v.shadow:
                variants.append(self._shadow_status(v))
                continue
            runtime = self.variants[v.name]
            served = runtime.holder.current
            variants.append(
                {
                    "name": v.name,
                    "role": "control" if v.name == self.control else "candidate",
                    "model_uri": v.model_uri,
                    "model_version": served.ref.version if served is not None else None,
                    "weight": self.weights.get(v.name, 0.0),
                    "routed": runtime.cut is None and served is not None,
                    "cut_off": None
                    if runtime.cut is None
                    else {"rule": runtime.cut.rule, "detail": runtime.cut.detail},
                    "errors": runtime.errors,
                }
            )
        shadow = self.shadow.snapshot() if self.shadow is not None else None
        return {
            "name": self.config.name,
            "assign_by": self.config.assign_by,
            "variants": variants,
            "shadow": shadow,
            "events": list(self.events),
        }

    def _shadow_status(self, v: Any) -> dict[str, Any]:
        shadow = self.shadow
        return {
            "name": v.name,
            "role": "shadow",
            "model_uri": v.model_uri,
            "model_version": shadow.versions.get(v.name) if shadow is not None else None,
            "weight": 0.0,
            "routed": False,
            "cut_off": None,
            "errors": 0,
            "load_error": shadow.errors.get(v.name) if shadow is not None else None,
        }


def _batch(flows: FlowBatch | pd.DataFrame) -> FlowBatch:
    return flows if isinstance(flows, FlowBatch) else FlowBatch.from_frame(flows)


def arrow_body(flows: FlowBatch) -> bytes:
    """``flows`` as an Arrow IPC stream (for callers without the request body)."""
    import pyarrow as pa

    # Straight from the columns: no pandas on the request path.
    table = flows.table()
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue())


def build_router(
    config: ExperimentConfig,
    settings: Any,
    main_holder: Any,
    *,
    metrics: Any,
    loader: Any,
    probe: Any,
) -> ExperimentRouter:
    """A router whose variants share ``main_holder`` where the URI is the service's own."""
    from nids.serving.holder import ModelHolder

    holders: dict[str, Any] = {}
    by_uri: dict[str, Any] = {settings.model_uri: main_holder}
    for v in config.routed:
        if v.model_uri not in by_uri:
            by_uri[v.model_uri] = ModelHolder(
                settings.model_copy(update={"model_uri": v.model_uri}),
                metrics,
                loader=loader,
                probe=probe,
            )
        holders[v.name] = by_uri[v.model_uri]
    router = ExperimentRouter(config, holders, metrics=metrics)
    if config.shadows:
        router.shadow = ShadowScorer(
            config.name,
            [
                ShadowTarget(v.name, v.sample, _shadow_settings(settings, v.model_uri))
                for v in config.shadows
            ],
            service_metrics=metrics,
            ab_metrics=router.ab,
            loader=loader,
            probe=probe,
            prediction_log=_prediction_log_args(settings),
            max_flows=settings.max_flows_per_request,
            seed=settings.seed,
        )
    return router


def _shadow_settings(settings: Any, uri: str) -> Any:
    """A shadow's model settings; no drift monitor (its gauges would not be exported)."""
    return settings.model_copy(update={"model_uri": uri, "drift_monitor_interval_s": 0})


def _prediction_log_args(settings: Any) -> dict[str, Any] | None:
    """The shadow process's own prediction-log writer: same root, sampling and cap."""
    if not settings.prediction_log_dir:
        return None
    return {
        "root": settings.prediction_log_dir,
        "sample_rate": settings.prediction_log_sample_rate,
        "max_bytes": settings.prediction_log_max_bytes,
        "seed": None if settings.seed is None else settings.seed + 1,
    }
