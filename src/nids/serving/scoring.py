"""One scoring request: Scorer verdicts, alerts out to the sink, metrics, prediction log."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa

from nids.data.schema import FLOW_SCHEMA, INPUT_COLUMNS
from nids.model.scorer import Prediction
from nids.serving.alerts import FORMATTERS, Alert, AllowList, ModelRef, dumps
from nids.serving.batch import FlowBatch
from nids.serving.holder import ServedModel
from nids.serving.metrics import ServiceMetrics
from nids.serving.sinks import AlertDispatcher

log = logging.getLogger("nids.serving")
VARIANT = "default"


@dataclass
class ScoringContext:
    """What a request needs besides the model: outputs and counters."""

    metrics: ServiceMetrics
    allowlist: AllowList
    dispatcher: AlertDispatcher | None
    alert_format: str
    prediction_log: Any = None  # nids.monitoring.prediction_log.PredictionLogWriter


def score_request(
    flows: FlowBatch | pd.DataFrame,
    served: ServedModel,
    ctx: ScoringContext,
    *,
    explain: str = "alerts",
    variant: str = VARIANT,
) -> bytes:
    """Score validated flows with ``served`` and return the JSON response body."""
    results, n_alerts = score_results(flows, served, ctx, explain=explain, variant=variant)
    return response_body(served.ref, results, n_alerts)


def response_body(
    ref: ModelRef, results: list[dict[str, Any]], n_alerts: int, **extra: Any
) -> bytes:
    """The JSON body of a scoring answer (``extra``: more top-level keys)."""
    body = {
        "model": {"name": ref.name, "version": ref.version, "semver": ref.semver},
        "n_flows": len(results),
        "n_alerts": n_alerts,
        "results": results,
        **extra,
    }
    return orjson.dumps(body)


def score_results(
    flows: FlowBatch | pd.DataFrame,
    served: ServedModel,
    ctx: ScoringContext,
    *,
    explain: str = "alerts",
    variant: str = VARIANT,
) -> tuple[list[dict[str, Any]], int]:
    """Score flows, emit/count/log as ``variant``; per-flow results and the alert count.

    ``flows`` is a parsed :class:`FlowBatch` or a canonical frame. The A/B router
    (:mod:`nids.abtest.router`) calls this once per variant's share of a request; a
    single-model service calls it through :func:`score_request`.
    """
    batch = flows if isinstance(flows, FlowBatch) else FlowBatch.from_frame(flows)
    start = time.perf_counter()
    # The online host state is shared by all requests: one update at a time.
    with served.lock:
        pred = served.scorer.predict(batch.columns, state=served.context, explain=explain)
    elapsed = time.perf_counter() - start
    return finish_results(batch, pred, served, ctx, variant=variant, elapsed_s=elapsed)


def score_many(
    batches: list[FlowBatch], served: ServedModel, ctx: ScoringContext, *, explain: str = "alerts"
) -> list[bytes]:
    """Response bodies of several requests' flows scored in ONE Scorer call.

    Per request, results, alerts, metrics and the prediction log are exactly as if
    it had been scored alone; the online host state sees the requests' flows in time
    order, as it would see them in one request. Saves the fixed cost of a Scorer call
    (most of the CPU of a single-flow request) per request coalesced.
    """
    if len(batches) == 1:
        return [score_request(batches[0], served, ctx, explain=explain)]
    combined = FlowBatch.concat(batches)
    start = time.perf_counter()
    with served.lock:
        pred = served.scorer.predict(combined.columns, state=served.context, explain=explain)
    elapsed = time.perf_counter() - start
    bodies, offset = [], 0
    for batch in batches:
        part = pred.rows(offset, offset + len(batch))
        offset += len(batch)
        results, n_alerts = finish_results(batch, part, served, ctx, elapsed_s=elapsed)
        bodies.append(response_body(served.ref, results, n_alerts))
    return bodies


def finish_results(
    batch: FlowBatch,
    pred: Prediction,
    served: ServedModel,
    ctx: ScoringContext,
    *,
    variant: str = VARIANT,
    elapsed_s: float | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """Metrics, alerts, prediction log and per-flow results of one scored batch."""
    elapsed = elapsed_s
    scores, is_alert, top = pred.scores, pred.is_alert, pred.top_features
    if served.monitor is not None:  # drift gauges: queues the arrays, checked off-path
        served.monitor.observe(pred.features, scores, is_alert)
    ref = served.ref
    version = ref.version
    m = ctx.metrics
    n = len(batch)
    m.batch_size.observe(n)
    m.flows_scored.labels(version, variant).inc(n)
    m.scores.labels(version).observe_many(scores)
    alert_rows = np.flatnonzero(is_alert)
    suppressed: dict[int, str] = {}
    if alert_rows.size:
        m.alerts.labels(version, variant).inc(int(alert_rows.size))
        if ctx.allowlist or ctx.dispatcher is not None:
            suppressed = _emit_alerts(batch, alert_rows, scores, top, served, ctx, variant)
    if ctx.prediction_log is not None:
        log_predictions(batch, pred, served, ctx, variant, elapsed)
    common = {
        "threshold": served.scorer.threshold,
        "model_name": ref.name,
        "model_version": version,
        "model_semver": ref.semver,
        "variant": variant,
    }
    ids = batch.columns["community_id"].tolist()
    flags = is_alert.tolist()
    results = [
        {
            "community_id": cid,
            "score": score,
            "is_alert": alert,
            "suppressed": None,
            **common,
            "top_features": reasons,
        }
        for cid, score, alert, reasons in zip(ids, scores.tolist(), flags, top, strict=True)
    ]
    for row, reason in suppressed.items():
        results[row]["suppressed"] = reason
    return results, int(alert_rows.size)


def _emit_alerts(
    batch: FlowBatch,
    rows: np.ndarray,
    scores: np.ndarray,
    top: list[list[dict[str, Any]]],
    served: ServedModel,
    ctx: ScoringContext,
    variant: str = VARIANT,
) -> dict[int, str]:
    """Format alerts, apply the allow-list, queue them for the sink; return suppressions."""
    records = batch.records(rows)
    fmt = FORMATTERS[ctx.alert_format]
    suppressed: dict[int, str] = {}
    lines = []
    for row, flow in zip(rows.tolist(), records, strict=True):
        reason = (
            ctx.allowlist.reason(flow["src_ip"], flow["dst_ip"], int(flow["dst_port"]))
            if ctx.allowlist
            else None
        )
        if reason is not None:
            suppressed[row] = reason
            ctx.metrics.alerts_suppressed.labels(reason).inc()
            continue
        if ctx.dispatcher is not None:
            alert = Alert(
                flow=flow,
                score=float(scores[row]),
                threshold=served.scorer.threshold,
                top_features=top[row],
                model=served.ref,
                variant=variant,
            )
            record = fmt(alert)
            lines.append(dumps(record))
    if ctx.dispatcher is not None:
        ctx.dispatcher.submit(lines)
    return suppressed


def log_predictions(
    flows: FlowBatch | pd.DataFrame,
    pred: Prediction | Mapping[str, Any],
    served: ServedModel,
    ctx: ScoringContext,
    variant: str = VARIANT,
    elapsed_s: float | None = None,
    features: np.ndarray | None = None,
) -> None:
    """Hand the scored rows to the prediction log (never fails the caller).

    ``pred`` is the Scorer's :class:`~nids.model.scorer.Prediction` or a mapping of
    ``score``/``is_alert`` to per-flow arrays (e.g. ``predict_frame``'s output);
    ``features``, the batch's engineered-feature matrix (a Prediction's own by
    default), is logged as ``feature:<name>`` columns (selected for the sampled rows
    by the writer thread).
    """
    try:
        if features is None and isinstance(pred, Prediction):
            features = pred.features
        scored = (
            {"score": pred.scores, "is_alert": pred.is_alert}
            if isinstance(pred, Prediction)
            else pred
        )
        batch = flows if isinstance(flows, FlowBatch) else FlowBatch.from_frame(flows)
        # The log's rows are built by the writer thread for the sampled flows only: a
        # request pays the sampling draw, not a pandas frame (~1.7 ms for one flow).
        rows = ScoredRows(batch, scored, served.ref, variant, elapsed_s, datetime.now(UTC))
        names = served.scorer.feature_names if features is not None else None
        ctx.prediction_log.submit(rows, features=features, feature_names=names)
    except Exception:  # the log must never fail a request
        log.exception("prediction log: could not queue the scored flows")


@dataclass
class ScoredRows:
    """A scored batch's prediction-log rows, built on demand (off the request path)."""

    batch: FlowBatch
    scored: Mapping[str, Any]  # "score", "is_alert": per-flow arrays
    ref: ModelRef
    variant: str
    elapsed_s: float | None
    scored_at: datetime

    def __len__(self) -> int:
        return len(self.batch)

    def take(self, rows: np.ndarray) -> ScoredRows:
        """The given rows (numpy indexing only: the writer does this per batch)."""
        scored = {name: np.asarray(values)[rows] for name, values in self.scored.items()}
        return replace(self, batch=self.batch.take(rows), scored=scored)

    def combine(self, parts: Sequence[ScoredRows]) -> pa.Table:
        """One log table of ``parts`` (rows in order): the columns :func:`build_log_frame`
        gives (flow inputs, score, alert flag, model, variant, time), plus each batch's
        scoring time as ``latency_ms`` when measured."""
        sizes = [len(p) for p in parts]
        names = list(parts[0].batch.columns)
        if all(list(p.batch.columns) == names for p in parts):
            flows = FlowBatch.concat([p.batch for p in parts]).table()
        else:  # batches parsed from different inputs: build each, then stack
            flows = pa.concat_tables([p.batch.table() for p in parts])
        text = pa.string()

        def each(values: list[Any], kind: pa.DataType) -> pa.Array:
            # One value per part, repeated over its rows.
            return pa.array(np.repeat(np.array(values, dtype=object), sizes).tolist(), type=kind)

        stamps = [p.scored_at.astimezone(UTC).replace(tzinfo=None) for p in parts]
        columns = {
            "score": pa.array(np.concatenate([p.scored["score"] for p in parts]), pa.float64()),
            "is_alert": pa.array(np.concatenate([p.scored["is_alert"] for p in parts]), pa.bool_()),
            "model_name": each([p.ref.name for p in parts], text),
            "model_version": each([str(p.ref.version) for p in parts], text),
            "variant": each([p.variant for p in parts], text),
            "scored_at": each(stamps, pa.timestamp("us", "UTC")),
        }
        if any(p.elapsed_s is not None for p in parts):  # the batch's scoring time (A/B)
            latency = [np.nan if p.elapsed_s is None else p.elapsed_s * 1000.0 for p in parts]
            columns["latency_ms"] = pa.array(np.repeat(latency, sizes), pa.float64())
        flows = flows.select(_LOG_INPUTS)
        return pa.Table.from_arrays(
            [*flows.columns, *columns.values()], names=[*flows.column_names, *columns]
        )


# The flow columns a log row keeps (never the ground-truth labels).
_LOG_INPUTS = [name for name in FLOW_SCHEMA.names if name in INPUT_COLUMNS]
