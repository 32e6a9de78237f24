"""POST /v1/score through the plain ASGI hot path: answers, auth, limits, OpenAPI contract."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pandas as pd
import pytest
from pydantic import SecretStr
from serving_fixtures import flow_records, make_loaded

from nids.settings import Settings


@pytest.fixture
def client(fitted_pipeline: Any) -> Iterator[Any]:
    from nids.serving.app import create_app

    settings = Settings(
        api_token=SecretStr("s3cret"),
        alert_sink="none",
        prediction_log_dir="",
        reload_interval_s=0,
        max_flows_per_request=20,
    )
    app = create_app(
        settings,
        model_loader=lambda uri, s: make_loaded(fitted_pipeline, version=4),
        version_probe=lambda uri, s: 4,
        feedback=False,
    )
    with _Client(app) as test_client:
        yield test_client


class _Client:
    """Requests to the ASGI app in process (lifespan run around them)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()

    def __enter__(self) -> _Client:
        self._lifespan = self.app.router.lifespan_context(self.app)
        self.loop.run_until_complete(self._lifespan.__aenter__())
        return self

    def __exit__(self, *exc: Any) -> None:
        self.loop.run_until_complete(self._lifespan.__aexit__(None, None, None))
        self.loop.close()

    def _call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                return await c.request(method, url, **kwargs)

        return self.loop.run_until_complete(go())

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self._call("POST", url, **kwargs)

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self._call("GET", url, **kwargs)


AUTH = {"Authorization": "Bearer s3cret"}


def test_hot_route_scores_and_counts(client: Any, flows: pd.DataFrame) -> None:
    body = orjson.dumps({"flows": flow_records(flows.head(3))})
    answer = client.post("/v1/score?explain=all", content=body, headers=AUTH)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    got = answer.json()
    assert got["n_flows"] == 3 and got["model"]["version"] == "4"
    assert all(len(r["top_features"]) == 3 for r in got["results"])
    metrics = client.get("/metrics").text
    assert 'nids_http_requests_total{endpoint="/v1/score",status="200"} 1.0' in metrics
    assert 'nids_flows_scored_total{model_version="4",variant="default"} 3.0' in metrics


def test_hot_route_errors(client: Any, flows: pd.DataFrame) -> None:
    body = orjson.dumps({"flows": flow_records(flows.head(2))})
    denied = client.post("/v1/score", content=body)
    assert denied.status_code == 401 and denied.headers["www-authenticate"] == "Bearer"
    assert denied.json() == {"detail": "missing or invalid bearer token", "errors": []}
    bad_explain = client.post("/v1/score?explain=some", content=body, headers=AUTH)
    assert bad_explain.status_code == 422
    assert bad_explain.json()["errors"] == [{"row": None, "field": "explain"}]
    many = orjson.dumps({"flows": flow_records(flows.head(21))})
    assert client.post("/v1/score", content=many, headers=AUTH).status_code == 413
    rows = flow_records(flows.head(2))
    rows[1]["dst_port"] = "80"
    wrong = client.post("/v1/score", content=orjson.dumps({"flows": rows}), headers=AUTH)
    assert wrong.status_code == 422
    assert wrong.json()["errors"] == [{"row": 2, "field": "dst_port"}]
    assert client.get("/v1/score", headers=AUTH).status_code == 405


def test_openapi_still_declares_body_and_explain(client: Any) -> None:
    spec = client.get("/openapi.json").json()
    operation = spec["paths"]["/v1/score"]["post"]
    assert [p["name"] for p in operation["parameters"]] == ["explain"]
    content = operation["requestBody"]["content"]
    assert content["application/json"]["schema"] == {"$ref": "#/components/schemas/ScoreRequest"}
    assert "ScoreRequest" in spec["components"]["schemas"]
