"""POST /v1/feedback and GET /v1/feedback/summary through FastAPI."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from nids.monitoring.feedback import FeedbackStore
from nids.serving.routes_feedback import feedback_router


class Client:
    """Synchronous calls into the ASGI app (starlette's TestClient warns with httpx)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def _call(self, method: str, url: str, **kw: object) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                return await client.request(method, url, **kw)  # type: ignore[arg-type]

        return asyncio.run(go())

    def post(self, url: str, **kw: object) -> httpx.Response:
        return self._call("POST", url, **kw)

    def get(self, url: str, **kw: object) -> httpx.Response:
        return self._call("GET", url, **kw)


def test_feedback_api(workdir: Path) -> None:
    store = FeedbackStore("sqlite:///fb.db")
    registry = CollectorRegistry()
    app = FastAPI()
    app.include_router(feedback_router(store, registry=registry))
    client = Client(app)
    ok = client.post(
        "/v1/feedback",
        json={
            "alert_id": "a1",
            "verdict": "false_positive",
            "model_version": "7",
            "alert_ts": "2026-01-01T00:00:00Z",
        },
    )
    assert ok.status_code == 201, ok.text
    assert ok.json() == {"id": 1, "verdict": "false_positive"}
    for body in (
        {"alert_id": "a2", "verdict": "maybe"},
        {"verdict": "true_positive"},
        {"alert_id": "a3", "verdict": "true_positive", "unknown": 1},
        {"alert_id": 5, "verdict": "true_positive"},
    ):
        assert client.post("/v1/feedback", json=body).status_code == 422, body
    summary = client.get("/v1/feedback/summary").json()
    assert summary[0]["model_version"] == "7" and summary[0]["false_positive"] == 1
    assert summary[0]["precision"] == 0.0
    value = registry.get_sample_value(
        "nids_feedback_verdicts_total", {"verdict": "false_positive", "model_version": "7"}
    )
    assert value == 1.0
    store.close()


def test_feedback_gauges_read_the_store_at_scrape(workdir: Path) -> None:
    from prometheus_client import generate_latest

    store = FeedbackStore("sqlite:///fb.db")
    registry = CollectorRegistry()
    feedback_router(store, registry=registry)
    model = {"model_name": "nids-isoforest", "model_version": "3"}
    assert registry.get_sample_value("nids_feedback_precision", model) is None  # none stored
    # verdicts recorded elsewhere (an import, another replica) count as well
    store.record_many(
        {"alert_id": f"a{i}", "verdict": v, "model_name": "nids-isoforest", "model_version": "3"}
        for i, v in enumerate(["true_positive"] * 3 + ["false_positive", "benign_interesting"])
    )
    assert registry.get_sample_value("nids_feedback_precision", model) == 0.6
    reviewed = {**model, "verdict": "false_positive"}
    assert registry.get_sample_value("nids_feedback_reviewed", reviewed) == 1.0
    # a database that fails leaves the gauges out; the scrape itself still works
    store.engine.dispose()
    (workdir / "fb.db").unlink()
    (workdir / "fb.db").mkdir()  # no longer openable as a database
    text = generate_latest(registry)
    assert b"nids_feedback_verdicts_total" in text and b"nids_feedback_precision" not in text
    store.close()
