"""Turning a flow frame into the fit / calibration / test parts of an honest evaluation.

1. Split by time (``split_frame``): the latest ``test_fraction`` of flows is the test
   period, never seen by fitting or calibration.
2. Split the training period again by time: its latest ``calibration_fraction`` is held
   out to choose the alert threshold; the rest fits the model.
3. Fit on the fit part as it comes (realistic contamination), or only on flows labelled
   benign with ``train_on="benign"``.
4. Calibrate on the held-out flows labelled benign (all held-out flows when the data
   has no labels: unlabelled traffic is presumed benign, as in production).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from nids.data.schema import LABEL_BENIGN
from nids.errors import EmptyDataError, TrainingError
from nids.settings import Settings
from nids.training.metrics import span_days
from nids.training.split import split_frame, temporal_split


@dataclass
class Prepared:
    """The parts of one training run's data."""

    fit: pd.DataFrame
    calibration: pd.DataFrame
    test: pd.DataFrame
    split_method: str
    flows_per_day: float | None


def has_labels(df: pd.DataFrame) -> bool:
    """True when at least one flow carries a label."""
    return "label" in df.columns and bool(df["label"].notna().any())


def benign_only(df: pd.DataFrame) -> pd.DataFrame:
    """Flows labelled benign."""
    return df[df["label"].astype("string").str.lower().eq(LABEL_BENIGN).fillna(False)]


def flows_per_day(df: pd.DataFrame) -> float | None:
    """Average traffic rate over the frame's time span (None without a span)."""
    days = span_days(df["ts"])
    return len(df) / days if days > 0 else None


def prepare(df: pd.DataFrame, settings: Settings, *, source: str = "<data>") -> Prepared:
    """Split ``df`` into fit / calibration / test parts per the settings, or raise a
    clear :class:`TrainingError` when the data cannot support training."""
    if len(df) == 0:
        raise EmptyDataError("no flows to train on", source=source)
    if len(df) < 3:
        raise TrainingError(
            f"{source}: {len(df)} flow(s) cannot be split into fit, calibration and test parts",
            hint="train on at least a few hundred flows",
        )
    train, test, method = split_frame(df, settings.test_fraction, seed=settings.seed)
    if method == "temporal":
        fit, calibration = temporal_split(train, settings.calibration_fraction)
    else:
        fit, calibration, _ = split_frame(
            train, settings.calibration_fraction, seed=settings.seed + 1
        )
    labelled = has_labels(df)
    if settings.train_on == "benign":
        if not labelled:
            raise TrainingError(
                f"{source}: --train-on benign needs labelled flows, but none has a label"
            )
        fit = benign_only(fit)
        if len(fit) == 0:
            raise TrainingError(
                f"{source}: no flow of the training period is labelled benign",
                hint="use --train-on all, or data with benign labels",
            )
    if labelled:
        calibration = benign_only(calibration)
        if len(calibration) == 0:
            raise TrainingError(
                f"{source}: no benign flow in the calibration period "
                "(the latest part of the training period) to set the alert threshold on",
                hint="use more data or a larger calibration fraction",
            )
    if settings.max_train_rows < len(fit):
        keep = np.random.default_rng(settings.seed).choice(
            len(fit), size=settings.max_train_rows, replace=False
        )
        fit = fit.iloc[np.sort(keep)]
    return Prepared(
        fit=fit,
        calibration=calibration,
        test=test,
        split_method=method,
        flows_per_day=flows_per_day(df),
    )
