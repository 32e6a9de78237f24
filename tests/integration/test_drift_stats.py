"""Statistical suite for drift detection on generated traffic (prints measured rates).

One generated network (fixed seed) provides a two-week reference period and a
production period. Windows are random samples of 3,000 scored flows from a
production pool, as the prediction log samples the service's traffic (host-context
features computed over ALL traffic, in time order, before sampling). Every period
covers whole weeks, so the time-of-day and weekday mix of a window matches the
reference unless a scenario changes it.

- Same-distribution windows: window false-alarm rate <= 5 %.
- Each generator drift scenario: detection >= 95 %.
- A 0.02 sigma shift of every feature at 100k flows is significant to KS yet not drift.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from nids.monitoring.drift import Reference, compare_to_reference
from nids.monitoring.reference import build_reference_profile

pytestmark = pytest.mark.slow

SEED = 7
WEEK = 7.0
N_REF = 100_000  # two weeks of reference traffic (~7,100 flows a day)
WINDOW = 3000
N_WINDOWS = 100
START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday: periods are whole weeks


class Setup:
    """The fitted model, its reference and the baseline production pool."""

    def __init__(self) -> None:
        from nids.data.generator import generate_flows
        from nids.model.pipeline import build_pipeline
        from nids.model.scorer import Scorer
        from nids.settings import Settings

        stream = generate_flows(2 * N_REF, days=4 * WEEK, attack_share=0.02, seed=SEED, start=START)
        cut = START + timedelta(days=2 * WEEK)
        reference = stream[stream["ts"] < cut].reset_index(drop=True)
        pipeline = build_pipeline(Settings(n_estimators=50, max_samples=256, seed=SEED))
        pipeline.fit(reference)
        self.scorer = Scorer(pipeline, threshold=0.0)
        x = self.scorer.features(stream)
        scores = self.scorer.score_features(x)
        is_ref = (stream["ts"] < cut).to_numpy()
        self.scorer.threshold = float(np.quantile(scores[is_ref], 0.995))
        self.columns = [f"feature:{n}" for n in self.scorer.feature_names]
        frame = pd.concat([stream, pd.DataFrame(x, columns=self.columns)], axis=1)
        self.stream, self.x, self.scores = stream, x, scores
        self.profile = build_reference_profile(
            reference,
            x[is_ref],
            self.scorer.feature_names,
            scores[is_ref],
            scores[is_ref],
            seed=SEED,
        )
        self.reference = Reference(self.profile)
        self.pool = frame[~is_ref].reset_index(drop=True)
        self.pool_scores = scores[~is_ref]

    def drifted_pool(self, scenario: str) -> tuple[pd.DataFrame, np.ndarray]:
        """A week of drifted traffic right after the reference (same network and rate).

        Host-context windows are 60 s, so features are warm after the first minute.
        """
        from nids.data.generator import generate_flows

        stream = generate_flows(
            N_REF // 2,
            days=WEEK,
            attack_share=0.02,
            seed=SEED,
            drift=scenario,
            start=START + timedelta(days=2 * WEEK),
        )
        x = self.scorer.features(stream)
        frame = pd.concat([stream, pd.DataFrame(x, columns=self.columns)], axis=1)
        return frame, self.scorer.score_features(x)

    def window_rate(self, pool: pd.DataFrame, scores: np.ndarray, seed: int) -> tuple[float, dict]:
        """Share of N_WINDOWS random windows declared drifted, and which columns drove it."""
        rng = np.random.default_rng(seed)
        hits, columns = 0, {}
        for _ in range(N_WINDOWS):
            idx = np.sort(rng.choice(len(pool), WINDOW, replace=False))
            result = compare_to_reference(
                self.reference,
                pool.iloc[idx],
                scores=scores[idx],
                threshold=self.scorer.threshold,
            )
            hits += result.drifted
            for name in result.drifted_columns:
                columns[name] = columns.get(name, 0) + 1
        top = dict(sorted(columns.items(), key=lambda kv: -kv[1])[:5])
        return hits / N_WINDOWS, top


@pytest.fixture(scope="module")
def setup() -> Setup:
    return Setup()


def test_same_distribution_false_alarm_rate(setup: Setup) -> None:
    rate, columns = setup.window_rate(setup.pool, setup.pool_scores, seed=1)
    n_tests = len(setup.profile["numeric"]) + len(setup.profile["categorical"]) + 2
    print(
        f"\nsame distribution: window false-alarm rate {rate:.1%} over {N_WINDOWS} "
        f"windows of {WINDOW} flows, {n_tests} tests each; drifted columns {columns}"
    )
    assert rate <= 0.05


@pytest.mark.parametrize(
    "scenario", ["new_service", "volume_shift", "diurnal_shift", "attack_surge"]
)
def test_drift_scenario_detection_rate(setup: Setup, scenario: str) -> None:
    pool, scores = setup.drifted_pool(scenario)
    rate, columns = setup.window_rate(pool, scores, seed=2)
    print(
        f"\n{scenario}: detection rate {rate:.1%} over {N_WINDOWS} windows; top columns {columns}"
    )
    assert rate >= 0.95


def test_tiny_shift_at_100k_flows_is_not_drift(setup: Setup) -> None:
    """0.02 reference std added to every continuous feature, 100k vs 100k flows.

    The 200k flows are split at random into reference and current halves, so the
    only difference between them is the shift.
    """
    rng = np.random.default_rng(3)
    half = rng.permutation(len(setup.stream)) < len(setup.stream) // 2
    profile = build_reference_profile(
        setup.stream[half].reset_index(drop=True),
        setup.x[half],
        setup.scorer.feature_names,
        setup.scores[half],
        setup.scores[half],
        seed=SEED,
        sample_rows=N_REF,
    )
    current = setup.x[~half].copy()
    for j, column in enumerate(setup.columns):
        if len(np.unique(current[:, j])) > 20:  # continuous features; flags cannot shift
            current[:, j] += 0.02 * profile["numeric"][column]["std"]
    result = compare_to_reference(profile, current)
    significant = [c.name for c in result.columns if c.significant]
    largest = max(result.columns, key=lambda c: c.psi or 0.0)
    print(
        f"\n0.02 sigma shift, {len(current)} vs {int(half.sum())} flows: "
        f"{len(significant)} of {len(result.columns)} features significant after BH; "
        f"largest PSI {largest.psi:.4f} ({largest.name}); drifted: {result.drifted_columns}"
    )
    assert significant  # KS alone would raise the alarm
    assert not result.drifted
