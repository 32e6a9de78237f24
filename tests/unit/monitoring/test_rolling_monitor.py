"""RollingDriftMonitor: ring buffer and Prometheus gauges for the service."""

from __future__ import annotations

import time
from types import SimpleNamespace

import numpy as np
from monitoring_samples import FEATURES, feature_matrix, synthetic_flows, synthetic_profile
from prometheus_client import CollectorRegistry

from nids.monitoring.rolling import RollingDriftMonitor, build_service_monitor
from nids.settings import Settings


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


def test_observe_only_queues_and_a_full_queue_drops_the_oldest_batches() -> None:
    registry = CollectorRegistry()
    profile = synthetic_profile(2000, sample_rows=500)
    monitor = RollingDriftMonitor(
        profile, FEATURES, registry=registry, model="m/1", window=50, pending_batches=3
    )
    rng = np.random.default_rng(2)
    batches = [feature_matrix(synthetic_flows(10, rng)) for _ in range(5)]
    for i, x in enumerate(batches):
        monitor.observe(x, np.full(10, float(i)), np.zeros(10, dtype=bool))
    assert monitor._filled == 0  # nothing copied on the request path
    monitor.observe(np.zeros((4, 3)), np.zeros(4), np.zeros(4, dtype=bool))  # wrong width
    assert monitor.drain() == 20  # batches 3 and 4 (0-2 fell out of the queue, 5 unusable)
    dropped = {"model": "m/1"}
    assert (
        registry.get_sample_value(
            "nids_drift_monitor_dropped_total", {**dropped, "reason": "queue_full"}
        )
        == 3
    )
    assert (
        registry.get_sample_value(
            "nids_drift_monitor_dropped_total", {**dropped, "reason": "unusable"}
        )
        == 1
    )
    assert sorted(set(monitor._scores[:20])) == [3.0, 4.0]
    np.testing.assert_array_equal(monitor._features[:10], batches[3])


def test_background_thread_evaluates_and_close_removes_the_series() -> None:
    registry = CollectorRegistry()
    monitor = RollingDriftMonitor(
        synthetic_profile(5000, sample_rows=2000),
        FEATURES,
        threshold=2.5,
        window=1000,
        evaluate_every=500,
        model="m/7",
        registry=registry,
        exclude={"feature:f7"},
    )
    monitor.start(0.05)
    rng = np.random.default_rng(3)
    x = feature_matrix(synthetic_flows(1000, rng, shift=1.0))
    scores = rng.normal(size=1000)
    monitor.observe(x, scores, scores > 2.5)
    labels = {"model": "m/7"}
    deadline = time.monotonic() + 60
    while registry.get_sample_value("nids_drift_detected", labels) is None:
        assert time.monotonic() < deadline, "the background thread never evaluated"
        time.sleep(0.05)
    assert registry.get_sample_value("nids_drift_detected", labels) == 1.0
    assert registry.get_sample_value("nids_drift_window_flows", labels) == 1000
    # the excluded feature is not tested; the other 7 all shifted by 1 sigma
    assert registry.get_sample_value("nids_drift_columns_drifted", labels) == 7
    assert registry.get_sample_value("nids_drift_psi", {**labels, "column": "feature:f7"}) is None
    monitor.close()
    assert monitor._thread is not None and not monitor._thread.is_alive()
    assert registry.get_sample_value("nids_drift_detected", labels) is None
    assert registry.get_sample_value("nids_drift_psi", {**labels, "column": "feature:f0"}) is None


def _served(profile: dict | None) -> SimpleNamespace:
    return SimpleNamespace(
        loaded=SimpleNamespace(nids_model=SimpleNamespace(reference_profile=profile)),
        scorer=SimpleNamespace(feature_names=FEATURES, threshold=2.5),
        ref=SimpleNamespace(name="nids-isoforest", version="3"),
    )


def test_service_monitor_from_settings() -> None:
    registry = CollectorRegistry()
    profile = synthetic_profile(2000, sample_rows=500)
    settings = Settings(
        drift_monitor_interval_s=30,
        drift_monitor_window=300,
        drift_monitor_min_flows=100,
        drift_monitor_exclude=["f1", "score"],
        drift_p_threshold=0.01,
    )
    monitor = build_service_monitor(_served(profile), settings, registry)
    assert monitor is not None
    try:
        assert monitor.model == "nids-isoforest/3" and monitor.window == 300
        assert monitor._thread is not None and monitor._thread.is_alive()
        assert monitor.drift_params["exclude"] == {"feature:f1", "score"}
        assert monitor.drift_params["p_threshold"] == 0.01
        x = feature_matrix(synthetic_flows(300, np.random.default_rng(4)))
        monitor.observe(x, np.zeros(300), np.zeros(300, dtype=bool))
        result = monitor.maybe_evaluate()
        assert result is not None
        names = {c.name for c in result.columns}
        assert "feature:f0" in names and "alert_rate" in names
        assert "feature:f1" not in names and "score" not in names
    finally:
        monitor.close()
    # disabled, or a model without a profile: served without gauges, no exception
    off = settings.model_copy(update={"drift_monitor_interval_s": 0})
    assert build_service_monitor(_served(profile), off, registry) is None
    assert build_service_monitor(_served(None), settings, registry) is None


def test_the_holder_swaps_the_monitor_with_the_model() -> None:
    """Each loaded version gets its monitor; a reload closes the old one and its series."""
    from nids.data.generator import generate_flows
    from nids.model.pipeline import build_pipeline
    from nids.model.pyfunc import NidsModel
    from nids.model.scorer import Scorer
    from nids.monitoring.reference import build_reference_profile
    from nids.registry import LoadedModel
    from nids.serving.holder import ModelHolder
    from nids.serving.metrics import ServiceMetrics

    flows = generate_flows(1500, days=1, attack_share=0.02, seed=4)
    pipeline = build_pipeline(Settings(n_estimators=10, max_samples=64, seed=0))
    pipeline.fit(flows)
    scorer = Scorer(pipeline, 0.6)
    x = scorer.features(flows)
    scores = scorer.score_features(x)
    profile = build_reference_profile(flows, x, scorer.feature_names, scores, scores, seed=0)
    alias = {"version": 1}

    def load(uri: str, settings: Settings) -> LoadedModel:
        model = NidsModel()
        model.scorer = Scorer(pipeline, 0.6)
        model.reference_profile = profile
        return LoadedModel(None, model, uri, "nids-isoforest", alias["version"], None)

    metrics = ServiceMetrics.create()
    settings = Settings(reload_interval_s=0, drift_monitor_interval_s=3600)
    holder = ModelHolder(settings, metrics, loader=load, probe=lambda u, s: alias["version"])
    assert holder.load()
    first = holder.current
    assert first is not None and first.monitor is not None
    assert first.monitor.model == "nids-isoforest/1"
    first.monitor.observe(x[:600], scores[:600], scores[:600] > 0.6)
    assert first.monitor.evaluate() is not None
    labels = {"model": "nids-isoforest/1"}
    assert metrics.registry.get_sample_value("nids_drift_window_flows", labels) == 600
    alias["version"] = 2
    assert holder.check_for_update()
    second = holder.current
    assert second is not None and second.monitor is not None and second.monitor is not first.monitor
    assert second.monitor.model == "nids-isoforest/2"
    assert first.monitor._thread is not None and not first.monitor._thread.is_alive()
    assert metrics.registry.get_sample_value("nids_drift_window_flows", labels) is None
    holder.stop()
    assert second.monitor._thread is not None and not second.monitor._thread.is_alive()
