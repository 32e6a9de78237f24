"""Drift over the service's own rolling window, exposed as Prometheus gauges.

How the service uses it (serving helper)::

    monitor = RollingDriftMonitor(profile, feature_names, threshold=scorer.threshold)
    # request path, cheap (copies rows into a ring buffer):
    monitor.observe(features, scores, is_alert)
    # off the request path (a background task every N seconds, or before /metrics):
    monitor.maybe_evaluate()

Gauges (``model`` label = "name/version"): ``nids_drift_detected`` (0/1),
``nids_drift_columns_drifted``, ``nids_drift_window_flows``, ``nids_prediction_mean``,
``nids_alert_rate``, and per column ``nids_drift_psi`` / ``nids_drift_ks_p_adjusted``.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from nids.monitoring.drift import DriftResult, Reference, compare_to_reference

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry


_GAUGE_DOCS = {
    "nids_drift_detected": ("1 when the rolling window drifted.", ("model",)),
    "nids_drift_columns_drifted": ("Columns drifted in the window.", ("model",)),
    "nids_drift_window_flows": ("Flows in the rolling drift window.", ("model",)),
    "nids_prediction_mean": ("Mean anomaly score in the window.", ("model",)),
    "nids_alert_rate": ("Share of alerting flows in the window.", ("model",)),
    "nids_drift_psi": ("PSI per column.", ("model", "column")),
    "nids_drift_ks_p_adjusted": ("Corrected p-value per column.", ("model", "column")),
}
# One set of gauges per registry: a monitor rebuilt on model reload reuses them
# (registering a metric name twice raises).
_REGISTERED: dict[int, tuple[Any, dict[str, Any]]] = {}
_REGISTER_LOCK = threading.Lock()


def _gauges(registry: CollectorRegistry) -> dict[str, Any]:
    from prometheus_client import Gauge

    with _REGISTER_LOCK:
        entry = _REGISTERED.get(id(registry))
        if entry is None or entry[0] is not registry:
            gauges = {
                name: Gauge(name, doc, list(labels), registry=registry)
                for name, (doc, labels) in _GAUGE_DOCS.items()
            }
            entry = (registry, gauges)
            _REGISTERED[id(registry)] = entry
        return entry[1]


class RollingDriftMonitor:
    """Keeps the last ``window`` scored flows and checks them against the reference."""

    def __init__(
        self,
        profile: Mapping[str, Any],
        feature_names: Sequence[str],
        *,
        threshold: float | None = None,
        window: int = 5000,
        evaluate_every: int = 1000,
        model: str = "unknown",
        registry: CollectorRegistry | None = None,
        **drift_params: Any,
    ) -> None:
        from prometheus_client import REGISTRY

        self.reference = Reference(profile)
        self.feature_names = list(feature_names)
        self.threshold = threshold
        self.window = window
        self.evaluate_every = evaluate_every
        self.model = model
        self.drift_params = drift_params
        k = len(self.feature_names)
        self._features = np.zeros((window, k))
        self._scores = np.zeros(window)
        self._alerts = np.zeros(window, dtype=bool)
        self._filled = 0
        self._pos = 0
        self._since_eval = 0
        self._lock = threading.Lock()
        self.last_result: DriftResult | None = None
        gauges = _gauges(registry or REGISTRY)
        self.g_detected = gauges["nids_drift_detected"]
        self.g_columns = gauges["nids_drift_columns_drifted"]
        self.g_flows = gauges["nids_drift_window_flows"]
        self.g_pred_mean = gauges["nids_prediction_mean"]
        self.g_alert_rate = gauges["nids_alert_rate"]
        self.g_psi = gauges["nids_drift_psi"]
        self.g_padj = gauges["nids_drift_ks_p_adjusted"]

    def observe(self, features: np.ndarray, scores: np.ndarray, is_alert: np.ndarray) -> None:
        """Add scored rows to the ring buffer (O(rows), no statistics)."""
        x = np.asarray(features, dtype=float)[-self.window :]
        s = np.asarray(scores, dtype=float)[-self.window :]
        a = np.asarray(is_alert, dtype=bool)[-self.window :]
        n = len(s)
        with self._lock:
            idx = (self._pos + np.arange(n)) % self.window
            self._features[idx] = x
            self._scores[idx] = s
            self._alerts[idx] = a
            self._pos = (self._pos + n) % self.window
            self._filled = min(self._filled + n, self.window)
            self._since_eval += n

    def maybe_evaluate(self) -> DriftResult | None:
        """Evaluate when ``evaluate_every`` new rows arrived since the last evaluation."""
        if self._since_eval < self.evaluate_every or self._filled == 0:
            return None
        return self.evaluate()

    def evaluate(self) -> DriftResult | None:
        """Compare the current window with the reference and update the gauges."""
        with self._lock:
            n = self._filled
            if n == 0:
                return None
            x, s, a = self._features[:n].copy(), self._scores[:n].copy(), self._alerts[:n].copy()
            self._since_eval = 0
        result = compare_to_reference(
            self.reference, x, scores=s, is_alert=a, threshold=self.threshold, **self.drift_params
        )
        m = self.model
        self.g_detected.labels(m).set(float(result.drifted))
        self.g_columns.labels(m).set(len(result.drifted_columns))
        self.g_flows.labels(m).set(n)
        self.g_pred_mean.labels(m).set(result.prediction_mean or 0.0)
        self.g_alert_rate.labels(m).set(result.alert_rate or 0.0)
        for col in result.columns:
            self.g_psi.labels(m, col.name).set(col.psi if col.psi is not None else 0.0)
            self.g_padj.labels(m, col.name).set(col.p_adjusted)
        self.last_result = result
        return result
