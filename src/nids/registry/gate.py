"""The promotion gate: is a candidate at least as good as production on the same data?

Both models are scored by their own :class:`nids.model.scorer.Scorer` (the one used by
evaluation and the service) on the same frame. With labels (benign and malicious
flows present) the gate metrics are ROC-AUC and precision@k: the candidate is refused
when either is lower than production's by more than the margin. Without labels the
gate compares the alert rate each model raises at its own threshold (both chosen for
the same FPR target): the candidate is refused when it alerts on a larger share of
flows than production by more than the margin.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import pandas as pd

Mode = Literal["labels", "alert_rate", "no_incumbent"]
LABEL_METRICS = ("auc", "precision_at_100")


@dataclass(frozen=True)
class GateResult:
    """The gate's decision and the figures it was based on."""

    passed: bool
    mode: Mode
    candidate: dict[str, float] = field(default_factory=dict)
    production: dict[str, float] = field(default_factory=dict)
    reasons: tuple[str, ...] = ()

    def figures(self) -> dict[str, float]:
        """Flat figures for the audit record (``candidate.auc``, ``production.auc``, ...)."""
        flat = {f"candidate.{k}": v for k, v in self.candidate.items()}
        flat.update({f"production.{k}": v for k, v in self.production.items()})
        return flat


def has_labels(df: pd.DataFrame) -> bool:
    """True when the frame holds both benign and malicious labelled flows."""
    if "label" not in df.columns:
        return False
    labels = set(df["label"].dropna().astype(str).str.lower())
    return {"benign", "malicious"} <= labels


def evaluate(scorer: Any, df: pd.DataFrame, *, k: int) -> dict[str, float]:
    """Gate figures of one scorer on ``df`` (training's evaluation plus the alert rate)."""
    from nids.training.evaluate import evaluate_scorer

    return {
        key: float(value)
        for key, value in evaluate_scorer(scorer, df, k=k).items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }


def decide(
    candidate: dict[str, float],
    production: dict[str, float],
    *,
    labelled: bool,
    margin: float,
) -> GateResult:
    """Apply the gate rule to two sets of figures."""
    reasons: list[str] = []
    if labelled:
        for key in LABEL_METRICS:
            cand, prod = candidate.get(key, math.nan), production.get(key, math.nan)
            if math.isnan(cand):
                reasons.append(f"candidate {key} could not be computed")
            elif not math.isnan(prod) and cand < prod - margin:
                reasons.append(f"{key} {cand:.4f} < production {prod:.4f} - margin {margin:g}")
        return GateResult(not reasons, "labels", candidate, production, tuple(reasons))
    cand, prod = candidate.get("alert_rate", math.nan), production.get("alert_rate", math.nan)
    if math.isnan(cand) or math.isnan(prod):
        reasons.append("alert rates could not be computed")
    elif cand > prod + margin:
        reasons.append(f"alert rate {cand:.4f} > production {prod:.4f} + margin {margin:g}")
    return GateResult(not reasons, "alert_rate", candidate, production, tuple(reasons))
