"""Prometheus metrics of the inference service (one registry per app instance)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

# Latency buckets from 0.25 ms: single-flow requests take well under a millisecond.
LATENCY_BUCKETS = (
    0.00025,
    0.0005,
    0.001,
    0.002,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    10.0,
)
SCORE_BUCKETS = tuple(round(0.30 + 0.025 * i, 3) for i in range(29))  # 0.30 .. 1.00
BATCH_BUCKETS = (1, 2, 5, 10, 50, 100, 500, 1000, 5000, 10000, 50000)


@dataclass
class ServiceMetrics:
    """The service's counters, histograms and gauges."""

    registry: Any
    request_latency: Any
    requests: Any
    flows_scored: Any
    alerts: Any
    alerts_suppressed: Any
    alerts_dropped: Any
    alerts_sent: Any
    scores: Any
    batch_size: Any
    model_loads: Any
    model_info: Any
    model_loaded_at: Any
    prediction_log_rows: Any

    @classmethod
    def create(cls) -> ServiceMetrics:
        """Fresh metrics in a private registry (so several apps can live in one process)."""
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        reg = CollectorRegistry()
        return cls(
            registry=reg,
            request_latency=Histogram(
                "nids_request_duration_seconds",
                "Request latency by endpoint and model version.",
                ["endpoint", "model_version"],
                buckets=LATENCY_BUCKETS,
                registry=reg,
            ),
            requests=Counter(
                "nids_http_requests",
                "Requests by endpoint and HTTP status (errors are the 4xx/5xx statuses).",
                ["endpoint", "status"],
                registry=reg,
            ),
            flows_scored=Counter(
                "nids_flows_scored",
                "Flows scored.",
                ["model_version", "variant"],
                registry=reg,
            ),
            alerts=Counter(
                "nids_alerts",
                "Alerts raised (before allow-list suppression).",
                ["model_version", "variant"],
                registry=reg,
            ),
            alerts_suppressed=Counter(
                "nids_alerts_suppressed",
                "Alerts suppressed by the allow-list, by reason (cidr, port, scanner).",
                ["reason"],
                registry=reg,
            ),
            alerts_dropped=Counter(
                "nids_alert_sink_dropped",
                "Alerts lost by the sink (queue full or delivery failed).",
                registry=reg,
            ),
            alerts_sent=Counter(
                "nids_alert_sink_sent", "Alerts delivered by the sink.", registry=reg
            ),
            scores=BulkHistogram(
                "nids_score",
                "Distribution of anomaly scores (the prediction distribution).",
                ["model_version"],
                buckets=SCORE_BUCKETS,
                registry=reg,
            ),
            batch_size=Histogram(
                "nids_batch_size", "Flows per scoring request.", buckets=BATCH_BUCKETS, registry=reg
            ),
            model_loads=Counter(
                "nids_model_loads",
                "Model load attempts by kind (initial, reload) and result (success, failure).",
                ["kind", "result"],
                registry=reg,
            ),
            model_info=Gauge(
                "nids_model_info",
                "The model version in use (value 1).",
                ["name", "version", "semver"],
                registry=reg,
            ),
            model_loaded_at=Gauge(
                "nids_model_loaded_timestamp_seconds",
                "When the model in use was loaded (Unix time).",
                registry=reg,
            ),
            prediction_log_rows=Gauge(
                "nids_prediction_log_rows",
                "Prediction log writer row counters (submitted, sampled, written, dropped).",
                ["kind"],
                registry=reg,
            ),
        )

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class BulkHistogram:
    """A labelled histogram fed whole arrays at once, exposed as the same series as
    ``prometheus_client.Histogram`` (``_bucket``/``_count``/``_sum``, ``_created``).

    Observing 1,000 scores one ``observe`` call at a time costs about a millisecond of
    Python; here a batch is one ``np.searchsorted`` and one ``np.bincount``.
    """

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str],
        *,
        buckets: Sequence[float],
        registry: Any,
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = list(labelnames)
        self._bounds = np.array([*buckets, float("inf")], dtype=np.float64)
        self._children: dict[tuple[str, ...], _BulkChild] = {}
        self._lock = threading.Lock()
        registry.register(self)

    def labels(self, *values: str) -> _BulkChild:
        """The child for these label values (created on first use)."""
        key = tuple(str(v) for v in values)
        child = self._children.get(key)
        if child is None:
            with self._lock:
                child = self._children.setdefault(key, _BulkChild(self._bounds))
        return child

    def describe(self) -> list[Any]:
        """Nothing up front (series appear with their first observation)."""
        return []

    def collect(self) -> Iterator[Any]:
        """The histogram and its ``_created`` gauge, as prometheus_client writes them."""
        from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
        from prometheus_client.utils import floatToGoString

        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)
        created = GaugeMetricFamily(
            f"{self.name}_created", self.documentation, labels=self.labelnames
        )
        les = [floatToGoString(b) for b in self._bounds]
        for key, child in list(self._children.items()):
            counts, total = child.snapshot()
            cumulative = np.cumsum(counts).astype(np.float64).tolist()
            family.add_metric(list(key), list(zip(les, cumulative, strict=True)), total)
            created.add_metric(list(key), child.created)
        yield family
        yield created


class _BulkChild:
    def __init__(self, bounds: np.ndarray) -> None:
        self._bounds = bounds
        self._counts = np.zeros(len(bounds), dtype=np.int64)
        self._sum = 0.0
        self._lock = threading.Lock()
        self.created = time.time()

    def observe(self, value: float) -> None:
        """One observation."""
        self.observe_many(np.array([value], dtype=np.float64))

    def observe_many(self, values: np.ndarray) -> None:
        """Many observations: value v falls into the first bucket whose bound is >= v."""
        if not len(values):
            return
        index = np.searchsorted(self._bounds, values, side="left")
        counts = np.bincount(index, minlength=len(self._bounds))[: len(self._bounds)]
        total = float(values.sum())
        with self._lock:
            self._counts += counts
            self._sum += total

    def snapshot(self) -> tuple[np.ndarray, float]:
        """(per-bucket counts, sum) at one instant."""
        with self._lock:
            return self._counts.copy(), self._sum
