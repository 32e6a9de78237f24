"""Guardrail rules over a rolling window."""

from __future__ import annotations

from nids.abtest.config import Guardrails
from nids.abtest.guardrails import GuardrailWindow


def test_error_rate_trips_only_after_min_requests() -> None:
    window = GuardrailWindow(Guardrails(min_requests=10, max_error_rate=0.2))
    outcomes = [
        window.record(failed=i % 2 == 0, seconds=0.01, flows=10, alerts=0) for i in range(10)
    ]
    assert outcomes[:9] == [None] * 9
    assert outcomes[9] is not None and outcomes[9].rule == "error_rate"
    assert "5/10 requests failed" in outcomes[9].detail


def test_latency_and_alert_rate_bounds() -> None:
    slow = GuardrailWindow(Guardrails(min_requests=10, max_p99_latency_ms=50))
    for _ in range(9):
        assert slow.record(failed=False, seconds=0.01, flows=10, alerts=0) is None
    breach = slow.record(failed=False, seconds=0.5, flows=10, alerts=0)
    assert breach is not None and breach.rule == "p99_latency"
    noisy = GuardrailWindow(Guardrails(min_requests=10, max_alert_rate=0.1, min_alert_rate=0.01))
    for _ in range(9):
        noisy.record(failed=False, seconds=0.01, flows=100, alerts=5)
    assert noisy.record(failed=False, seconds=0.01, flows=100, alerts=5) is None
    assert noisy.record(failed=False, seconds=0.01, flows=100, alerts=100).rule == "alert_rate_high"
    quiet = GuardrailWindow(Guardrails(min_requests=10, min_alert_rate=0.01))
    results = [quiet.record(failed=False, seconds=0.01, flows=100, alerts=0) for _ in range(10)]
    assert results[-1] is not None and results[-1].rule == "alert_rate_low"
