"""compare_to_reference: significance AND effect size, corrections, window rule."""

from __future__ import annotations

import json

import numpy as np
import pytest
from monitoring_samples import FEATURES, feature_matrix, synthetic_flows, synthetic_profile

from nids.errors import DataError
from nids.monitoring.drift import Reference, compare_to_reference, detect_drift


@pytest.fixture(scope="module")
def reference() -> Reference:
    return Reference(synthetic_profile())


def test_detect_drift_is_the_spec_function() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=2000)
    drifted, p = detect_drift(a, rng.normal(0.5, 1, 2000))
    assert drifted is True and p < 1e-10
    drifted, p = detect_drift(a, rng.normal(size=2000), threshold=0.001)
    assert drifted is False and p > 0.001


def test_same_distribution_is_not_drift(reference: Reference) -> None:
    rng = np.random.default_rng(1)
    window = synthetic_flows(3000, rng)
    result = compare_to_reference(reference, window, scores=rng.normal(size=3000), threshold=2.5)
    assert not result.drifted
    names = {c.name for c in result.columns}
    assert {f"feature:{f}" for f in FEATURES} <= names
    assert {"raw:src_bytes", "cat:service", "cat:dst_port", "score", "alert_rate"} <= names
    assert result.params["n_tests"] == len(result.columns)


def test_shifted_features_drift(reference: Reference) -> None:
    rng = np.random.default_rng(2)
    result = compare_to_reference(reference, synthetic_flows(3000, rng, shift=0.5))
    assert result.drifted
    assert set(result.drifted_columns) == {f"feature:{f}" for f in FEATURES}
    col = result.column("feature:f0")
    assert col.significant and col.large
    assert col.wasserstein == pytest.approx(0.5, abs=0.1)


def test_new_service_drifts_as_category(reference: Reference) -> None:
    rng = np.random.default_rng(3)
    window = synthetic_flows(3000, rng, services=("zoom",))
    result = compare_to_reference(reference, window)
    assert result.drifted_columns == ["cat:service"]


def test_tiny_shift_is_significant_but_not_drift() -> None:
    """0.02 sigma at 100k flows: KS rejects, the effect-size gate keeps it quiet."""
    profile = synthetic_profile(100_000, seed=4, sample_rows=100_000)
    rng = np.random.default_rng(5)
    window = synthetic_flows(100_000, rng, shift=0.02)
    result = compare_to_reference(profile, window)
    features = [result.column(f"feature:{f}") for f in FEATURES]
    assert sum(c.significant for c in features) >= 3  # the test alone would call drift
    assert not result.drifted
    assert max(c.wasserstein or 0 for c in features) < 0.05


def test_correction_and_effect_size_control_false_alarms(reference: Reference) -> None:
    """Same-distribution windows: uncorrected tests cry wolf, the full rule does not."""
    rng = np.random.default_rng(6)
    raw_hits = bh_hits = full_hits = 0
    for _ in range(15):
        window = synthetic_flows(2000, rng)
        no_gate = {"psi_threshold": 0.0, "wasserstein_threshold": 0.0}
        raw_hits += compare_to_reference(reference, window, correction="none", **no_gate).drifted
        bh_hits += compare_to_reference(reference, window, correction="bh", **no_gate).drifted
        full_hits += compare_to_reference(reference, window).drifted
    assert raw_hits >= 8  # 17 tests at 5 %: most windows have a "significant" column
    assert bh_hits < raw_hits
    assert full_hits == 0


def test_bonferroni_is_stricter_than_bh(reference: Reference) -> None:
    rng = np.random.default_rng(7)
    window = synthetic_flows(3000, rng, shift=0.05)
    bh = compare_to_reference(reference, window, correction="bh")
    bonf = compare_to_reference(reference, window, correction="bonferroni")
    for a, b in zip(bh.columns, bonf.columns, strict=True):
        assert b.p_adjusted >= a.p_adjusted - 1e-15


def test_alert_rate_surge(reference: Reference) -> None:
    rng = np.random.default_rng(8)
    window = synthetic_flows(3000, rng)
    scores = rng.normal(size=3000)
    scores[:150] += 6  # 5 % of flows become strong alerts
    result = compare_to_reference(reference, window, scores=scores, threshold=2.5)
    alert = result.column("alert_rate")
    assert result.reference_alert_rate == pytest.approx(0.0062, abs=0.003)
    assert alert.drifted and result.alert_rate > 0.05
    assert result.prediction_mean == pytest.approx(float(scores.mean()))


def test_feature_matrix_input_and_json(reference: Reference) -> None:
    rng = np.random.default_rng(9)
    x = feature_matrix(synthetic_flows(1000, rng, shift=1.0))
    result = compare_to_reference(reference, x)
    assert [c.name for c in result.columns] == [f"feature:{f}" for f in FEATURES]
    assert result.drifted
    data = json.loads(result.to_json())
    assert data["drifted"] is True and len(data["drifted_columns"]) == len(FEATURES)


def test_bad_windows_are_refused(reference: Reference) -> None:
    with pytest.raises(DataError, match="no flows"):
        compare_to_reference(reference, synthetic_flows(0, np.random.default_rng(0)))
    with pytest.raises(DataError, match="shape"):
        compare_to_reference(reference, np.zeros((10, 3)))
    with pytest.raises(DataError, match="profile_version"):
        compare_to_reference({"profile_version": 99}, np.zeros((10, 3)))
