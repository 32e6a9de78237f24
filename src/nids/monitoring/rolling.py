"""Drift over the service's own rolling window, exposed as Prometheus gauges.

How the service uses it (``nids.serving.holder`` builds one per loaded model)::

    monitor = build_service_monitor(served, settings, registry)  # on (re)load; None = off
    monitor.observe(features, scores, is_alert)  # request path: one deque append
    monitor.close()                              # when the model is swapped out

``observe`` only appends references to the batch's arrays to a bounded deque (a
full deque drops its oldest batch, counted). A background thread drains the deque
into a ring buffer of the last ``window`` flows every fraction of a second and
evaluates the window every ``interval_s`` seconds when new flows arrived, so the
statistics (hundreds of ms for 5,000 flows) never run on the request path.

Gauges (``model`` label = "name/version"): ``nids_drift_detected`` (0/1),
``nids_drift_columns_drifted``, ``nids_drift_window_flows``, ``nids_prediction_mean``,
``nids_alert_rate``, and per column ``nids_drift_psi`` / ``nids_drift_ks_p_adjusted``;
counter ``nids_drift_monitor_dropped_total{model,reason}`` (batches lost to a full
deque, unusable batches, failed evaluations). A closed monitor removes its series,
so a swapped-out model does not keep reporting drift.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from nids.monitoring.drift import DriftResult, Reference, compare_to_reference

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from nids.settings import Settings

log = logging.getLogger(__name__)

_GAUGE_DOCS = {
    "nids_drift_detected": ("1 when the rolling window drifted.", ("model",)),
    "nids_drift_columns_drifted": ("Columns drifted in the window.", ("model",)),
    "nids_drift_window_flows": ("Flows in the rolling drift window.", ("model",)),
    "nids_prediction_mean": ("Mean anomaly score in the window.", ("model",)),
    "nids_alert_rate": ("Share of alerting flows in the window.", ("model",)),
    "nids_drift_psi": ("PSI per column.", ("model", "column")),
    "nids_drift_ks_p_adjusted": ("Corrected p-value per column.", ("model", "column")),
}
_COUNTER_DOCS = {
    "nids_drift_monitor_dropped": (
        "Scored batches the rolling drift monitor lost (full queue, unusable, failed check).",
        ("model", "reason"),
    ),
}
# One set of metrics per registry: a monitor rebuilt on model reload reuses them
# (registering a metric name twice raises).
_REGISTERED: dict[int, tuple[Any, dict[str, Any]]] = {}
_REGISTER_LOCK = threading.Lock()


def _gauges(registry: CollectorRegistry) -> dict[str, Any]:
    from prometheus_client import Counter, Gauge

    with _REGISTER_LOCK:
        entry = _REGISTERED.get(id(registry))
        if entry is None or entry[0] is not registry:
            metrics: dict[str, Any] = {
                name: Gauge(name, doc, list(labels), registry=registry)
                for name, (doc, labels) in _GAUGE_DOCS.items()
            }
            for name, (doc, labels) in _COUNTER_DOCS.items():
                metrics[name] = Counter(name, doc, list(labels), registry=registry)
            entry = (registry, metrics)
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
        pending_batches: int = 4096,
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
        # The request path's only work: append a reference to the batch (thread-safe).
        self._pending: deque[tuple[Any, Any, Any]] = deque(maxlen=pending_batches)
        self._overflow = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_result: DriftResult | None = None
        metrics = _gauges(registry or REGISTRY)
        self.g_detected = metrics["nids_drift_detected"]
        self.g_columns = metrics["nids_drift_columns_drifted"]
        self.g_flows = metrics["nids_drift_window_flows"]
        self.g_pred_mean = metrics["nids_prediction_mean"]
        self.g_alert_rate = metrics["nids_alert_rate"]
        self.g_psi = metrics["nids_drift_psi"]
        self.g_padj = metrics["nids_drift_ks_p_adjusted"]
        self.c_dropped = metrics["nids_drift_monitor_dropped"]

    # --- request path -------------------------------------------------------------
    def observe(self, features: np.ndarray, scores: np.ndarray, is_alert: np.ndarray) -> None:
        """Queue a scored batch (no copy, no statistics); never raises.

        The arrays must not be modified afterwards. A full queue drops its oldest
        batch (counted): the window wants the newest flows anyway.
        """
        try:
            if len(self._pending) == self._pending.maxlen:
                self._overflow += 1
            self._pending.append((features, scores, is_alert))
        except Exception:  # pragma: no cover - deque.append does not fail in practice
            self._overflow += 1

    # --- off the request path -----------------------------------------------------
    def drain(self) -> int:
        """Move queued batches into the ring buffer; the number of rows taken."""
        taken = 0
        while True:
            try:
                features, scores, is_alert = self._pending.popleft()
            except IndexError:
                break
            try:
                taken += self._append(features, scores, is_alert)
            except Exception as exc:  # a malformed batch: counted, never fatal
                log.warning("drift monitor %s: unusable batch: %s", self.model, exc)
                self.c_dropped.labels(self.model, "unusable").inc()
        overflow, self._overflow = self._overflow, 0
        if overflow:
            self.c_dropped.labels(self.model, "queue_full").inc(overflow)
        return taken

    def _append(self, features: Any, scores: Any, is_alert: Any) -> int:
        x = np.asarray(features, dtype=float)
        s = np.asarray(scores, dtype=float)
        a = np.asarray(is_alert, dtype=bool)
        if x.ndim != 2 or x.shape[1] != self._features.shape[1] or not len(x) == len(s) == len(a):
            raise ValueError(f"features {x.shape}, scores {s.shape}, alerts {a.shape}")
        x, s, a = x[-self.window :], s[-self.window :], a[-self.window :]
        n = len(s)
        with self._lock:
            idx = (self._pos + np.arange(n)) % self.window
            self._features[idx] = x
            self._scores[idx] = s
            self._alerts[idx] = a
            self._pos = (self._pos + n) % self.window
            self._filled = min(self._filled + n, self.window)
            self._since_eval += n
        return n

    def maybe_evaluate(self) -> DriftResult | None:
        """Evaluate when ``evaluate_every`` new rows arrived since the last evaluation."""
        self.drain()
        if self._since_eval < self.evaluate_every or self._filled == 0:
            return None
        return self.evaluate()

    def evaluate(self) -> DriftResult | None:
        """Compare the current window with the reference and update the gauges."""
        self.drain()
        with self._lock:
            n = self._filled
            if n == 0:
                return None
            x, s, a = self._features[:n].copy(), self._scores[:n].copy(), self._alerts[:n].copy()
            self._since_eval = 0
        result = compare_to_reference(
            self.reference, x, scores=s, is_alert=a, threshold=self.threshold, **self.drift_params
        )
        if self._stop.is_set():  # closed meanwhile: do not resurrect removed series
            return result
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

    # --- background thread ----------------------------------------------------------
    def start(self, interval_s: float, *, drain_s: float = 0.2) -> None:
        """Drain every ``drain_s`` and evaluate every ``interval_s`` in a daemon thread."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._run, args=(interval_s, drain_s), name="nids-drift-monitor", daemon=True
        )
        self._thread.start()

    def _run(self, interval_s: float, drain_s: float) -> None:
        last = time.monotonic()
        while not self._stop.wait(min(drain_s, interval_s)):
            try:
                self.drain()
                if time.monotonic() - last >= interval_s:
                    last = time.monotonic()
                    self.maybe_evaluate()
            except Exception as exc:  # statistics on odd data: counted, keep running
                log.warning("drift monitor %s: evaluation failed: %s", self.model, exc)
                self.c_dropped.labels(self.model, "evaluation_failed").inc()

    def close(self, timeout: float = 10.0) -> None:
        """Stop the thread and remove this model's series (idempotent)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self._pending.clear()
        m = self.model
        for gauge in (self.g_detected, self.g_columns, self.g_flows, self.g_pred_mean):
            _remove(gauge, m)
        _remove(self.g_alert_rate, m)
        if self.last_result is not None:
            for col in self.last_result.columns:
                _remove(self.g_psi, m, col.name)
                _remove(self.g_padj, m, col.name)


def _remove(metric: Any, *labels: str) -> None:
    with contextlib.suppress(KeyError):  # never set
        metric.remove(*labels)


def build_service_monitor(
    served: Any, settings: Settings, registry: CollectorRegistry
) -> RollingDriftMonitor | None:
    """A started monitor for a served model, or None (disabled, or no usable profile).

    Never raises: a model without a reference profile is served without drift gauges
    (logged once).
    """
    if settings.drift_monitor_interval_s <= 0:
        return None
    try:
        from nids.monitoring.reference import profile_from_model

        scorer = served.scorer
        profile = profile_from_model(served.loaded)
        monitor = RollingDriftMonitor(
            profile,
            scorer.feature_names,
            threshold=scorer.threshold,
            window=settings.drift_monitor_window,
            evaluate_every=settings.drift_monitor_min_flows,
            model=f"{served.ref.name}/{served.ref.version}",
            registry=registry,
            exclude=_excluded(settings.drift_monitor_exclude),
            p_threshold=settings.drift_p_threshold,
            correction=settings.drift_correction,
            psi_threshold=settings.drift_psi_threshold,
            wasserstein_threshold=settings.drift_wasserstein_threshold,
        )
    except Exception as exc:
        log.warning("no rolling drift gauges for %s: %s", served.ref.version, exc)
        return None
    monitor.start(settings.drift_monitor_interval_s)
    return monitor


def _excluded(names: Collection[str]) -> set[str]:
    """Profile keys of excluded features (plain names get the ``feature:`` prefix)."""
    return {n if ":" in n or n in {"score", "alert_rate"} else f"feature:{n}" for n in names}
