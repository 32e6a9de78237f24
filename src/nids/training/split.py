"""Train/test splits: by time when the data has it, else a documented seeded random split.

Anomaly detectors are used on traffic that comes *after* the training period, so the
honest evaluation trains on the earlier part and tests on the later part. Rows are
ordered by ``ts`` (stable, so equal timestamps keep input order) and cut by position:
the last ``ceil(n * test_fraction)`` rows are the test set. When every flow has the same
timestamp (a source without time information) the split is a seeded random one.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from nids.errors import TrainingError


def _check(n: int, fraction: float, what: str) -> int:
    if not 0 < fraction < 1:
        raise TrainingError(f"{what} must be between 0 and 1, got {fraction}")
    if n < 2:
        raise TrainingError(
            f"need at least 2 flows to split into train and test parts, got {n}",
            hint="train on a longer capture",
        )
    return min(max(1, math.ceil(n * fraction)), n - 1)


def has_time_order(df: pd.DataFrame) -> bool:
    """True when ``ts`` exists and takes at least two distinct values."""
    return "ts" in df.columns and df["ts"].nunique(dropna=True) > 1


def temporal_split(df: pd.DataFrame, test_fraction: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(earlier part, later part): the later ``test_fraction`` of rows by ``ts``."""
    n_test = _check(len(df), test_fraction, "test_fraction")
    ordered = df.sort_values("ts", kind="stable")
    cut = len(df) - n_test
    return ordered.iloc[:cut], ordered.iloc[cut:]


def random_split(
    df: pd.DataFrame, test_fraction: float, *, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Seeded random (train, test) split, each part in input order."""
    n_test = _check(len(df), test_fraction, "test_fraction")
    rng = np.random.default_rng(seed)
    test_mask = np.zeros(len(df), dtype=bool)
    test_mask[rng.choice(len(df), size=n_test, replace=False)] = True
    return df.iloc[~test_mask], df.iloc[test_mask]


def split_frame(
    df: pd.DataFrame, test_fraction: float, *, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """Temporal split when timestamps vary, else random; returns (train, test, method)."""
    if has_time_order(df):
        train, test = temporal_split(df, test_fraction)
        return train, test, "temporal"
    train, test = random_split(df, test_fraction, seed=seed)
    return train, test, "random"
