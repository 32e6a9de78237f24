"""``POST /v1/feedback``: analysts record verdicts on alerts (owned by monitoring).

The serving app includes the router: ``app.include_router(feedback_router(store))``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel

from nids.errors import NidsError, ServiceUnavailableError
from nids.monitoring.feedback import FeedbackIn

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from nids.monitoring.feedback import FeedbackStore


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
    """Routes for analyst feedback backed by ``store``; counts verdicts in Prometheus."""
    from prometheus_client import REGISTRY, Counter

    verdicts = Counter(
        "nids_feedback_verdicts_total",
        "Analyst verdicts recorded, by verdict and model version.",
        ["verdict", "model_version"],
        registry=registry or REGISTRY,
    )
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
