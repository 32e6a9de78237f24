"""Prometheus series of an experiment, in the service's own registry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nids.serving.metrics import LATENCY_BUCKETS


@dataclass
class ABMetrics:
    """Per-variant latency, errors, routing state, shadow queue counters."""

    latency: Any
    errors: Any
    routed: Any
    cutoffs: Any
    shadow: Any
    shadow_restarts: Any

    @classmethod
    def create(cls, registry: Any) -> ABMetrics:
        """Register the series in ``registry`` (the app's CollectorRegistry)."""
        from prometheus_client import Counter, Gauge, Histogram

        return cls(
            latency=Histogram(
                "nids_ab_scoring_duration_seconds",
                "Scoring time of a request's flows by experiment variant.",
                ["experiment", "variant"],
                buckets=LATENCY_BUCKETS,
                registry=registry,
            ),
            errors=Counter(
                "nids_ab_variant_errors",
                "Scoring failures by variant (the flows were re-scored by the control).",
                ["experiment", "variant"],
                registry=registry,
            ),
            routed=Gauge(
                "nids_ab_variant_routed",
                "1 while a variant takes traffic, 0 once a guardrail cut it off.",
                ["experiment", "variant"],
                registry=registry,
            ),
            cutoffs=Counter(
                "nids_ab_guardrail_cutoffs",
                "Variants cut off by a guardrail, by rule.",
                ["experiment", "variant", "rule"],
                registry=registry,
            ),
            shadow=Counter(
                "nids_ab_shadow_flows",
                "Shadow flows by outcome (scored; dropped: queue full, no model or lost in a "
                "crash; failed: scoring raised).",
                ["experiment", "variant", "outcome"],
                registry=registry,
            ),
            shadow_restarts=Counter(
                "nids_ab_shadow_restarts",
                "Shadow process restarts after it died.",
                ["experiment"],
                registry=registry,
            ),
        )
