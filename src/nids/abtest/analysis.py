"""Per-variant figures of an experiment and the verdict on each candidate.

Inputs are the prediction log (sampled rows with ``variant``, ``score``,
``is_alert``, ``sample_rate``, optionally ``latency_ms``) and analyst feedback
(``variant``, ``verdict``). Rates are computed on the logged rows (the sample is
uniform, so rates are unbiased); counts are scaled back up by ``1 / sample_rate``.

The verdict compares each candidate with the control by a two-proportion z-test on
alert precision (true positives among reviewed alerts) once both arms have the
sample size the desired power requires; before that it is ``inconclusive`` and says
how many more reviewed alerts (and roughly how many more flows) it needs. Without
feedback it can only keep the control (the candidate alerts significantly more) or
ask for reviews.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from nids.abtest.config import ExperimentConfig
from nids.abtest.stats import required_sample_size, two_proportion_test, wilson_interval

Decision = Literal["promote", "keep_control", "inconclusive"]


@dataclass
class VariantStats:
    """What one variant did."""

    name: str
    role: str  # control, candidate, shadow
    model_versions: list[str]
    logged_flows: int
    flows: float  # estimated total (logged rows scaled by 1 / sample_rate)
    alerts: float
    alert_rate: float
    alert_rate_ci: tuple[float, float]
    latency_p50_ms: float | None
    latency_p99_ms: float | None
    score_quantiles: dict[str, float]
    reviewed: int = 0
    true_positive: int = 0
    false_positive: int = 0
    precision: float | None = None
    precision_ci: tuple[float, float] | None = None
    false_positive_rate: float | None = None


@dataclass
class Agreement:
    """How two variants judged the same flows (shadow or overlapping scoring)."""

    a: str
    b: str
    flows: int
    alert_agreement: float | None
    both_alert: int
    only_a: int
    only_b: int
    score_correlation: float | None


@dataclass
class Verdict:
    """The decision on one candidate versus the control."""

    candidate: str
    decision: Decision
    metric: str  # precision or alert_rate
    control_value: float | None
    candidate_value: float | None
    z: float | None
    p_value: float | None
    n_control: int
    n_candidate: int
    required_per_arm: int
    more_needed: int  # more observations (reviewed alerts) per arm before a decision
    more_flows: float | None  # roughly, more flows of traffic for that
    reason: str


@dataclass
class ExperimentReport:
    """Everything ``nids ab report`` prints and renders."""

    experiment: str
    control: str
    variants: list[VariantStats]
    agreements: list[Agreement]
    verdicts: list[Verdict]
    window: dict[str, str | None] = field(default_factory=dict)

    @property
    def verdict(self) -> Verdict | None:
        """The verdict on the first routed candidate (else the first shadow)."""
        return self.verdicts[0] if self.verdicts else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready view."""
        return asdict(self) | {"verdict": asdict(self.verdict) if self.verdict else None}


def _role(config: ExperimentConfig, name: str) -> str:
    if name == config.control.name:
        return "control"
    return "shadow" if any(v.name == name and v.shadow for v in config.variants) else "candidate"


def variant_stats(
    config: ExperimentConfig, log: pd.DataFrame, feedback: pd.DataFrame
) -> list[VariantStats]:
    """Flows, alerts, alert rate (Wilson CI), latency, scores and feedback per variant."""
    out = []
    for v in config.variants:
        rows = log[log["variant"] == v.name]
        n = len(rows)
        alerts = int(rows["is_alert"].sum()) if n else 0
        weights = 1.0 / rows["sample_rate"].to_numpy(float) if "sample_rate" in rows else None
        flows = float(weights.sum()) if weights is not None else float(n)
        alert_est = (
            float(weights[rows["is_alert"].to_numpy(bool)].sum()) if weights is not None else alerts
        )
        latency = (
            rows["latency_ms"].dropna().to_numpy(float) if "latency_ms" in rows else np.array([])
        )
        scores = rows["score"].to_numpy(float)
        stats = VariantStats(
            name=v.name,
            role=_role(config, v.name),
            model_versions=sorted(
                map(str, rows["model_version"].unique()) if "model_version" in rows else []
            ),
            logged_flows=n,
            flows=flows,
            alerts=alert_est,
            alert_rate=alerts / n if n else 0.0,
            alert_rate_ci=wilson_interval(alerts, n),
            latency_p50_ms=float(np.quantile(latency, 0.5)) if latency.size else None,
            latency_p99_ms=float(np.quantile(latency, 0.99)) if latency.size else None,
            score_quantiles={f"p{q}": float(np.quantile(scores, q / 100)) for q in (5, 50, 95, 99)}
            if n
            else {},
        )
        fb = feedback[feedback["variant"] == v.name] if len(feedback) else feedback
        if len(fb):
            tp = int((fb["verdict"] == "true_positive").sum())
            fp = int((fb["verdict"] == "false_positive").sum())
            reviewed = len(fb)
            stats.reviewed, stats.true_positive, stats.false_positive = reviewed, tp, fp
            stats.precision = tp / reviewed
            stats.precision_ci = wilson_interval(tp, reviewed)
            benign = flows - alert_est * stats.precision
            stats.false_positive_rate = (
                float(alert_est * (1 - stats.precision) / benign) if benign > 0 else None
            )
        out.append(stats)
    return out


def agreement(log: pd.DataFrame, a: str, b: str) -> Agreement:
    """Alert agreement and score correlation of ``a`` and ``b`` on flows both scored."""
    cols = ["community_id", "score", "is_alert"]
    left = log.loc[log["variant"] == a, cols].drop_duplicates("community_id")
    right = log.loc[log["variant"] == b, cols].drop_duplicates("community_id")
    both = left.merge(right, on="community_id", suffixes=("_a", "_b")).dropna(
        subset=["community_id"]
    )
    n = len(both)
    if n == 0:
        return Agreement(a, b, 0, None, 0, 0, 0, None)
    alert_a, alert_b = both["is_alert_a"].to_numpy(bool), both["is_alert_b"].to_numpy(bool)
    corr = None
    if n > 2:
        corr = float(both["score_a"].rank().corr(both["score_b"].rank()))
        corr = corr if np.isfinite(corr) else None
    return Agreement(
        a,
        b,
        n,
        float((alert_a == alert_b).mean()),
        int((alert_a & alert_b).sum()),
        int((alert_a & ~alert_b).sum()),
        int((~alert_a & alert_b).sum()),
        corr,
    )


def decide(config: ExperimentConfig, control: VariantStats, cand: VariantStats) -> Verdict:
    """The verdict on ``cand`` versus ``control`` (see the module docstring)."""
    rule = config.verdict
    if control.reviewed or cand.reviewed:
        base = control.precision if control.precision is not None else 0.5
        need = required_sample_size(
            base, rule.min_detectable_effect, alpha=rule.alpha, power=rule.power
        )
        have = min(control.reviewed, cand.reviewed)
        z, p = two_proportion_test(
            control.true_positive, control.reviewed, cand.true_positive, cand.reviewed
        )
        if have < need and p < rule.alpha and z < 0:  # stopping early for harm only
            return Verdict(
                cand.name, "keep_control", "precision", control.precision, cand.precision, z, p,
                control.reviewed, cand.reviewed, need, 0, 0.0,
                f"candidate precision is already significantly lower (p={p:.3g})",
            )  # fmt: skip
        if have < need:
            more = need - have
            return Verdict(
                cand.name, "inconclusive", "precision", control.precision, cand.precision,
                None, None, control.reviewed, cand.reviewed, need, more,
                _more_flows(more, control, cand),
                f"needs {more} more reviewed alerts per variant ({need} for power "
                f"{rule.power:g} at ±{rule.min_detectable_effect:g} precision)",
            )  # fmt: skip
        if p < rule.alpha and z > 0:
            decision: Decision = "promote"
            why = f"candidate precision is higher (p={p:.3g} < {rule.alpha:g})"
        elif p < rule.alpha:
            decision, why = "keep_control", f"candidate precision is lower (p={p:.3g})"
        else:
            decision = "keep_control"
            why = (
                f"no significant precision difference at the planned power (p={p:.3g}); "
                "the control stays"
            )
        return Verdict(
            cand.name, decision, "precision", control.precision, cand.precision, z, p,
            control.reviewed, cand.reviewed, need, 0, 0.0, why,
        )  # fmt: skip
    # No feedback: the alert rate can only argue for keeping the control.
    x_a, n_a = control.alert_rate * control.logged_flows, control.logged_flows
    x_b, n_b = cand.alert_rate * cand.logged_flows, cand.logged_flows
    z, p = two_proportion_test(x_a, n_a, x_b, n_b)
    need = required_sample_size(0.5, rule.min_detectable_effect, alpha=rule.alpha, power=rule.power)
    if cand.role != "shadow" and p < rule.alpha and z > 0:
        return Verdict(
            cand.name, "keep_control", "alert_rate", control.alert_rate, cand.alert_rate, z, p,
            n_a, n_b, need, 0, 0.0,
            f"candidate alerts significantly more without feedback showing it is right (p={p:.3g})",
        )  # fmt: skip
    return Verdict(
        cand.name, "inconclusive", "alert_rate", control.alert_rate, cand.alert_rate, z, p,
        n_a, n_b, need, need, _more_flows(need, control, cand),
        f"no analyst feedback yet: needs about {need} reviewed alerts per variant to compare precision",
    )  # fmt: skip


def _more_flows(more_reviews: int, *arms: VariantStats) -> float | None:
    """Flows per arm that yield ``more_reviews`` reviewed alerts at the current rates."""
    rates = []
    for arm in arms:
        review_share = arm.reviewed / arm.alerts if arm.alerts and arm.reviewed else None
        if arm.alert_rate > 0 and review_share:
            rates.append(arm.alert_rate * min(review_share, 1.0))
    if not rates:
        return None
    return float(more_reviews / min(rates))


def analyse(
    config: ExperimentConfig, log: pd.DataFrame, feedback: pd.DataFrame | None = None
) -> ExperimentReport:
    """Figures, agreements and verdicts of an experiment."""
    feedback = feedback if feedback is not None else pd.DataFrame(columns=["variant", "verdict"])
    stats = variant_stats(config, log, feedback)
    by_name = {s.name: s for s in stats}
    control = by_name[config.control.name]
    agreements = [agreement(log, control.name, v.name) for v in config.candidates]
    routed = [v for v in config.candidates if not v.shadow]
    ordered = routed + [v for v in config.candidates if v.shadow]
    verdicts = [decide(config, control, by_name[v.name]) for v in ordered]
    ts = pd.to_datetime(log["scored_at"], utc=True) if "scored_at" in log and len(log) else None
    window = {
        "first": ts.min().isoformat() if ts is not None else None,
        "last": ts.max().isoformat() if ts is not None else None,
    }
    return ExperimentReport(config.name, control.name, stats, agreements, verdicts, window)
