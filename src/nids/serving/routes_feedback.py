"""``POST /v1/feedback``: analysts record verdicts on alerts (owned by monitoring).

The serving app includes the router: ``app.include_router(feedback_router(store))``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel

from nids.errors import NidsError, ServiceUnavailableError
from nids.monitoring.feedback import FeedbackIn

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from nids.monitoring.feedback import FeedbackStore

log = logging.getLogger("nids.serving")


class FeedbackRecorded(BaseModel):
    """Answer to a recorded verdict."""

    id: int
    verdict: str


class FeedbackSummaryOut(BaseModel):
    """Live verdict counts and precision for one model version."""

    model_name: str | None
    model_version: str | None
    true_positive: int
    false_positive: int
    benign_interesting: int
    reviewed: int
    precision: float | None
    first_alert: str | None
    last_alert: str | None


def feedback_router(
    store: FeedbackStore, *, registry: CollectorRegistry | None = None
) -> APIRouter:
    """Routes for analyst feedback backed by ``store``; verdict metrics in Prometheus."""
    from prometheus_client import REGISTRY, Counter

    verdicts = Counter(
        "nids_feedback_verdicts_total",
        "Analyst verdicts recorded, by verdict and model version.",
        ["verdict", "model_version"],
        registry=registry or REGISTRY,
    )
    (registry or REGISTRY).register(FeedbackGauges(store))
    router = APIRouter(tags=["feedback"])

    @router.post(
        "/v1/feedback",
        status_code=status.HTTP_201_CREATED,
        response_model=FeedbackRecorded,
        responses={
            422: {"description": "Invalid verdict record."},
            503: {"description": "Feedback database unavailable."},
        },
    )
    def post_feedback(item: FeedbackIn) -> Any:
        """Record one verdict (true_positive, false_positive, benign_interesting)."""
        try:
            row_id = store.record(item)
        except ServiceUnavailableError as exc:
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE, "feedback store unavailable"
            ) from exc
        except NidsError as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, exc.message) from exc
        verdicts.labels(item.verdict, item.model_version or "unknown").inc()
        return FeedbackRecorded(id=row_id, verdict=item.verdict)

    @router.get(
        "/v1/feedback/summary",
        response_model=list[FeedbackSummaryOut],
        responses={503: {"description": "Feedback database unavailable."}},
    )
    def get_summary(model_version: str | None = Query(None, max_length=32)) -> Any:
        """Verdict counts and live precision per model version."""
        try:
            return [s.to_dict() for s in store.summary(model_version=model_version)]
        except ServiceUnavailableError as exc:
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE, "feedback store unavailable"
            ) from exc

    return router


class FeedbackGauges:
    """Live feedback figures per model version, read from the durable store at scrape.

    ``nids_feedback_reviewed{model_name,model_version,verdict}`` and
    ``nids_feedback_precision{model_name,model_version}`` (TP / reviewed) count every verdict
    stored (API, imports, other replicas), not only this process's. With
    ``nids_alerts_total`` and ``nids_flows_scored_total`` they give the false-positive
    rate and alerts per day in PromQL. A failing database leaves them out of the
    scrape (logged), never fails /metrics.
    """

    def __init__(self, store: FeedbackStore) -> None:
        self.store = store

    def describe(self) -> list[Any]:
        """No metadata up front (registering must not query the database)."""
        return []

    def collect(self) -> Iterator[Any]:
        """One summary query per scrape."""
        from prometheus_client.core import GaugeMetricFamily

        try:
            rows = self.store.summary()
        except Exception as exc:
            log.warning("feedback metrics unavailable: %s", exc)
            return
        reviewed = GaugeMetricFamily(
            "nids_feedback_reviewed",
            "Alerts with an analyst verdict (stored), by model version and verdict.",
            labels=["model_name", "model_version", "verdict"],
        )
        precision = GaugeMetricFamily(
            "nids_feedback_precision",
            "Share of reviewed alerts confirmed as attacks, by model version.",
            labels=["model_name", "model_version"],
        )
        for row in rows:
            model = [row.model_name or "unknown", row.model_version or "unknown"]
            for verdict in ("true_positive", "false_positive", "benign_interesting"):
                reviewed.add_metric([*model, verdict], float(getattr(row, verdict)))
            if row.precision is not None:
                precision.add_metric(model, row.precision)
        yield reviewed
        yield precision
