"""RollingDriftMonitor: ring buffer and Prometheus gauges for the service."""

from __future__ import annotations

import numpy as np
from monitoring_samples import FEATURES, feature_matrix, synthetic_flows, synthetic_profile
from prometheus_client import CollectorRegistry

from nids.monitoring.rolling import RollingDriftMonitor


def test_rolling_window_gauges() -> None:
    registry = CollectorRegistry()
    monitor = RollingDriftMonitor(
        synthetic_profile(5000, sample_rows=2000),
        FEATURES,
        threshold=2.5,
        window=2000,
        evaluate_every=1500,
        model="nids-isoforest/2",
        registry=registry,
    )
    rng = np.random.default_rng(0)

    def feed(n: int, shift: float) -> None:
        x = feature_matrix(synthetic_flows(n, rng, shift=shift))
        scores = rng.normal(size=n)
        monitor.observe(x, scores, scores > 2.5)

    assert monitor.maybe_evaluate() is None  # nothing observed yet
    feed(1000, 0.0)
    assert monitor.maybe_evaluate() is None  # below evaluate_every
    feed(1000, 0.0)
    result = monitor.maybe_evaluate()
    assert result is not None and not result.drifted
    labels = {"model": "nids-isoforest/2"}
    assert registry.get_sample_value("nids_drift_detected", labels) == 0.0
    assert registry.get_sample_value("nids_drift_window_flows", labels) == 2000
    # the window rolls: 2,500 shifted rows push every unshifted row out
    feed(2500, 1.0)
    result = monitor.maybe_evaluate()
    assert result is not None and result.drifted
    assert registry.get_sample_value("nids_drift_detected", labels) == 1.0
    assert registry.get_sample_value("nids_drift_columns_drifted", labels) == len(FEATURES)
    psi = registry.get_sample_value("nids_drift_psi", {**labels, "column": "feature:f0"})
    assert psi is not None and psi > 0.3
    assert registry.get_sample_value("nids_alert_rate", labels) < 0.05


def test_a_rebuilt_monitor_reuses_the_gauges() -> None:
    """On model reload the service builds a new monitor on the same registry."""
    registry = CollectorRegistry()
    profile = synthetic_profile(2000, sample_rows=500)
    first = RollingDriftMonitor(profile, FEATURES, registry=registry, model="m/1", window=100)
    second = RollingDriftMonitor(profile, FEATURES, registry=registry, model="m/2", window=100)
    assert second.g_detected is first.g_detected
    x = feature_matrix(synthetic_flows(100, np.random.default_rng(1)))
    second.observe(x, np.zeros(100), np.zeros(100, dtype=bool))
    assert second.evaluate() is not None
    assert registry.get_sample_value("nids_drift_window_flows", {"model": "m/2"}) == 100
