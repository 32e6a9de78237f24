"""The alert threshold, calibrated on held-out benign traffic.

A flow alerts when its score is strictly above the threshold. With ``n`` held-out
benign scores sorted ascending ``s[0] <= ... <= s[n-1]`` and a target false-positive
rate ``f``, at most ``m = floor(f * n)`` benign flows may alert, so the quantile rule
picks ``s[n-1-m]``: exactly the benign flows above it (at most ``m``, fewer on ties)
alert. An alert budget (alerts per day) is turned into a rate first:
``f = alerts_per_day / flows_per_day``.

When ``f * n < 1`` the sample cannot resolve the quantile (the rule returns the
maximum); ``method="tail"`` then fits a generalised Pareto distribution to the
exceedances over the sample's 90th percentile (peaks over threshold) and extrapolates.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal

import numpy as np

from nids.errors import TrainingError

if TYPE_CHECKING:
    from nids.settings import Settings

Method = Literal["quantile", "tail"]
#: Share of the benign sample above which the tail is modelled.
TAIL_START_QUANTILE = 0.9
#: Fewer exceedances than this make a Pareto fit meaningless: use the quantile rule.
MIN_TAIL_POINTS = 20


def target_rate(
    *,
    target_fpr: float | None,
    alerts_per_day: float | None,
    flows_per_day: float | None,
) -> float:
    """The false-positive rate to calibrate for (an alert budget takes precedence)."""
    if alerts_per_day is not None:
        if not flows_per_day or flows_per_day <= 0:
            raise TrainingError("an alerts-per-day budget needs the traffic rate (flows per day)")
        if alerts_per_day <= 0:
            raise TrainingError(f"alerts per day must be positive, got {alerts_per_day}")
        return min(alerts_per_day / flows_per_day, 1.0)
    if target_fpr is None:
        raise TrainingError("give a target false-positive rate or an alerts-per-day budget")
    if not 0 < target_fpr < 1:
        raise TrainingError(f"target false-positive rate must be in (0, 1), got {target_fpr}")
    return target_fpr


def quantile_threshold(benign_scores: np.ndarray, rate: float) -> float:
    """Smallest sample score that lets at most ``floor(rate * n)`` benign flows alert."""
    s = np.sort(np.asarray(benign_scores, dtype=np.float64))
    allowed = math.floor(rate * len(s) + 1e-9)  # tolerance: 0.01 * 300 must be 3, not 2
    return float(s[len(s) - 1 - min(allowed, len(s) - 1)])


def tail_threshold(benign_scores: np.ndarray, rate: float) -> float:
    """Peaks-over-threshold estimate of the ``1 - rate`` quantile (GPD fit)."""
    from scipy.stats import genpareto

    s = np.asarray(benign_scores, dtype=np.float64)
    u = float(np.quantile(s, TAIL_START_QUANTILE))
    excess = s[s > u] - u
    p_exceed = len(excess) / len(s)
    if len(excess) < MIN_TAIL_POINTS or rate >= p_exceed or np.ptp(excess) == 0:
        return quantile_threshold(s, rate)
    shape, _, scale = genpareto.fit(excess, floc=0.0)
    return u + float(genpareto.ppf(1.0 - rate / p_exceed, shape, loc=0.0, scale=scale))


def choose_threshold(
    benign_scores: np.ndarray,
    *,
    target_fpr: float | None = None,
    alerts_per_day: float | None = None,
    flows_per_day: float | None = None,
    method: Method = "quantile",
) -> float:
    """Alert threshold on held-out benign scores for a target FPR or an alert budget."""
    scores = np.asarray(benign_scores, dtype=np.float64)
    if scores.size == 0:
        raise TrainingError("no held-out benign flows to calibrate the alert threshold on")
    if not np.isfinite(scores).all():
        raise TrainingError("held-out benign scores contain NaN or infinite values")
    rate = target_rate(
        target_fpr=target_fpr, alerts_per_day=alerts_per_day, flows_per_day=flows_per_day
    )
    if method == "quantile":
        return quantile_threshold(scores, rate)
    if method == "tail":
        return tail_threshold(scores, rate)
    raise TrainingError(f"unknown threshold method {method!r}", hint="quantile or tail")


def settings_threshold(
    benign_scores: np.ndarray, settings: Settings, *, flows_per_day: float | None
) -> float:
    """:func:`choose_threshold` with the settings' target FPR or budget and method."""
    return choose_threshold(
        benign_scores,
        target_fpr=settings.target_fpr,
        alerts_per_day=settings.alerts_per_day,
        flows_per_day=flows_per_day,
        method=settings.threshold_method,
    )
