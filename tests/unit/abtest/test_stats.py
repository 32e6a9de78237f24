"""Proportion statistics against textbook values."""

from __future__ import annotations

import pytest

from nids.abtest.stats import required_sample_size, two_proportion_test, wilson_interval


def test_wilson_interval() -> None:
    lo, hi = wilson_interval(5, 10)
    assert lo == pytest.approx(0.2366, abs=1e-4) and hi == pytest.approx(0.7634, abs=1e-4)
    lo, hi = wilson_interval(0, 50)
    assert lo == pytest.approx(0.0, abs=1e-12) and hi == pytest.approx(0.0714, abs=1e-3)
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_two_proportion_test() -> None:
    z, p = two_proportion_test(40, 100, 60, 100)
    assert z == pytest.approx(2.8284, abs=1e-4) and p == pytest.approx(0.00468, abs=1e-5)
    z, p = two_proportion_test(60, 100, 40, 100)
    assert z < 0
    assert two_proportion_test(0, 10, 0, 10) == (0.0, 1.0)


def test_required_sample_size() -> None:
    # 50 % vs 55 %, alpha 0.05 two-sided, power 0.8: the classic 1,565 per arm
    assert required_sample_size(0.5, 0.05, alpha=0.05, power=0.8) == 1565
    small = required_sample_size(0.9, 0.05, alpha=0.05, power=0.8)
    assert 600 < small < 1565  # far from 0.5 the variance is smaller
    assert required_sample_size(0.5, 0.05, alpha=0.05, power=0.9) > 1565
