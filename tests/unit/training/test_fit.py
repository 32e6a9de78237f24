"""Fitting refuses data it cannot learn from; fitting is reproducible."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import IsolationForest
from sklearn.pipeline import Pipeline

from flow_samples import make_flows
from nids.errors import TrainingError
from nids.model.pipeline import build_pipeline
from nids.model.scorer import Scorer
from nids.settings import Settings
from nids.training.trainer import fit_pipeline

SETTINGS = Settings(n_estimators=15, max_samples=64)


class _Features:
    """A feature step whose output is fixed by the test."""

    def __init__(self, matrix: np.ndarray) -> None:
        self.matrix = matrix

    def fit(self, df: pd.DataFrame) -> _Features:
        return self

    def transform(self, df: pd.DataFrame, state: object = None) -> np.ndarray:
        return self.matrix

    def get_feature_names_out(self) -> np.ndarray:
        return np.array([f"f{i}" for i in range(self.matrix.shape[1])])


def _pipeline(matrix: np.ndarray) -> Pipeline:
    return Pipeline([("features", _Features(matrix)), ("detector", IsolationForest())])


def test_all_constant_features_are_refused() -> None:
    flows = make_flows(50, seed=1)
    with pytest.raises(TrainingError, match="all 3 features are constant over the 50"):
        fit_pipeline(_pipeline(np.ones((50, 3))), flows)


def test_non_finite_features_are_refused_by_name() -> None:
    matrix = np.random.default_rng(0).normal(size=(50, 3))
    matrix[7, 1] = np.inf
    with pytest.raises(TrainingError, match="non-finite feature values in: f1"):
        fit_pipeline(_pipeline(matrix), make_flows(50, seed=1))


def test_max_samples_is_clamped_to_the_rows_available() -> None:
    pipeline = build_pipeline(SETTINGS.with_overrides(max_samples=512))
    fit_pipeline(pipeline, make_flows(40, seed=1))
    assert pipeline.named_steps["detector"].get_params()["max_samples"] == 40


def test_same_data_and_seed_give_identical_scores_other_seed_differs() -> None:
    flows = make_flows(500, seed=9)

    def scores(seed: int) -> np.ndarray:
        pipeline = build_pipeline(SETTINGS.with_overrides(seed=seed))
        fit_pipeline(pipeline, flows.iloc[:300])
        return Scorer(pipeline, 0.5).score(flows.iloc[300:])

    first, second = scores(1), scores(1)
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, scores(2))


def test_profile_train_scores_sample_the_fit_matrix_above_the_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from nids.training import trainer

    flows = make_flows(400, seed=4)
    pipeline = build_pipeline(SETTINGS)
    x_fit = fit_pipeline(pipeline, flows)
    scorer = Scorer(pipeline, 0.5)
    full = scorer.score_features(x_fit)
    np.testing.assert_array_equal(trainer.profile_train_scores(scorer, x_fit, seed=1), full)

    monkeypatch.setattr(trainer, "PROFILE_SCORE_ROWS", 150)
    sampled = trainer.profile_train_scores(scorer, x_fit, seed=1)
    assert sampled.shape == (150,)
    rows = np.sort(np.random.default_rng(1).choice(400, size=150, replace=False))
    np.testing.assert_array_equal(sampled, full[rows])
    np.testing.assert_array_equal(trainer.profile_train_scores(scorer, x_fit, seed=1), sampled)


def test_evaluating_precomputed_scores_equals_evaluating_the_frame() -> None:
    from nids.training.evaluate import evaluate_frame, evaluate_scores

    flows = make_flows(600, seed=6, attack_share=0.1)
    pipeline = build_pipeline(SETTINGS)
    fit_pipeline(pipeline, flows.iloc[:400])
    test = flows.iloc[400:]
    scorer = Scorer(pipeline, 0.55)
    framed = evaluate_frame(scorer, test, k=20)
    direct = evaluate_scores(test, scorer.score(test), 0.55, k=20, scoring_s=1.0)
    np.testing.assert_array_equal(direct.scores, framed.scores)
    np.testing.assert_array_equal(direct.is_alert, framed.scores > 0.55)
    assert direct.metrics["throughput_flows_per_s"] == 200.0
    for key in ("auc", "pr_auc", "precision_at_k", "recall", "alerts", "score_p99"):
        assert direct.metrics[key] == framed.metrics[key]
