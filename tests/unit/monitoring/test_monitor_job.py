"""How a monitoring check gets a window's features and scores (model stand-in)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nids.features import FEATURE_GROUPS
from nids.monitoring.drift import Reference
from nids.monitoring.job import _Model, _score_window, context_columns

CTX = FEATURE_GROUPS["context"][0]
NAMES = ["log_src_bytes", CTX]


class FakeScorer:
    """Features: [src_bytes, 100]; score = src_bytes / 1000; threshold 0.5."""

    feature_names = NAMES
    threshold = 0.5

    def features(self, df: pd.DataFrame) -> np.ndarray:
        return np.column_stack([df["src_bytes"].to_numpy(float), np.full(len(df), 100.0)])

    def score_features(self, x: np.ndarray) -> np.ndarray:
        return x[:, 0] / 1000


def model() -> _Model:
    return _Model(Reference.__new__(Reference), FakeScorer(), "m", "2", "models:/m/2")


def log_rows(n: int, **extra: object) -> pd.DataFrame:
    return pd.DataFrame({"src_bytes": np.arange(n) * 100, "score": 9.0, "is_alert": True, **extra})


def test_flow_files_are_featurised_and_scored_by_the_model() -> None:
    frame, scores, alerts, notes = _score_window(
        model(), log_rows(10).drop(columns=["score", "is_alert"])
    )
    assert frame[f"feature:{CTX}"].tolist() == [100.0] * 10
    np.testing.assert_allclose(scores, np.arange(10) / 10)
    assert alerts.tolist() == [s > 0.5 for s in np.arange(10) / 10]
    assert notes == []


def test_logged_online_features_are_used_as_logged() -> None:
    rows = log_rows(4, **{"feature:log_src_bytes": 2000.0, f"feature:{CTX}": 7.0})
    frame, scores, alerts, _ = _score_window(model(), rows)
    assert frame[f"feature:{CTX}"].tolist() == [7.0] * 4  # not recomputed
    assert scores.tolist() == [2.0] * 4 and alerts is None  # alerts follow from scores


def test_sampled_log_without_features_keeps_service_scores_and_skips_context() -> None:
    rows = log_rows(6, sample_rate=0.1, model_version=["2"] * 5 + ["1"])
    frame, scores, alerts, notes = _score_window(model(), rows)
    assert len(frame) == 5  # version 1's row left out
    assert scores.tolist() == [9.0] * 5 and alerts.tolist() == [True] * 5
    assert any("host-context features not compared" in n for n in notes)
    assert context_columns(FakeScorer()) == {f"feature:{CTX}"}
    other = log_rows(3, sample_rate=0.1, model_version="1")
    _frame, scores, alerts, notes = _score_window(model(), other)
    assert scores is None and alerts is None
    assert any("not compared" in n for n in notes)
