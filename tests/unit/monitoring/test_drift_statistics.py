"""Two-sample statistics: agreement with scipy, effect sizes, multiple testing."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from nids.monitoring import stats


@pytest.mark.parametrize(("n1", "n2"), [(5000, 3000), (200, 300), (5000, 40)])
def test_compare_sorted_matches_scipy(n1: int, n2: int) -> None:
    rng = np.random.default_rng(n1 + n2)
    # rounded values: ties, as in discrete flow features
    ref = np.sort(np.round(rng.normal(size=n1), 1))
    cur = np.round(rng.normal(0.1, 1.2, size=n2), 1)
    d, p, w = stats.compare_sorted(ref, cur)
    exact = n1 * n2 <= 250_000
    expected = sps.ks_2samp(ref, cur, method="auto" if exact else "asymp")
    assert d == pytest.approx(expected.statistic, abs=1e-12)
    if exact:
        assert p == pytest.approx(expected.pvalue, rel=1e-9)
    else:  # asymptotic Kolmogorov: a little conservative, never less than scipy's
        assert expected.pvalue <= p <= expected.pvalue * 1.1 + 1e-3
    assert w == pytest.approx(sps.wasserstein_distance(ref, cur), rel=1e-9)


def test_psi_zero_for_same_histogram_and_grows_with_shift() -> None:
    rng = np.random.default_rng(1)
    ref = rng.normal(size=20_000)
    edges = stats.bin_edges(ref)
    same = stats.psi(stats.histogram(ref, edges), stats.histogram(ref, edges))
    small = stats.psi(stats.histogram(ref, edges), stats.histogram(ref + 0.1, edges))
    large = stats.psi(stats.histogram(ref, edges), stats.histogram(ref + 1.0, edges))
    assert same == 0.0
    assert 0 < small < 0.02
    assert large > 0.3


def test_bin_edges_collapse_for_discrete_data() -> None:
    edges = stats.bin_edges(np.array([0.0] * 90 + [1.0] * 10))
    assert edges.tolist() == [0.5]
    assert stats.histogram(np.array([0.0, 1.0, 1.0]), edges).tolist() == [1, 2]
    # a point mass nudged by a tiny amount stays in its bin: PSI stays ~0
    ref = np.array([0.0] * 800 + list(np.linspace(1, 5, 200)))
    edges = stats.bin_edges(ref)
    shifted = stats.histogram(ref + 0.01, edges)
    assert stats.psi(stats.histogram(ref, edges), shifted) < 0.01


def test_adjust_pvalues() -> None:
    p = np.array([0.01, 0.04, 0.03, 0.5])
    np.testing.assert_allclose(stats.adjust_pvalues(p, "bonferroni"), [0.04, 0.16, 0.12, 1.0])
    # BH: sorted p * m / rank, then cumulative minimum from the top
    np.testing.assert_allclose(stats.adjust_pvalues(p, "bh"), [0.04, 0.05333333, 0.05333333, 0.5])
    np.testing.assert_array_equal(stats.adjust_pvalues(p, "none"), p)


def test_normalised_wasserstein_on_constant_reference() -> None:
    assert stats.normalised_wasserstein(0.0, 0.0) == 0.0
    assert stats.normalised_wasserstein(0.5, 0.0) == float("inf")
    assert stats.normalised_wasserstein(0.5, 2.0) == 0.25


def test_chi2_and_binomial() -> None:
    _, p_same = stats.chi2_test(np.array([500, 300, 200]), np.array([50, 30, 20]))
    _, p_diff = stats.chi2_test(np.array([500, 300, 200]), np.array([10, 30, 60]))
    assert p_same == pytest.approx(1.0)
    assert p_diff < 1e-10
    assert stats.binomial_rate_test(0.01, 10, 1000) > 0.5
    assert stats.binomial_rate_test(0.01, 40, 1000) < 1e-6
