"""Detection metrics: ranking quality, alert quality at the threshold, alert volume.

Labels: 1 = malicious, 0 = anything else (benign or unknown/background: not known to
be malicious). Metrics that need both classes are left out when a class is missing,
rather than reported as a misleading number.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from nids.data.schema import LABEL_MALICIOUS

SECONDS_PER_DAY = 86_400.0
SCORE_QUANTILES = {"score_p50": 0.5, "score_p90": 0.9, "score_p99": 0.99, "score_p999": 0.999}


def malicious_labels(df: pd.DataFrame) -> np.ndarray | None:
    """1 for flows labelled malicious, 0 otherwise; None when the frame has no labels."""
    if "label" not in df.columns or df["label"].isna().all():
        return None
    labels = df["label"].astype("string").str.lower()
    return (labels == LABEL_MALICIOUS).fillna(False).to_numpy(dtype=np.int64)


def span_days(ts: Any) -> float:
    """Days between the first and the last timestamp (0 for one instant)."""
    times = pd.to_datetime(pd.Series(ts), utc=True)
    if times.empty:
        return 0.0
    return float((times.max() - times.min()).total_seconds()) / SECONDS_PER_DAY


def precision_at(y_true: np.ndarray, scores: np.ndarray, k: int) -> float:
    """Share of malicious flows among the ``k`` highest scores (all rows when fewer)."""
    top = np.argsort(-scores, kind="stable")[: min(k, len(scores))]
    return float(y_true[top].mean()) if top.size else float("nan")


def score_summary(scores: np.ndarray) -> dict[str, float]:
    """Distribution summary of anomaly scores (logged for every run)."""
    s = np.asarray(scores, dtype=np.float64)
    if s.size == 0:
        return {}
    out = {"prediction_mean": float(s.mean()), "prediction_std": float(s.std())}
    out.update({name: float(np.quantile(s, q)) for name, q in SCORE_QUANTILES.items()})
    out["score_min"], out["score_max"] = float(s.min()), float(s.max())
    return out


def compute_metrics(
    y_true: np.ndarray | None,
    scores: np.ndarray,
    is_alert: np.ndarray,
    ts: Any,
    *,
    k: int = 100,
) -> dict[str, float]:
    """auc, pr_auc, precision_at_100, precision_at_k, recall, false_positive_rate,
    precision, alerts_per_day, alert_rate (label metrics only when labels exist)."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    scores = np.asarray(scores, dtype=np.float64)
    alert = np.asarray(is_alert, dtype=bool)
    out: dict[str, float] = {"alerts": float(alert.sum())}
    if scores.size:
        out["alert_rate"] = float(alert.mean())
    days = span_days(ts)
    if days > 0:
        out["alerts_per_day"] = float(alert.sum()) / days
    if y_true is None:
        return out
    y = np.asarray(y_true, dtype=np.int64)
    positives, negatives = int(y.sum()), int((1 - y).sum())
    out["n_malicious"], out["n_not_malicious"] = float(positives), float(negatives)
    if positives and negatives:
        out["auc"] = float(roc_auc_score(y, scores))
        out["pr_auc"] = float(average_precision_score(y, scores))
    if scores.size:
        out["precision_at_100"] = precision_at(y, scores, 100)
        out["precision_at_k"] = precision_at(y, scores, k)
    true_alerts = int((alert & (y == 1)).sum())
    if positives:
        out["recall"] = true_alerts / positives
    if negatives:
        out["false_positive_rate"] = float((alert & (y == 0)).sum()) / negatives
    if alert.any():
        out["precision"] = true_alerts / float(alert.sum())
    return out
