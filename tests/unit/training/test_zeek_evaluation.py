"""Real labelled Zeek data: train on capture 008 (benign + background), test on the later 010.

The model must beat the plain numeric-columns IsolationForest fitted on the same flows
with the same hyper-parameters (the baseline the issue names), on ROC-AUC.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score

from nids.data import read_flows
from nids.model.pipeline import build_pipeline
from nids.model.scorer import Scorer
from nids.settings import Settings
from nids.training.evaluate import evaluate_frame
from nids.training.prepare import benign_only
from nids.training.split import temporal_split
from nids.training.threshold import choose_threshold
from nids.training.trainer import fit_pipeline
from support import ZEEK_008, ZEEK_010

NUMERIC = ["duration", "src_port", "dst_port", "src_bytes", "dst_bytes", "src_pkts", "dst_pkts"]


@pytest.mark.slow
def test_model_beats_the_numeric_isolation_forest_on_a_later_capture() -> None:
    settings = Settings(seed=0)
    earlier, later = read_flows(ZEEK_008), read_flows(ZEEK_010)
    not_malicious = earlier[earlier["label"] != "malicious"]
    fit, calibration = temporal_split(not_malicious, settings.calibration_fraction)

    pipeline = build_pipeline(settings)
    fit_pipeline(pipeline, fit)
    scorer = Scorer(pipeline, 0.0)
    scorer.threshold = choose_threshold(scorer.score(benign_only(calibration)), target_fpr=0.01)
    metrics = evaluate_frame(scorer, later, k=100).metrics

    baseline = IsolationForest(
        n_estimators=settings.n_estimators,
        max_samples=min(settings.max_samples, len(fit)),
        random_state=settings.seed,
    ).fit(fit[NUMERIC].to_numpy(dtype=float))
    y = (later["label"] == "malicious").to_numpy()
    baseline_auc = roc_auc_score(y, -baseline.score_samples(later[NUMERIC].to_numpy(dtype=float)))

    print(
        f"\nZeek 008 -> 010: model ROC-AUC {metrics['auc']:.4f} vs numeric IsolationForest "
        f"baseline {baseline_auc:.4f}; PR-AUC {metrics['pr_auc']:.4f}, "
        f"precision@100 {metrics['precision_at_100']:.3f}, recall {metrics['recall']:.3f}, "
        f"FPR {metrics['false_positive_rate']:.4f} at threshold {scorer.threshold:.4f}, "
        f"{metrics['alerts_per_day']:.0f} alerts/day"
    )
    assert metrics["auc"] > baseline_auc + 0.1
    assert metrics["auc"] > 0.9
    assert np.isfinite(scorer.threshold)
