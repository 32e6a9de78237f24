"""Analyst feedback becomes labelled flows only where it carries a complete flow record."""

from __future__ import annotations

from pathlib import Path

import pytest

from nids.monitoring.feedback import FeedbackStore
from nids.pipelines.evaluation import feedback_flows
from nids.settings import Settings

COMPLETE_FLOW = {
    "ts": "2025-11-05T10:00:00+00:00",
    "duration": 0.5,
    "src_ip": "203.0.113.7",
    "src_port": 51515,
    "dst_ip": "10.0.0.5",
    "dst_port": 22,
    "proto": "tcp",
    "src_bytes": 120,
    "dst_bytes": 0,
    "src_pkts": 2,
    "dst_pkts": 0,
}


def test_partial_flow_records_are_counted_not_fatal(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite:///{tmp_path / 'feedback.db'}"
    store = FeedbackStore(url)
    store.record({"alert_id": "a1", "verdict": "true_positive", "flow": COMPLETE_FLOW})
    store.record(
        {"alert_id": "a2", "verdict": "false_positive", "flow": {"src_ip": "198.51.100.2"}}
    )
    store.record({"alert_id": "a3", "verdict": "false_positive"})  # no flow at all
    store.close()

    frame = feedback_flows(Settings(feedback_db_url=url, quarantine_dir=tmp_path / "q"))

    assert len(frame) == 1
    assert frame.loc[0, "src_ip"] == "203.0.113.7"
    assert frame.loc[0, "label"] == "malicious"
    assert frame.loc[0, "community_id"].startswith("1:")
    assert "1 of 2 verdicts carry no complete flow record" in caplog.text


def test_only_partial_records_give_an_empty_frame(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'feedback.db'}"
    store = FeedbackStore(url)
    store.record({"alert_id": "a1", "verdict": "true_positive", "flow": {"dst_port": 22}})
    store.close()

    assert feedback_flows(Settings(feedback_db_url=url)).empty
