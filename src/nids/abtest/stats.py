"""Proportions: Wilson intervals, the two-proportion z-test and its sample size."""

from __future__ import annotations

import math

from scipy.stats import norm


def wilson_interval(successes: float, n: float, *, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion (sensible at 0, 1 and small n)."""
    if n <= 0:
        return (0.0, 1.0)
    z = float(norm.ppf(0.5 + confidence / 2))
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def two_proportion_test(x_a: float, n_a: float, x_b: float, n_b: float) -> tuple[float, float]:
    """Pooled two-proportion z-test of b versus a: (z, two-sided p-value)."""
    if n_a <= 0 or n_b <= 0:
        return (0.0, 1.0)
    p_a, p_b = x_a / n_a, x_b / n_b
    pooled = (x_a + x_b) / (n_a + n_b)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    if se == 0:
        return (0.0, 1.0)
    z = (p_b - p_a) / se
    return (z, float(2 * norm.sf(abs(z))))


def required_sample_size(p_a: float, effect: float, *, alpha: float, power: float) -> int:
    """Observations per arm for a two-sided test to detect ``p_a`` vs ``p_a ± effect``.

    The harder direction (the one closer to 0.5) is used, so the figure holds whichever
    way the candidate differs.
    """
    p_a = min(max(p_a, 1e-6), 1 - 1e-6)
    z_a = float(norm.ppf(1 - alpha / 2))
    z_b = float(norm.ppf(power))
    worst = 0
    for p_b in (p_a + effect, p_a - effect):
        if not 0 < p_b < 1:
            continue
        p_bar = (p_a + p_b) / 2
        num = z_a * math.sqrt(2 * p_bar * (1 - p_bar)) + z_b * math.sqrt(
            p_a * (1 - p_a) + p_b * (1 - p_b)
        )
        worst = max(worst, math.ceil((num / effect) ** 2))
    return max(worst, 1)
