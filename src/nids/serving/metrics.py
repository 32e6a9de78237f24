"""Prometheus metrics of the inference service (one registry per app instance)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
            scores=Histogram(
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
