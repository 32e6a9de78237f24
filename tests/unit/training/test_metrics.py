"""Detection metrics on a hand-computed example."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nids.training.metrics import compute_metrics, malicious_labels, score_summary

Y = np.array([0, 0, 1, 1, 0, 1])
SCORES = np.array([0.1, 0.4, 0.35, 0.8, 0.2, 0.9])
ALERT = SCORES > 0.3  # four alerts: 0.4 (benign), 0.35, 0.8, 0.9
TIMES = ["2025-01-01 00:00", "2025-01-01 06:00", "2025-01-02 00:00", "2025-01-02 00:00"]
TS = pd.to_datetime([*TIMES, "2025-01-02 00:00", "2025-01-03 00:00"], utc=True)


def test_label_metrics_match_hand_computation() -> None:
    m = compute_metrics(Y, SCORES, ALERT, TS, k=2)
    # 8 of the 9 (malicious, benign) pairs are ordered correctly: 0.35 < 0.4.
    assert m["auc"] == pytest.approx(8 / 9)
    # ranks of the malicious flows: 1, 2, 4 -> (1/1 + 2/2 + 3/4) / 3
    assert m["pr_auc"] == pytest.approx((1 + 1 + 0.75) / 3)
    assert m["precision_at_k"] == 1.0  # top 2 are both malicious
    assert m["precision_at_100"] == 0.5  # fewer than 100 rows: all 6
    assert m["recall"] == 1.0
    assert m["false_positive_rate"] == pytest.approx(1 / 3)
    assert m["precision"] == pytest.approx(3 / 4)
    assert m["alerts_per_day"] == 2.0  # 4 alerts over 2 days
    assert m["alert_rate"] == pytest.approx(4 / 6)


def test_precision_at_k_counts_the_k_highest_scores() -> None:
    assert compute_metrics(Y, SCORES, ALERT, TS, k=3)["precision_at_k"] == pytest.approx(2 / 3)


def test_without_labels_only_volume_metrics_are_reported() -> None:
    m = compute_metrics(None, SCORES, ALERT, TS, k=2)
    assert set(m) == {"alerts", "alert_rate", "alerts_per_day"}


def test_one_class_leaves_out_metrics_that_need_both() -> None:
    m = compute_metrics(np.zeros(6, dtype=int), SCORES, ALERT, TS, k=2)
    assert "auc" not in m and "pr_auc" not in m and "recall" not in m
    assert m["false_positive_rate"] == pytest.approx(4 / 6)


def test_a_single_instant_has_no_alerts_per_day() -> None:
    same = pd.to_datetime(["2025-01-01"] * 6, utc=True)
    assert "alerts_per_day" not in compute_metrics(Y, SCORES, ALERT, same, k=2)


def test_labels_map_unknown_and_missing_to_not_malicious() -> None:
    df = pd.DataFrame({"label": pd.array(["benign", "malicious", "unknown", None], dtype="str")})
    assert list(malicious_labels(df)) == [0, 1, 0, 0]  # type: ignore[arg-type]
    assert malicious_labels(pd.DataFrame({"label": pd.array([None, None], dtype="str")})) is None
    assert malicious_labels(pd.DataFrame({"x": [1]})) is None


def test_score_summary() -> None:
    s = score_summary(np.arange(1001, dtype=float))
    assert s["prediction_mean"] == 500.0
    assert s["score_p50"] == 500.0
    assert s["score_p90"] == 900.0
    assert s["score_p999"] == pytest.approx(999.0)
    assert (s["score_min"], s["score_max"]) == (0.0, 1000.0)
