"""Stratified sampling: keys depend only on (seed, file, row), rates keep every stratum."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from flow_samples import make_flows
from nids.batch.sampling import SamplePlan, sample_keys, strata


def test_keys_are_a_pure_uniform_function_of_seed_file_and_row() -> None:
    rows = np.arange(200_000)
    keys = sample_keys("s3://b/a.parquet", rows, 7)
    np.testing.assert_array_equal(keys, sample_keys("s3://b/a.parquet", rows, 7))
    np.testing.assert_array_equal(
        keys[5000:6000], sample_keys("s3://b/a.parquet", rows[5000:6000], 7)
    )
    assert ((keys >= 0) & (keys < 1)).all()
    # uniform: each decile holds ~10% (binomial sd ~0.07 percentage points)
    deciles = np.bincount((keys * 10).astype(int), minlength=10) / len(keys)
    assert np.abs(deciles - 0.1).max() < 0.003
    other_seed = sample_keys("s3://b/a.parquet", rows, 8)
    other_file = sample_keys("s3://b/b.parquet", rows, 7)
    assert abs(np.corrcoef(keys, other_seed)[0, 1]) < 0.01
    assert abs(np.corrcoef(keys, other_file)[0, 1]) < 0.01


def _identified(flows: pd.DataFrame) -> pd.DataFrame:
    return flows.assign(source_file="f.parquet", source_row=np.arange(len(flows)))


def test_strata_are_utc_date_hour_and_label() -> None:
    flows = make_flows(3, start="2025-11-01T23:30:00", days=0.01)
    flows.loc[1, "label"] = None
    flows.loc[2, "label"] = "Malicious"
    assert list(strata(flows)) == [
        "2025-11-01/23/benign",
        "2025-11-01/23/unlabelled",
        "2025-11-01/23/malicious",
    ]


def test_plan_is_proportional_with_a_floor_for_small_strata() -> None:
    flows = _identified(make_flows(20_000, seed=2, attack_share=0.01, days=1.0))
    counts = Counter(strata(flows))
    plan = SamplePlan(counts, max_rows=2000, min_per_stratum=20, seed=1)
    kept = flows[plan.keep(flows)]
    kept_counts = Counter(strata(kept))
    assert set(kept_counts) == set(counts)  # every hour and label is represented
    for name, n in counts.items():
        expected = n * plan.rates[name]
        assert plan.rates[name] >= 0.1 - 1e-12
        assert abs(kept_counts[name] - expected) <= 4 * np.sqrt(expected) + 1
    small = [name for name, n in counts.items() if n < 200]
    assert small and all(plan.rates[name] == min(1.0, 20 / counts[name]) for name in small)
    assert 1900 < len(kept) < 2600


def test_selection_does_not_depend_on_how_the_archive_is_chunked() -> None:
    flows = _identified(make_flows(5000, seed=4, days=1.0))
    plan = SamplePlan(Counter(strata(flows)), max_rows=500, min_per_stratum=5, seed=9)
    whole = plan.keep(flows)
    parts = np.concatenate([plan.keep(flows.iloc[a : a + 777]) for a in range(0, 5000, 777)])
    np.testing.assert_array_equal(whole, parts)
