"""Two-sample statistics used by drift detection: tests, effect sizes, multiple testing.

Significance and effect size answer different questions. With thousands of flows the
Kolmogorov-Smirnov test rejects for shifts nobody cares about, so drift needs both a
(corrected) significant test AND an effect size above a threshold.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy import special, stats

Correction = Literal["bh", "bonferroni", "none"]

# Smoothing for empty histogram bins: PSI is infinite for a bin one side never hit.
_PSI_EPS = 1e-4
# Up to this n1*n2 the exact KS distribution is cheap enough to compute.
_EXACT_MAX_PRODUCT = 250_000


def ks_test(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    """Two-sample KS statistic and p-value (``scipy.stats.ks_2samp``, as in the spec)."""
    result = stats.ks_2samp(reference, current)
    return float(result.statistic), float(result.pvalue)


def compare_sorted(ref_sorted: np.ndarray, current: np.ndarray) -> tuple[float, float, float]:
    """KS statistic, KS p-value and Wasserstein distance from one pass over both ECDFs.

    ``ref_sorted`` must be sorted (a reference is sorted once and reused across
    windows). The statistic equals ``ks_2samp``'s. The p-value is ``ks_2samp``'s exact
    one for small samples; for large ones it is the asymptotic Kolmogorov
    distribution at the effective size n1*n2/(n1+n2) (``scipy.special.kolmogorov``),
    slightly conservative and ~1000x cheaper than the finite-size correction, which
    costs more than the test itself when a window has dozens of columns.
    """
    cur = np.sort(current)
    n1, n2 = ref_sorted.size, cur.size
    if n1 == 0 or n2 == 0:
        raise ValueError("compare_sorted needs two non-empty samples")
    union = np.sort(np.concatenate([ref_sorted, cur]))
    # ECDF gap at every observed value: its max is KS's D, its integral Wasserstein-1.
    gap = np.abs(
        np.searchsorted(ref_sorted, union, side="right") / n1
        - np.searchsorted(cur, union, side="right") / n2
    )
    distance = float(np.sum(gap[:-1] * np.diff(union)))
    if n1 * n2 <= _EXACT_MAX_PRODUCT:
        statistic, p_value = ks_test(ref_sorted, cur)
    else:
        statistic = float(gap.max())
        p_value = float(special.kolmogorov(np.sqrt(n1 * n2 / (n1 + n2)) * statistic))
    return statistic, p_value, distance


def chi2_test(ref_counts: np.ndarray, cur_counts: np.ndarray) -> tuple[float, float]:
    """Chi-square test of homogeneity between two category-count vectors."""
    table = np.vstack([ref_counts, cur_counts]).astype(float)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return 0.0, 1.0
    result = stats.chi2_contingency(table, correction=False)
    return float(result.statistic), float(result.pvalue)


def binomial_rate_test(ref_rate: float, successes: int, n: int) -> float:
    """Two-sided p-value that ``successes`` of ``n`` came from rate ``ref_rate``."""
    if n == 0:
        return 1.0
    rate = min(max(ref_rate, 1e-6), 1 - 1e-6)  # a zero reference rate must not yield p=0
    return float(stats.binomtest(successes, n, rate).pvalue)


def bin_edges(reference: np.ndarray, n_bins: int = 10) -> np.ndarray:
    """Inner bin edges at reference quantiles, placed midway to the next observed value.

    Midpoints keep point masses (0 for most flows of a count feature, one value of a
    flag) inside one bin, so a tiny shift of such a value cannot jump an edge and
    inflate PSI; discrete data gets no duplicate or spurious bins.
    """
    values = np.sort(np.asarray(reference, dtype=float))
    qs = np.unique(np.quantile(values, np.linspace(0, 1, n_bins + 1)[1:-1], method="inverted_cdf"))
    above = np.searchsorted(values, qs, side="right")
    keep = above < values.size  # the maximum has no value above it: no edge there
    return (qs[keep] + values[above[keep]]) / 2


def histogram(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts per bin for inner ``edges`` (bins are (-inf, e0], (e0, e1], ..., (ek, inf))."""
    idx = np.searchsorted(edges, values, side="left")
    return np.bincount(idx, minlength=len(edges) + 1)


def psi(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    """Population stability index between two histograms over the same bins."""
    ref = ref_counts / max(ref_counts.sum(), 1)
    cur = cur_counts / max(cur_counts.sum(), 1)
    ref = np.clip(ref, _PSI_EPS, None)
    cur = np.clip(cur, _PSI_EPS, None)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def normalised_wasserstein(distance: float, scale: float) -> float:
    """Earth mover's distance in units of the reference standard deviation.

    A constant reference (scale 0) gives 0 when nothing moved and ``inf`` otherwise.
    """
    if scale > 0:
        return distance / scale
    return 0.0 if distance == 0 else float("inf")


def adjust_pvalues(p_values: np.ndarray, method: Correction) -> np.ndarray:
    """Correct p-values for multiple testing: Benjamini-Hochberg, Bonferroni or none."""
    p = np.asarray(p_values, dtype=float)
    if method == "none" or p.size == 0:
        return p.copy()
    if method == "bonferroni":
        return np.minimum(p * p.size, 1.0)
    if method == "bh":
        return np.asarray(stats.false_discovery_control(p, method="bh"), dtype=float)
    raise ValueError(f"unknown correction {method!r}")
