"""Explanations hold up: generated port scans are explained by fan-out/rejection,
exfiltration by outbound volume (top contributor of the fitted default model)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest

from nids.data.generator import generate_flows
from nids.model.pipeline import build_pipeline
from nids.model.scorer import Scorer
from nids.settings import Settings
from nids.training.trainer import fit_pipeline

FAN_OUT_OR_REJECTION = {
    "ctx_failed_share",
    "ctx_distinct_dst_ports",
    "ctx_distinct_dst_hosts",
    "state_half_open",
    "state_rejected",
    "state_no_reply",
    "state_established",  # value 0: the handshake never completed
}
OUTBOUND_VOLUME = {
    "log_src_bytes",
    "log_src_pkts",
    "src_bytes_per_pkt",
    "byte_asymmetry",
    "pkt_asymmetry",
    "log_bytes_per_s",
    "ctx_bytes_out",
    "ctx_out_in_ratio",
}


@pytest.fixture(scope="module")
def fitted() -> tuple[Scorer, pd.DataFrame]:
    df = generate_flows(12_000, days=2, attack_share=0.06, seed=3)
    pipeline = build_pipeline(Settings(n_estimators=100, max_samples=256, seed=0))
    fit_pipeline(pipeline, df[df["label"] == "benign"])
    return Scorer(pipeline, 0.0), df


def top_reasons(scorer: Scorer, flows: pd.DataFrame) -> Counter[str]:
    contrib = scorer.contributions(scorer.features(flows))
    return Counter(scorer.feature_names[j] for j in contrib.argmax(axis=1))


@pytest.mark.parametrize(
    ("attack", "expected"),
    [("portscan", FAN_OUT_OR_REJECTION), ("exfiltration", OUTBOUND_VOLUME)],
)
def test_top_reason_matches_the_attack(
    fitted: tuple[Scorer, pd.DataFrame], attack: str, expected: set[str]
) -> None:
    scorer, df = fitted
    flows = df[df["attack_type"] == attack]
    assert len(flows) >= 10
    reasons = top_reasons(scorer, flows)
    share = sum(n for name, n in reasons.items() if name in expected) / len(flows)
    assert share >= 0.8, reasons.most_common(5)


def test_alert_reasons_are_sentences_about_the_flow(fitted: tuple[Scorer, pd.DataFrame]) -> None:
    scorer, df = fitted
    scan = df[df["attack_type"] == "portscan"].head(20)
    frame = scorer.predict_frame(scan, explain="all")
    first = frame["top_features"].iloc[-1]
    assert str(scan["src_ip"].iloc[-1]) in first
    assert np.all(frame["score"].to_numpy() > 0)
