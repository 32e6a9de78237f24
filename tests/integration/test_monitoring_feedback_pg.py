"""The feedback store on PostgreSQL: same code as SQLite, through SQLAlchemy.

Uses the integration suite's fresh PostgreSQL database on 127.0.0.1:5432 (created for
the session and dropped after it; see tests/integration/conftest.py).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from nids.errors import DataError, ServiceUnavailableError
from nids.monitoring.feedback import FeedbackStore

pytestmark = pytest.mark.integration


def test_feedback_store_on_postgresql(postgres_database: str) -> None:
    pg_url = postgres_database
    store = FeedbackStore(pg_url)
    ts = datetime(2026, 1, 1, 10, tzinfo=UTC)
    store.record_many(
        [
            {"alert_id": "a1", "verdict": "true_positive", "model_version": "2", "alert_ts": ts,
             "flow": {"src_ip": "203.0.113.7", "dst_port": 22}},
            {"alert_id": "a2", "verdict": "false_positive", "model_version": "2"},
            {"community_id": "1:xyz", "verdict": "benign_interesting", "model_version": "2"},
        ]
    )  # fmt: skip
    store.record({"alert_id": "a2", "verdict": "true_positive"})  # changed verdict: same row
    with pytest.raises(DataError):
        store.record_many([{"alert_id": "a3", "verdict": "true_positive"}, {"verdict": "x"}])
    (summary,) = store.summary()
    assert (summary.true_positive, summary.false_positive, summary.benign_interesting) == (2, 0, 1)
    assert summary.first_alert == ts  # timezone kept by PostgreSQL
    flows = store.labelled_flows()
    assert flows["label"].tolist() == ["malicious"] and flows["dst_port"].tolist() == [22]
    store.close()
    # a second store on the same database sees the same verdicts (durable)
    again = FeedbackStore(pg_url)
    assert again.summary()[0].reviewed == 3
    again.close()


def test_unreachable_database_is_a_service_error() -> None:
    with pytest.raises(ServiceUnavailableError, match="feedback database"):
        FeedbackStore("postgresql+psycopg2://postgres@127.0.0.1:1/none?connect_timeout=2")
