"""The hot scoring path: coalesced requests, columnar parsing, errors naming row and field."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pandas as pd
import pytest
from serving_fixtures import alert_threshold, flow_records, make_loaded

from nids.errors import SchemaError
from nids.serving.alerts import AllowList
from nids.serving.endpoint import Coalescer
from nids.serving.holder import build_served_model
from nids.serving.metrics import ServiceMetrics
from nids.serving.parsing import parse_flows
from nids.serving.scoring import ScoringContext, score_request


def _served(pipeline: Any, flows: pd.DataFrame) -> Any:
    threshold = alert_threshold(pipeline, flows, share=0.2)
    return build_served_model(make_loaded(pipeline, version=1, threshold=threshold))


def _ctx() -> ScoringContext:
    return ScoringContext(ServiceMetrics.create(), AllowList(), None, "ecs")


def _requests(flows: pd.DataFrame) -> list[list[dict[str, Any]]]:
    # Disjoint source hosts: each request's host context is its own, so scoring them
    # together or one by one must give the same answers.
    picked = flows.drop_duplicates("src_ip").head(7)
    records = flow_records(picked)
    return [records[0:1], records[1:4], records[4:5], records[5:7]]


def test_coalesced_requests_answer_as_if_scored_alone(
    fitted_pipeline: Any, flows: pd.DataFrame
) -> None:
    requests = _requests(flows)
    batches = [parse_flows(orjson.dumps({"flows": r}), None, max_flows=100) for r in requests]
    alone_ctx = _ctx()
    alone_model = _served(fitted_pipeline, flows)
    alone = [score_request(b, alone_model, alone_ctx, explain="all") for b in batches]

    served = _served(fitted_pipeline, flows)
    calls = []
    predict = served.scorer.predict

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return predict(*args, **kwargs)

    served.scorer.predict = counting  # type: ignore[method-assign]
    ctx = _ctx()
    coalescer = Coalescer(ctx)

    async def together() -> list[bytes]:
        return list(await asyncio.gather(*(coalescer.score(b, served, "all") for b in batches)))

    bodies = asyncio.run(together())
    assert len(calls) == 1  # one Scorer call for the four requests
    assert [orjson.loads(b) for b in bodies] == [orjson.loads(b) for b in alone]
    assert [orjson.loads(b)["n_flows"] for b in bodies] == [1, 3, 1, 2]
    registry = ctx.metrics.registry
    assert registry.get_sample_value("nids_batch_size_count") == 4  # one per request
    assert (
        registry.get_sample_value(
            "nids_flows_scored_total", {"model_version": "1", "variant": "default"}
        )
        == 7
    )
    assert registry.get_sample_value("nids_score_count", {"model_version": "1"}) == 7


def test_a_failing_coalesced_group_is_retried_request_by_request(
    fitted_pipeline: Any, flows: pd.DataFrame
) -> None:
    batches = [
        parse_flows(orjson.dumps({"flows": r}), None, max_flows=100) for r in _requests(flows)
    ]
    served = _served(fitted_pipeline, flows)
    predict = served.scorer.predict

    def fails_on_three_flows(columns: Any, **kwargs: Any) -> Any:
        if len(columns["ts"]) in (3, 7):  # the second request, and any group holding it
            raise SchemaError("odd request")
        return predict(columns, **kwargs)

    served.scorer.predict = fails_on_three_flows  # type: ignore[method-assign]
    coalescer = Coalescer(_ctx())

    async def together() -> list[Any]:
        return list(
            await asyncio.gather(
                *(coalescer.score(b, served, "alerts") for b in batches), return_exceptions=True
            )
        )

    answers = asyncio.run(together())
    assert isinstance(answers[1], SchemaError)
    assert [orjson.loads(a)["n_flows"] for i, a in enumerate(answers) if i != 1] == [1, 1, 2]


@pytest.mark.parametrize(
    ("field", "value", "row"),
    [("dst_port", -1, 2), ("src_ip", "10.0.0", 3), ("duration", True, 1), ("proto", "bogus", 1)],
)
def test_fast_path_rejections_name_row_and_field(
    records: list[dict[str, Any]], field: str, value: Any, row: int
) -> None:
    rows = [dict(r) for r in records[:3]]
    rows[row - 1][field] = value
    body = orjson.dumps({"flows": rows})
    with pytest.raises(SchemaError) as info:
        parse_flows(body, "application/json", max_flows=10)
    assert (info.value.line, info.value.field) == (row, field)


def test_parsed_columns_are_numpy_and_frame_is_canonical(records: list[dict[str, Any]]) -> None:
    batch = parse_flows(orjson.dumps({"flows": records[:5]}), None, max_flows=10)
    assert batch.columns["ts"].dtype == "datetime64[us]"
    assert batch.columns["dst_port"].dtype.kind == "i"
    assert batch.columns["tcp_flags"].dtype.kind == "f"
    frame = batch.frame()
    assert str(frame["ts"].dtype) == "datetime64[us, UTC]"
    assert str(frame["tcp_flags"].dtype) == "Int16"
    assert len(frame) == len(batch) == 5
