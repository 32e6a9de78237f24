"""Rolling guardrail checks on a candidate variant: error rate, p99 latency, alert rate."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

import numpy as np

from nids.abtest.config import Guardrails


@dataclass(frozen=True)
class Breach:
    """Why a variant was cut off."""

    rule: str  # error_rate, p99_latency, alert_rate_high, alert_rate_low
    detail: str


class GuardrailWindow:
    """The last ``window_requests`` outcomes of one variant, checked after each one."""

    def __init__(self, rules: Guardrails) -> None:
        self.rules = rules
        self._lock = threading.Lock()
        # (failed, seconds, flows, alerts) per request handled by the variant
        self._window: deque[tuple[bool, float, int, int]] = deque(maxlen=rules.window_requests)

    def record(self, *, failed: bool, seconds: float, flows: int, alerts: int) -> Breach | None:
        """Add one outcome; the first rule it breaks (if enough requests were seen)."""
        with self._lock:
            self._window.append((failed, seconds, flows, alerts))
            if len(self._window) < self.rules.min_requests:
                return None
            items = list(self._window)
        return check(self.rules, items)


def check(rules: Guardrails, items: list[tuple[bool, float, int, int]]) -> Breach | None:
    """Apply the rules to a list of (failed, seconds, flows, alerts) outcomes."""
    n = len(items)
    errors = sum(1 for failed, *_ in items if failed)
    if rules.max_error_rate is not None and errors / n > rules.max_error_rate:
        return Breach(
            "error_rate",
            f"{errors}/{n} requests failed ({errors / n:.1%} > {rules.max_error_rate:.1%})",
        )
    ok = [item for item in items if not item[0]]
    if not ok:
        return None
    if rules.max_p99_latency_ms is not None:
        p99 = float(np.quantile([s for _, s, _, _ in ok], 0.99)) * 1000
        if p99 > rules.max_p99_latency_ms:
            return Breach(
                "p99_latency", f"p99 latency {p99:.1f} ms > {rules.max_p99_latency_ms:g} ms"
            )
    flows = sum(f for _, _, f, _ in ok)
    alerts = sum(a for _, _, _, a in ok)
    rate = alerts / flows if flows else 0.0
    if rules.max_alert_rate is not None and rate > rules.max_alert_rate:
        return Breach(
            "alert_rate_high", f"alert rate {rate:.2%} > {rules.max_alert_rate:.2%} ({flows} flows)"
        )
    if rules.min_alert_rate is not None and flows and rate < rules.min_alert_rate:
        return Breach(
            "alert_rate_low", f"alert rate {rate:.2%} < {rules.min_alert_rate:.2%} ({flows} flows)"
        )
    return None
