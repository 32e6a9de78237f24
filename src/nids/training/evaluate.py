"""Evaluate a Scorer on a flow frame: the one evaluation used by training, `nids evaluate`,
the registry's promotion gate and retraining."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from nids.errors import EmptyDataError
from nids.training.metrics import compute_metrics, malicious_labels, score_summary


@dataclass
class Evaluation:
    """Scores and decisions for every flow of the evaluated frame, plus the metrics."""

    scores: np.ndarray
    is_alert: np.ndarray
    y_true: np.ndarray | None
    metrics: dict[str, float] = field(default_factory=dict)


def evaluate_frame(scorer: Any, df: pd.DataFrame, *, k: int = 100) -> Evaluation:
    """Score ``df`` in batch mode and compute metrics (labels used when present)."""
    if len(df) == 0:
        raise EmptyDataError("nothing to evaluate: the evaluation frame is empty")
    started = time.perf_counter()
    scores = scorer.score(df)
    return evaluate_scores(
        df, scores, scorer.threshold, k=k, scoring_s=time.perf_counter() - started
    )


def evaluate_scores(
    df: pd.DataFrame, scores: np.ndarray, threshold: float, *, k: int, scoring_s: float
) -> Evaluation:
    """Metrics of scores already computed for ``df`` (``scoring_s``: the time they took)."""
    if len(df) == 0:
        raise EmptyDataError("nothing to evaluate: the evaluation frame is empty")
    is_alert = scores > threshold
    y_true = malicious_labels(df)
    metrics = compute_metrics(y_true, scores, is_alert, df["ts"], k=k)
    metrics.update(score_summary(scores))
    metrics["eval_rows"] = float(len(df))
    metrics["throughput_flows_per_s"] = len(df) / max(scoring_s, 1e-9)
    return Evaluation(scores=scores, is_alert=is_alert, y_true=y_true, metrics=metrics)


def evaluate_scorer(scorer: Any, df: pd.DataFrame, *, k: int = 100) -> dict[str, float]:
    """Metrics of ``scorer`` on ``df`` (see :func:`nids.training.metrics.compute_metrics`)."""
    return evaluate_frame(scorer, df, k=k).metrics
