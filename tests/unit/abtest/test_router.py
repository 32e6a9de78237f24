"""The router scores parsed FlowBatches (columnar) exactly as their canonical frames."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest

from nids.abtest.config import ExperimentConfig
from nids.abtest.router import ExperimentRouter, arrow_body, build_router
from nids.serving.alerts import AllowList
from nids.serving.metrics import ServiceMetrics
from nids.serving.parsing import parse_flows
from nids.serving.scoring import ScoringContext
from nids.serving.sinks import AlertDispatcher, FileSink
from nids.settings import Settings

URIS = {"control": "models:/m/1", "candidate": "models:/m/2"}
REQUEST_SIZES = [1, 3, 1, 60, 200, 5]  # in order: the online host state sees the same flows


@pytest.fixture(scope="module")
def world() -> tuple[Any, pd.DataFrame, dict[str, float]]:
    """A fitted pipeline, request traffic, and per-URI thresholds making many alerts."""
    from nids.data.generator import generate_flows
    from nids.model.pipeline import build_pipeline
    from nids.model.scorer import Scorer

    pipeline = build_pipeline(Settings(n_estimators=25, max_samples=128, seed=0))
    pipeline.fit(generate_flows(3000, days=1, attack_share=0.0, seed=31))
    flows = generate_flows(sum(REQUEST_SIZES), days=1, attack_share=0.05, seed=32)
    scores = Scorer(pipeline, 0.5).score(flows)
    thresholds = {URIS["control"]: float(np.quantile(scores, 0.8))}
    thresholds[URIS["candidate"]] = float(np.quantile(scores, 0.7))
    return pipeline, flows, thresholds


class _Loader:
    """Model loader: URI -> a NidsModel around the shared pipeline with that threshold."""

    def __init__(self, pipeline: Any, thresholds: dict[str, float]) -> None:
        self.pipeline, self.thresholds = pipeline, thresholds

    def __call__(self, uri: str, settings: Settings) -> Any:
        from nids.model.pyfunc import NidsModel
        from nids.model.scorer import Scorer
        from nids.registry import LoadedModel

        model = NidsModel()
        model.scorer = Scorer(self.pipeline, self.thresholds[uri])
        version = int(uri.rsplit("/", 1)[-1])
        return LoadedModel(None, model, uri, "nids-isoforest", version, f"1.{version}.0")


def _router(
    world: tuple[Any, pd.DataFrame, dict[str, float]], alerts: Path, assign_by: str
) -> tuple[ExperimentRouter, ScoringContext]:
    """A started 50/50 router with fresh models (own online state) and a file alert sink."""
    pipeline, flows, thresholds = world
    config = ExperimentConfig(
        name="columnar",
        assign_by=assign_by,
        variants=[
            {"name": "control", "model_uri": URIS["control"], "weight": 0.5},
            {"name": "candidate", "model_uri": URIS["candidate"], "weight": 0.5},
        ],
    )
    settings = Settings(
        model_uri="models:/unused/9", reload_interval_s=0, drift_monitor_interval_s=0
    )
    metrics = ServiceMetrics.create()
    loader = _Loader(pipeline, thresholds)
    router = build_router(config, settings, None, metrics=metrics, loader=loader, probe=None)
    for runtime in router.variants.values():
        assert runtime.holder.load("initial")
    busiest_port = int(flows["dst_port"].mode().iloc[0])  # some alerts get suppressed
    dispatcher = AlertDispatcher(FileSink(alerts, 10**9), queue_size=1000)
    allow = AllowList(ports=frozenset({busiest_port}))
    return router, ScoringContext(metrics, allow, dispatcher, "ecs")


def _alert_lines(path: Path) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    for line in lines:
        line.pop("@timestamp")  # when the alert was formatted
    return lines


@pytest.mark.parametrize("assign_by", ["src_ip", "community_id", "header:X-Tenant"])
def test_routing_a_flow_batch_answers_like_routing_its_frame(
    world: tuple[Any, pd.DataFrame, dict[str, float]], tmp_path: Path, assign_by: str
) -> None:
    _, flows, _ = world
    records = json.loads(
        flows.drop(columns=["label", "attack_type"]).to_json(
            orient="records", date_format="iso", date_unit="us"
        )
    )
    columnar, columnar_ctx = _router(world, tmp_path / "columnar.jsonl", assign_by)
    framed, framed_ctx = _router(world, tmp_path / "framed.jsonl", assign_by)
    answers: list[tuple[Any, Any]] = []
    start = 0
    for i, size in enumerate(REQUEST_SIZES):
        body = orjson.dumps({"flows": records[start : start + size]})
        start += size
        headers = {"X-Tenant": f"t{i}"}  # t0: candidate, t2: control
        batch = parse_flows(body, None, max_flows=1000)
        frame = parse_flows(body, None, max_flows=1000).frame()  # parsed apart: no sharing
        frame.index += 1000  # a caller's frame need not start at 0
        got = columnar.score(batch, columnar_ctx, headers=headers, explain="all")
        want = framed.score(frame, framed_ctx, headers=headers, explain="all")
        answers.append((orjson.loads(got), orjson.loads(want)))
    for ctx in (columnar_ctx, framed_ctx):
        assert ctx.dispatcher is not None
        ctx.dispatcher.close()

    for got, want in answers:
        assert got == want
    results = [r for got, _ in answers for r in got["results"]]
    assert {r["variant"] for r in results} == {"control", "candidate"}
    assert sum(r["is_alert"] for r in results) > 20
    assert any(r["suppressed"] for r in results)
    assert len({r["score"] for r in results}) > 200  # real, distinct scores
    columnar_alerts = _alert_lines(tmp_path / "columnar.jsonl")
    assert columnar_alerts == _alert_lines(tmp_path / "framed.jsonl")
    emitted = sum(r["is_alert"] and not r["suppressed"] for r in results)
    assert len(columnar_alerts) == emitted > 0


def test_routing_by_header_keeps_a_request_on_one_variant(
    world: tuple[Any, pd.DataFrame, dict[str, float]], tmp_path: Path
) -> None:
    _, flows, _ = world
    router, _ = _router(world, tmp_path / "alerts.jsonl", "header:X-Tenant")
    batch = parse_flows(_json_body(flows.head(50)), None, max_flows=100)
    by_tenant = {t: router.assign(batch, {"X-Tenant": t}) for t in map(str, range(20))}
    assert all(len(set(names.tolist())) == 1 for names in by_tenant.values())
    assert {names[0] for names in by_tenant.values()} == {"control", "candidate"}
    # without the header the source host decides, as with assign_by: src_ip
    assert (router.assign(batch, {}) == router.assign(batch.frame(), None)).all()
    hosts = router.assign(batch, None)
    assert len(set(hosts.tolist())) == 2


def test_shadow_body_of_a_batch_is_its_frame_as_arrow(
    world: tuple[Any, pd.DataFrame, dict[str, float]],
) -> None:
    _, flows, _ = world
    batch = parse_flows(_json_body(flows.head(30)), None, max_flows=100)
    again = parse_flows(arrow_body(batch), "application/vnd.apache.arrow.stream", max_flows=100)
    pd.testing.assert_frame_equal(again.frame(), batch.frame())


def _json_body(flows: pd.DataFrame) -> bytes:
    inputs = flows.drop(columns=["label", "attack_type"])
    text = inputs.to_json(orient="records", date_format="iso", date_unit="us")
    return f'{{"flows": {text}}}'.encode()
