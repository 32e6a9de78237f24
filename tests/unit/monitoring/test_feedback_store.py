"""Feedback store on SQLite: verdicts, upserts, imports, precision, labelled flows."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from nids.errors import DataError
from nids.monitoring.feedback import FeedbackStore, import_feedback, read_feedback_file
from nids.settings import Settings

FLOW = {"src_ip": "203.0.113.7", "dst_ip": "10.0.0.5", "dst_port": 22, "proto": "tcp"}


@pytest.fixture
def store(workdir: Path) -> FeedbackStore:
    s = FeedbackStore("sqlite:///fb/feedback.db")
    yield s
    s.close()


def test_record_upsert_and_summary(store: FeedbackStore) -> None:
    a = store.record(
        {
            "verdict": "true_positive",
            "alert_id": "a1",
            "model_version": "3",
            "model_name": "nids-isoforest",
            "flow": FLOW,
            "alert_ts": "2026-01-01T10:00:00Z",
        }
    )
    store.record(
        {
            "verdict": "false_positive",
            "alert_id": "a2",
            "model_version": 3,
            "model_name": "nids-isoforest",
            "alert_ts": "2026-01-03T10:00:00+00:00",
        }
    )
    store.record(
        {
            "verdict": "benign_interesting",
            "community_id": "1:abc",
            "model_version": "4",
            "model_name": "nids-isoforest",
        }
    )
    # the analyst changes their mind about a2: same row, earlier fields kept
    assert store.record({"verdict": "true_positive", "alert_id": "a1"}) == a
    summaries = {s.model_version: s for s in store.summary()}
    v3 = summaries["3"]
    assert (v3.true_positive, v3.false_positive, v3.benign_interesting) == (1, 1, 0)
    assert v3.precision == 0.5
    assert v3.first_alert is not None and v3.first_alert.day == 1 and v3.last_alert.day == 3
    assert summaries["4"].precision == 0.0
    assert [s.model_version for s in store.summary(model_version="4")] == ["4"]


def test_false_positive_rate_estimate(store: FeedbackStore) -> None:
    for i in range(4):
        verdict = "true_positive" if i == 0 else "false_positive"
        store.record({"verdict": verdict, "alert_id": f"x{i}", "model_version": "1"})
    (summary,) = store.summary()
    # 100 alerts in 10,000 flows, 3 of 4 reviewed were false: 75 false / 9,975 benign
    assert summary.false_positive_rate(10_000, 100) == pytest.approx(75 / 9975)
    assert summary.false_positive_rate(0, 0) is None


def test_labelled_flows_for_retraining(store: FeedbackStore) -> None:
    store.record({"verdict": "true_positive", "alert_id": "a", "community_id": "1:a", "flow": FLOW})
    store.record({"verdict": "false_positive", "alert_id": "b", "flow": {**FLOW, "dst_port": 443}})
    store.record({"verdict": "false_positive", "alert_id": "c"})  # no flow: cannot be data
    flows = store.labelled_flows()
    assert flows["label"].tolist() == ["malicious", "benign"]
    assert flows["dst_port"].tolist() == [22, 443]
    assert flows["community_id"].tolist()[0] == "1:a"
    assert flows["attack_type"].tolist() == ["feedback:true_positive", "feedback:false_positive"]


def test_import_csv_and_jsonl(workdir: Path) -> None:
    csv = workdir / "v.csv"
    csv.write_text(
        "alert_id,verdict,model_version,flow\n"
        f'a1,true_positive,2,"{json.dumps(FLOW).replace(chr(34), chr(34) * 2)}"\n'
        "a2,false_positive,2,\n"
    )
    jsonl = workdir / "v.jsonl"
    jsonl.write_text(json.dumps({"alert_id": "a3", "verdict": "benign_interesting"}) + "\n\n")
    settings = Settings(feedback_db_url="sqlite:///fb.db")
    assert import_feedback(settings, csv) == 2
    assert import_feedback(settings, jsonl) == 1
    store = FeedbackStore("sqlite:///fb.db")
    assert sum(s.reviewed for s in store.summary()) == 3
    assert store.labelled_flows()["dst_port"].tolist() == [22]
    store.close()


def test_bad_files_name_line_and_field_and_write_nothing(workdir: Path) -> None:
    bad = workdir / "bad.jsonl"
    bad.write_text(
        '{"alert_id": "a", "verdict": "true_positive"}\n{"alert_id": "b", "verdict": "maybe"}\n'
    )
    with pytest.raises(DataError, match=r"bad\.jsonl, line 2, field 'verdict'"):
        import_feedback(Settings(feedback_db_url="sqlite:///fb.db"), bad)
    assert not (workdir / "fb.db").exists()  # parsed first: nothing half-imported
    bad.write_text('{"verdict": "true_positive"}\n')
    with pytest.raises(DataError, match="alert_id or community_id"):
        read_feedback_file(bad)
    bad.write_text("not json\n")
    with pytest.raises(DataError, match="line 1: invalid JSON"):
        read_feedback_file(bad)
    csv = workdir / "bad.csv"
    csv.write_text("alert_id,verdict,alert_ts\na,true_positive,yesterday\n")
    with pytest.raises(DataError, match=r"line 2, field 'alert_ts'"):
        read_feedback_file(csv)
    (workdir / "v.txt").write_text("a1 true_positive\n")
    with pytest.raises(DataError, match=r"\.csv or \.jsonl"):
        read_feedback_file(workdir / "v.txt")
    with pytest.raises(DataError, match="cannot read feedback file"):
        read_feedback_file(workdir / "missing.csv")


def test_record_many_is_all_or_nothing(store: FeedbackStore) -> None:
    with pytest.raises(DataError):
        store.record_many(
            [{"verdict": "true_positive", "alert_id": "ok"}, {"verdict": "nope", "alert_id": "bad"}]
        )
    assert store.summary() == []
    assert isinstance(store.labelled_flows(), pd.DataFrame)
