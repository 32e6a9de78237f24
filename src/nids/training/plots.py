"""Evaluation plots logged as run artefacts (matplotlib's Agg backend, no display needed)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

PLOT_DIR = "plots"


def _figure(width: float = 6.0, height: float = 4.5) -> Any:
    # Figure objects (not pyplot) keep no global state and need no GUI backend.
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="tight")


def roc_figure(y_true: np.ndarray, scores: np.ndarray) -> Any:
    """ROC curve with its AUC."""
    from sklearn.metrics import roc_auc_score, roc_curve

    fpr, tpr, _ = roc_curve(y_true, scores)
    fig = _figure()
    ax = fig.add_subplot()
    ax.plot(fpr, tpr, label=f"ROC-AUC = {roc_auc_score(y_true, scores):.3f}")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=0.8)
    ax.set(xlabel="false-positive rate", ylabel="true-positive rate", title="ROC (test period)")
    ax.legend(loc="lower right")
    return fig


def pr_figure(y_true: np.ndarray, scores: np.ndarray) -> Any:
    """Precision-recall curve with average precision and the base rate."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    precision, recall, _ = precision_recall_curve(y_true, scores)
    fig = _figure()
    ax = fig.add_subplot()
    ax.plot(recall, precision, label=f"PR-AUC = {average_precision_score(y_true, scores):.3f}")
    ax.axhline(float(np.mean(y_true)), linestyle="--", color="grey", linewidth=0.8)
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall (test period)")
    ax.legend(loc="lower left")
    return fig


def score_histogram(scores: np.ndarray, labels: np.ndarray | None, threshold: float) -> Any:
    """Score distribution per label with the alert threshold."""
    fig = _figure()
    ax = fig.add_subplot()
    bins = np.histogram_bin_edges(scores, bins=50)
    groups = (
        {"all flows": scores}
        if labels is None
        else {str(name): scores[labels == name] for name in np.unique(labels)}
    )
    for name, values in groups.items():
        if values.size:
            ax.hist(values, bins=bins, alpha=0.55, density=True, label=f"{name} ({values.size})")
    ax.axvline(threshold, color="red", linewidth=1.2, label="alert threshold")
    ax.set(xlabel="anomaly score (higher = more anomalous)", ylabel="density")
    ax.set_title("Scores by label (test period)")
    ax.legend()
    return fig


def contributions_figure(names: Sequence[str], mean_contrib: np.ndarray, top: int = 20) -> Any:
    """Mean contribution of each feature to the highest-scored test flows."""
    order = np.argsort(mean_contrib, kind="stable")[::-1][:top][::-1]
    fig = _figure(6.5, 0.3 * len(order) + 1.5)
    ax = fig.add_subplot()
    ax.barh([names[i] for i in order], mean_contrib[order])
    ax.set(xlabel="mean share of isolation", title="Feature contributions (top-scored flows)")
    return fig


def log_evaluation_plots(
    *,
    scores: np.ndarray,
    y_true: np.ndarray | None,
    labels: np.ndarray | None,
    threshold: float,
    feature_names: Sequence[str],
    mean_contrib: np.ndarray | None,
) -> list[str]:
    """Log every plot that the data supports to the active run; return artefact paths."""
    import mlflow

    figures: dict[str, Any] = {"score_histogram.png": score_histogram(scores, labels, threshold)}
    if y_true is not None and 0 < int(y_true.sum()) < len(y_true):
        figures["roc.png"] = roc_figure(y_true, scores)
        figures["pr.png"] = pr_figure(y_true, scores)
    if mean_contrib is not None:
        figures["feature_contributions.png"] = contributions_figure(feature_names, mean_contrib)
    paths = []
    for name, fig in figures.items():
        path = f"{PLOT_DIR}/{name}"
        mlflow.log_figure(fig, path)
        paths.append(path)
    return paths
