"""Threshold calibration on held-out benign scores (hand-computed cases)."""

from __future__ import annotations

import numpy as np
import pytest

from nids.errors import TrainingError
from nids.training.threshold import choose_threshold

SCORES = np.arange(1.0, 11.0)  # 1 .. 10, shuffled order must not matter
SHUFFLED = np.array([4.0, 10.0, 1.0, 7.0, 3.0, 9.0, 2.0, 8.0, 6.0, 5.0])


@pytest.mark.parametrize(
    ("fpr", "expected", "alerts"),
    [(0.1, 9.0, 1), (0.05, 10.0, 0), (0.25, 8.0, 2), (0.3, 7.0, 3)],
)
def test_quantile_rule_allows_floor_fpr_times_n_false_positives(
    fpr: float, expected: float, alerts: int
) -> None:
    threshold = choose_threshold(SHUFFLED, target_fpr=fpr)
    assert threshold == expected
    assert int((threshold < SCORES).sum()) == alerts


def test_ties_never_exceed_the_budget() -> None:
    scores = np.array([1.0, 1.0, 1.0, 5.0, 5.0])
    threshold = choose_threshold(scores, target_fpr=0.2)  # one false positive allowed
    assert threshold == 5.0
    assert int((threshold < scores).sum()) == 0


def test_alert_budget_becomes_a_rate_of_the_traffic() -> None:
    # 2 alerts/day at 10 flows/day = rate 0.2: two of ten benign flows may alert.
    assert choose_threshold(SHUFFLED, alerts_per_day=2, flows_per_day=10) == 8.0


def test_alert_budget_takes_precedence_over_target_fpr() -> None:
    assert choose_threshold(SHUFFLED, target_fpr=0.1, alerts_per_day=3, flows_per_day=10) == 7.0


def test_tail_fit_extrapolates_beyond_the_sample() -> None:
    rng = np.random.default_rng(0)
    scores = rng.exponential(1.0, 5000)
    true_quantile = -np.log(1e-4)  # 9.21 for Exp(1)
    tail = choose_threshold(scores, target_fpr=1e-4, method="tail")
    quantile = choose_threshold(scores, target_fpr=1e-4, method="quantile")
    print(f"tail {tail:.3f} quantile {quantile:.3f} true {true_quantile:.3f}")
    assert quantile == scores.max()  # the sample cannot resolve 1e-4 of 5000
    assert abs(tail - true_quantile) / true_quantile < 0.15


def test_tail_falls_back_to_the_quantile_when_the_rate_is_resolvable() -> None:
    assert choose_threshold(SHUFFLED, target_fpr=0.1, method="tail") == 9.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"target_fpr": 0.0}, "target false-positive rate"),
        ({"target_fpr": 1.0}, "target false-positive rate"),
        ({}, "target false-positive rate or an alerts-per-day"),
        ({"alerts_per_day": 5.0}, "flows per day"),
        ({"target_fpr": 0.1, "method": "median"}, "unknown threshold method"),
    ],
)
def test_bad_arguments_are_training_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(TrainingError, match=message):
        choose_threshold(SCORES, **kwargs)


def test_no_benign_scores_or_non_finite_scores_are_refused() -> None:
    with pytest.raises(TrainingError, match="no held-out benign"):
        choose_threshold(np.array([]), target_fpr=0.1)
    with pytest.raises(TrainingError, match="NaN or infinite"):
        choose_threshold(np.array([1.0, np.nan]), target_fpr=0.1)


def test_settings_threshold_applies_the_settings_rate_budget_and_method() -> None:
    from nids.settings import Settings
    from nids.training.threshold import settings_threshold

    assert settings_threshold(SHUFFLED, Settings(target_fpr=0.25), flows_per_day=None) == 8.0
    budget = Settings(target_fpr=0.1, alerts_per_day=3)
    assert settings_threshold(SHUFFLED, budget, flows_per_day=10) == 7.0
    with pytest.raises(TrainingError, match="needs the traffic rate"):
        settings_threshold(SHUFFLED, budget, flows_per_day=None)
