"""Training: fit the pipeline, calibrate the alert threshold, evaluate honestly, log to MLflow.

Public API (imported lazily so ``import nids.training`` stays cheap)::

    train(settings, data, *, frame=None, register=False, progress=True, console=None,
          **overrides) -> TrainResult
    split.temporal_split(df, test_fraction) / split.split_frame(df, test_fraction, seed=)
    threshold.choose_threshold(benign_scores, *, target_fpr=None, alerts_per_day=None,
                               flows_per_day=None, method="quantile") -> float
    metrics.compute_metrics(y_true, scores, is_alert, ts, *, k) -> dict
    evaluate.evaluate_scorer(scorer, df, *, k) -> dict
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nids._lazy import lazy_exports

if TYPE_CHECKING:
    from nids.training.evaluate import evaluate_scorer
    from nids.training.trainer import TrainResult, train

_EXPORTS = {
    "train": "nids.training.trainer",
    "TrainResult": "nids.training.trainer",
    "evaluate_scorer": "nids.training.evaluate",
}

__all__ = ["TrainResult", "evaluate_scorer", "train"]

__getattr__ = lazy_exports(__name__, _EXPORTS)
