"""Detector contracts: sklearn outlier API, lower = more abnormal, contributions, names."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.ensemble import IsolationForest

from nids.errors import ConfigError, TrainingError
from nids.model.detectors import (
    DETECTOR_MODEL_NAMES,
    DETECTORS,
    HBOS,
    feature_contributions,
    make_detector,
)


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    train = np.column_stack(
        [rng.normal(0, 1, 600), rng.normal(5, 0.5, 600), rng.integers(0, 2, 600)]
    ).astype(np.float64)
    # row 0 normal; row 1 extreme on feature 1 only; row 2 on feature 0 only
    test = np.array([[0.0, 5.0, 1.0], [0.0, 40.0, 0.0], [-30.0, 5.0, 1.0]])
    return train, test


@pytest.mark.parametrize("name", DETECTORS)
def test_contract(name: str, data: tuple[np.ndarray, np.ndarray]) -> None:
    train, test = data
    det = make_detector(name, seed=1, n_estimators=50, max_samples=256).fit(train)
    scores = det.score_samples(test)
    assert scores.shape == (3,)
    assert np.isfinite(scores).all()
    assert scores[1] < scores[0] and scores[2] < scores[0]  # lower = more abnormal
    contrib = feature_contributions(det, test)
    assert contrib.shape == (3, 3)
    assert (contrib >= 0).all()
    np.testing.assert_allclose(contrib[1:].sum(axis=1), 1.0)
    assert contrib[1].argmax() == 1
    assert contrib[2].argmax() == 0
    assert name in DETECTOR_MODEL_NAMES
    assert DETECTOR_MODEL_NAMES[name].startswith("nids-")


@pytest.mark.parametrize("name", DETECTORS)
def test_deterministic_for_a_seed(name: str, data: tuple[np.ndarray, np.ndarray]) -> None:
    train, test = data
    a = make_detector(name, seed=3, n_estimators=30, max_samples=128).fit(train)
    b = clone(a).fit(train)
    np.testing.assert_array_equal(a.score_samples(test), b.score_samples(test))


def test_default_is_plain_sklearn_isolation_forest() -> None:
    det = make_detector("isoforest", seed=7, n_estimators=10, max_samples=64)
    assert type(det) is IsolationForest
    assert det.random_state == 7
    assert DETECTOR_MODEL_NAMES["isoforest"] == "nids-isoforest"


def test_hbos_surprise_is_relative_to_the_usual_bin() -> None:
    train = np.column_stack([np.r_[np.zeros(90), np.ones(10)], np.zeros(100)])
    det = HBOS(n_bins=10).fit(train)
    s = det.score_samples(np.array([[0.0, 0.0], [1.0, 0.0], [5.0, 0.0]]))
    assert s[0] == 0.0  # the most common value costs nothing
    assert s[0] > s[1] > s[2]  # rare bin, then outside the training range
    np.testing.assert_allclose(s[1], -np.log((90 + 0.5) / (10 + 0.5)))


def test_errors() -> None:
    with pytest.raises(ConfigError, match="unknown detector"):
        make_detector("nope", seed=0)
    with pytest.raises(TrainingError, match="at least 2"):
        HBOS().fit(np.zeros((1, 3)))
    det = HBOS().fit(np.zeros((10, 3)))
    with pytest.raises(TrainingError, match="fitted on 3 features"):
        det.score_samples(np.zeros((2, 4)))
    assert np.isfinite(det.score_samples(np.array([[np.nan, np.inf, -np.inf]]))).all()
