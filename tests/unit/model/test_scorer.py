"""The Scorer: scores equal to sklearn's, alerts at the threshold, explained alerts."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from flow_samples import make_flows
from nids.errors import SchemaError
from nids.model.pipeline import build_pipeline
from nids.model.scorer import OUTPUT_COLUMNS, Scorer
from nids.settings import Settings
from nids.training.trainer import fit_pipeline


@pytest.fixture(scope="module")
def fitted() -> tuple[Any, pd.DataFrame]:
    flows = make_flows(1200, seed=7, attack_share=0.05)
    pipeline = build_pipeline(Settings(n_estimators=30, max_samples=128, seed=3))
    fit_pipeline(pipeline, flows.iloc[:800])
    return pipeline, flows.iloc[800:]


def test_scores_are_negated_sklearn_score_samples(fitted: tuple[Any, pd.DataFrame]) -> None:
    pipeline, flows = fitted
    scorer = Scorer(pipeline, 0.5)
    x = pipeline.named_steps["features"].transform(flows)
    expected = -pipeline.named_steps["detector"].score_samples(x)
    np.testing.assert_allclose(scorer.score(flows), expected, atol=1e-9)


def test_attacks_score_higher_than_benign(fitted: tuple[Any, pd.DataFrame]) -> None:
    pipeline, flows = fitted
    scores = Scorer(pipeline, 0.5).score(flows)
    malicious = (flows["label"] == "malicious").to_numpy()
    assert scores[malicious].min() > np.median(scores[~malicious])


def test_predict_frame_alerts_strictly_above_threshold_with_reasons(
    fitted: tuple[Any, pd.DataFrame],
) -> None:
    pipeline, flows = fitted
    probe = Scorer(pipeline, 0.0).score(flows)
    threshold = float(np.quantile(probe, 0.9))
    out = Scorer(pipeline, threshold, top_k=2).predict_frame(flows)
    assert list(out.columns) == OUTPUT_COLUMNS
    assert out.index.equals(flows.index)
    assert list(out["community_id"]) == list(flows["community_id"])
    np.testing.assert_array_equal(out["is_alert"], probe > threshold)
    assert (out["threshold"] == threshold).all()
    for is_alert, text in zip(out["is_alert"], out["top_features"], strict=True):
        items = json.loads(text)
        if not is_alert:
            assert items == []
            continue
        assert len(items) == 2
        assert set(items[0]) == {"feature", "value", "contribution", "reason"}
        assert items[0]["contribution"] >= items[1]["contribution"]
        assert items[0]["reason"]


def test_explain_all_and_none(fitted: tuple[Any, pd.DataFrame]) -> None:
    pipeline, flows = fitted
    scorer = Scorer(pipeline, 1.0)  # nothing alerts
    head = flows.head(5)
    assert (scorer.predict_frame(head, explain="none")["top_features"] == "[]").all()
    assert all(
        len(json.loads(t)) == 3 for t in scorer.predict_frame(head, explain="all")["top_features"]
    )
    with pytest.raises(SchemaError, match="explain"):
        scorer.predict_frame(head, explain="some")  # type: ignore[arg-type]


def test_empty_frame_scores_to_empty(fitted: tuple[Any, pd.DataFrame]) -> None:
    pipeline, flows = fitted
    out = Scorer(pipeline, 0.5).predict_frame(flows.head(0))
    assert len(out) == 0 and list(out.columns) == OUTPUT_COLUMNS


class _MeanDistance:
    """A non-forest detector: distance from the training mean."""

    def fit(self, x: np.ndarray) -> _MeanDistance:
        self.mean_ = x.mean(axis=0)
        return self

    def score_samples(self, x: np.ndarray) -> np.ndarray:
        return -np.abs(x - self.mean_).sum(axis=1)

    def feature_contributions(self, x: np.ndarray) -> np.ndarray:
        d = np.abs(x - self.mean_)
        return d / np.maximum(d.sum(axis=1, keepdims=True), 1e-12)


def test_other_detectors_use_their_own_scores_and_contributions() -> None:
    flows = make_flows(300, seed=2)
    pipeline = build_pipeline(Settings(), detector=_MeanDistance())
    x = fit_pipeline(pipeline, flows)
    scorer = Scorer(pipeline, 0.0)
    np.testing.assert_allclose(scorer.score(flows), np.abs(x - x.mean(axis=0)).sum(axis=1))
    np.testing.assert_allclose(scorer.contributions(x).sum(axis=1)[x.std(axis=1) > 0], 1.0)
