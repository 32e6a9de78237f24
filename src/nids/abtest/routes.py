"""``GET /v1/experiment``: the running experiment's variants, routing state and cut-offs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI


def experiment_router(app: FastAPI) -> APIRouter:
    """Routes describing ``app.state.ab_router`` (included only when an experiment runs)."""
    router = APIRouter(tags=["experiment"])

    @router.get("/v1/experiment")
    def experiment() -> Any:
        """Variants (role, model version, weight, routed or cut off and why), shadow counts."""
        ab = app.state.ab_router
        if ab is None:
            return {"name": None, "variants": [], "events": []}
        return ab.status()

    return router
