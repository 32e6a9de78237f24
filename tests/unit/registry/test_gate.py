"""The promotion gate rule on ready-made figures."""

from __future__ import annotations

import math

import pandas as pd

from nids.registry.gate import decide, has_labels

PROD = {"auc": 0.90, "precision_at_100": 0.80, "alert_rate": 0.010}


def test_labelled_candidate_within_margin_passes() -> None:
    result = decide({"auc": 0.895, "precision_at_100": 0.80}, PROD, labelled=True, margin=0.01)
    assert result.passed
    assert result.mode == "labels"
    assert result.figures()["candidate.auc"] == 0.895
    assert result.figures()["production.precision_at_100"] == 0.80


def test_labelled_candidate_worse_beyond_margin_is_refused_with_reasons() -> None:
    result = decide({"auc": 0.95, "precision_at_100": 0.70}, PROD, labelled=True, margin=0.01)
    assert not result.passed
    assert len(result.reasons) == 1
    assert result.reasons[0].startswith("precision_at_100 0.7000 < production 0.8000")


def test_candidate_without_auc_is_refused() -> None:
    result = decide({"auc": math.nan, "precision_at_100": 0.9}, PROD, labelled=True, margin=0.01)
    assert not result.passed


def test_unlabelled_gate_compares_alert_rates() -> None:
    assert decide({"alert_rate": 0.015}, PROD, labelled=False, margin=0.01).passed
    refused = decide({"alert_rate": 0.05}, PROD, labelled=False, margin=0.01)
    assert not refused.passed
    assert refused.mode == "alert_rate"


def test_has_labels_needs_both_classes() -> None:
    assert has_labels(pd.DataFrame({"label": ["benign", "malicious", None]}))
    assert not has_labels(pd.DataFrame({"label": ["benign", "unknown"]}))
    assert not has_labels(pd.DataFrame({"src_ip": ["10.0.0.1"]}))
