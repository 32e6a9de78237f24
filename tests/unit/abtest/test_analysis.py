"""The verdict of `nids ab report` on generated experiments (real model scores)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from ab_samples import Scored

from nids.abtest.analysis import agreement, analyse
from nids.abtest.assign import assign
from nids.abtest.config import parse_experiment


def _config(name: str, weights: tuple[float, float], mde: float = 0.15, **extra: Any) -> Any:
    # Flow-level randomisation: with per-host assignment an arm's precision also depends
    # on which hosts (attack sources) it drew, which would confound the comparison.
    return parse_experiment(
        {
            "name": name,
            "assign_by": "community_id",
            "variants": [
                {"name": "control", "model_uri": "models:/m/1", "weight": weights[0]},
                {"name": "candidate", "model_uri": "models:/m/2", "weight": weights[1]},
                *extra.get("shadows", []),
            ],
            "verdict": {"min_detectable_effect": mde},
        }
    )


def _experiment(
    scored: Scored,
    config: Any,
    thresholds: dict[str, float],
    *,
    review_share: float = 1.0,
    seed: int = 0,
    rows: slice = slice(None),
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Prediction log + analyst feedback of an experiment run on the scored flows."""
    flows, scores = scored.flows.iloc[rows], scored.scores[rows]
    variant = assign(flows[config.assign_by], config.weights(), config.name)
    threshold = np.array([thresholds[v] for v in variant])
    log = pd.DataFrame(
        {
            "community_id": flows["community_id"].to_numpy(),
            "score": scores,
            "is_alert": scores > threshold,
            "variant": variant,
            "model_version": variant,
            "sample_rate": 1.0,
            "latency_ms": 1.0,
        }
    )
    alerts = log[log["is_alert"]]
    rng = np.random.default_rng(seed)
    reviewed = alerts[rng.random(len(alerts)) < review_share]
    malicious = flows["label"].to_numpy()[reviewed.index] == "malicious"
    feedback = pd.DataFrame(
        {
            "variant": reviewed["variant"].to_numpy(),
            "community_id": reviewed["community_id"].to_numpy(),
            "verdict": np.where(malicious, "true_positive", "false_positive"),
        }
    )
    return log, feedback


def _precision(scored: Scored, threshold: float) -> float:
    alert = scored.scores > threshold
    return float((scored.flows["label"].to_numpy()[alert] == "malicious").mean())


def test_candidate_with_higher_precision_is_promoted(scored: Scored) -> None:
    loose, strict = scored.threshold(0.90), scored.threshold(0.96)
    assert _precision(scored, strict) > _precision(scored, loose) + 0.15  # the premise
    config = _config("better-candidate", (0.5, 0.5))
    log, feedback = _experiment(scored, config, {"control": loose, "candidate": strict})
    verdict = analyse(config, log, feedback).verdict
    assert verdict is not None
    assert (verdict.decision, verdict.metric) == ("promote", "precision")
    assert verdict.candidate_value > verdict.control_value and verdict.p_value < 0.05
    # the same data with the roles swapped keeps the control
    swapped, fb = _experiment(scored, config, {"control": strict, "candidate": loose})
    assert analyse(config, swapped, fb).verdict.decision == "keep_control"  # type: ignore[union-attr]


def test_small_experiment_is_inconclusive_and_says_how_much_more_it_needs(scored: Scored) -> None:
    config = _config("too-early", (0.8, 0.2), mde=0.05)
    thresholds = {"control": scored.threshold(0.9), "candidate": scored.threshold(0.975)}
    log, feedback = _experiment(scored, config, thresholds, review_share=0.5, rows=slice(0, 3000))
    report = analyse(config, log, feedback)
    verdict = report.verdict
    assert verdict is not None and verdict.decision == "inconclusive"
    assert verdict.more_needed == verdict.required_per_arm - min(
        verdict.n_control, verdict.n_candidate
    )
    assert verdict.more_needed > 0 and verdict.more_flows is not None and verdict.more_flows > 0
    stats = {s.name: s for s in report.variants}
    assert stats["control"].reviewed == (feedback["variant"] == "control").sum()
    lo, hi = stats["control"].alert_rate_ci
    assert lo < stats["control"].alert_rate < hi


@pytest.mark.slow
def test_a_a_experiment_rarely_declares_a_winner(scored: Scored) -> None:
    same = scored.threshold(0.95)
    decisions, tested = [], 0
    for rep in range(100):
        config = _config(f"a-a-{rep}", (0.5, 0.5))
        log, feedback = _experiment(
            scored, config, {"control": same, "candidate": same}, review_share=0.5, seed=rep
        )
        verdict = analyse(config, log, feedback).verdict
        assert verdict is not None
        decisions.append(verdict.decision)
        tested += verdict.p_value is not None
    assert sum(d in {"inconclusive", "keep_control"} for d in decisions) >= 95
    assert tested >= 50  # most repetitions reached the planned sample and ran the test


def test_no_feedback_cannot_promote(scored: Scored) -> None:
    config = _config("no-feedback", (0.5, 0.5))
    noisy = {"control": scored.threshold(0.97), "candidate": scored.threshold(0.8)}
    log, _ = _experiment(scored, config, noisy)
    verdict = analyse(config, log, None).verdict
    assert verdict is not None and verdict.metric == "alert_rate"
    assert verdict.decision == "keep_control"  # it alerts far more, with nothing to show for it
    calm = {"control": scored.threshold(0.95), "candidate": scored.threshold(0.95)}
    log, _ = _experiment(scored, config, calm)
    assert analyse(config, log, None).verdict.decision == "inconclusive"  # type: ignore[union-attr]


def test_agreement_on_the_same_flows() -> None:
    log = pd.DataFrame(
        {
            "community_id": ["a", "b", "c", "d", "a", "b", "c", "e"],
            "score": [0.9, 0.1, 0.5, 0.2, 0.8, 0.2, 0.4, 0.3],
            "is_alert": [True, False, True, False, True, False, False, False],
            "variant": ["control"] * 4 + ["shadow"] * 4,
        }
    )
    got = agreement(log, "control", "shadow")
    assert (got.flows, got.both_alert, got.only_a, got.only_b) == (3, 1, 1, 0)
    assert got.alert_agreement == 2 / 3
    assert got.score_correlation == 1.0
