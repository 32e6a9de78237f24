"""The real service (uvicorn on loopback) against a real embedded MLflow registry."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
import pytest
from service_helpers import (
    WebhookReceiver,
    free_port,
    json_flows,
    register_version,
    registry_settings,
    running_service,
    set_alias,
    tamper,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]
TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SCANNER = "198.51.100.99"


class Registry:
    """Three registered versions: v1 and v2 good (different thresholds), v3 tampered."""

    def __init__(self, root: Path) -> None:
        from nids.data.generator import generate_flows
        from nids.model.pipeline import build_pipeline
        from nids.model.scorer import Scorer

        self.root = root
        self.settings = registry_settings(root)
        self.flows = generate_flows(3000, days=1, attack_share=0.05, seed=5)
        self.pipeline = build_pipeline(self.settings)
        self.pipeline.fit(self.flows)
        scores = Scorer(self.pipeline, 0.5).score(self.flows)
        self.thresholds = {1: float(np.quantile(scores, 0.95)), 2: float(np.quantile(scores, 0.9))}
        example = self.flows[self.flows["tcp_flags"].notna()].head(5)
        for version in (1, 2, 3):
            got = register_version(
                self.settings, self.pipeline, self.thresholds.get(version, 0.7), example
            )
            assert got == version
        tamper(self.settings, 3)
        set_alias(self.settings, 1)


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    return Registry(tmp_path_factory.mktemp("registry"))


@pytest.fixture(scope="module")
def service(registry: Registry) -> Iterator[tuple[str, Registry]]:
    """The service with a token, a file sink, an allow-list and fast hot reload."""
    from pydantic import SecretStr

    from nids.serving.app import create_app

    allow = registry.root / "allow.yaml"
    allow.write_text(f"scanners: [{SCANNER}]\n")
    settings = registry.settings.model_copy(
        update={
            "api_token": SecretStr(TOKEN),
            "alert_sink": "file",
            "alert_file": registry.root / "alerts" / "alerts.jsonl",
            "allowlist_path": allow,
            "max_flows_per_request": 500,
            "max_body_bytes": 400_000,
            "reload_interval_s": 0.3,
        }
    )
    with running_service(create_app(settings), free_port()) as url:
        yield url, registry


def _post(url: str, flows: list[dict[str, Any]], **params: Any) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/score",
        content=orjson.dumps({"flows": flows}),
        headers=AUTH,
        params=params,
        timeout=60,
    )


def _metric(url: str, name: str, **labels: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_scores_equal_in_process_scorer_and_explain(service: tuple[str, Registry]) -> None:
    """Runs first: the service's online state is still fresh, as in batch mode."""
    from nids.model.scorer import Scorer

    url, reg = service
    batch = reg.flows.iloc[1000:1300]
    response = _post(url, json_flows(batch), explain="all")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == {
        "name": "nids-isoforest",
        "version": "1",
        "semver": body["model"]["semver"],
    }
    expected = Scorer(reg.pipeline, reg.thresholds[1]).predict_frame(batch.reset_index(drop=True))
    got = np.array([r["score"] for r in body["results"]])
    np.testing.assert_allclose(got, expected["score"].to_numpy(), atol=1e-9)
    assert [r["is_alert"] for r in body["results"]] == expected["is_alert"].tolist()
    assert [r["community_id"] for r in body["results"]] == batch["community_id"].tolist()
    assert body["n_alerts"] == int(expected["is_alert"].sum()) > 0
    for result in body["results"]:
        assert len(result["top_features"]) == 3
        assert {"feature", "value", "contribution", "reason"} <= set(result["top_features"][0])
        assert result["model_version"] == "1" and result["threshold"] == reg.thresholds[1]


def test_auth_and_open_health(service: tuple[str, Registry]) -> None:
    url, reg = service
    flows = json_flows(reg.flows.head(1))
    assert httpx.post(f"{url}/v1/score", json={"flows": flows}).status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert httpx.post(f"{url}/v1/score", json={"flows": flows}, headers=wrong).status_code == 401
    assert httpx.get(f"{url}/v1/model").status_code == 401
    assert httpx.get(f"{url}/healthz").json() == {
        "status": "ok",
        "model_version": None,
        "detail": None,
    }
    assert httpx.get(f"{url}/readyz").json()["status"] == "ready"
    model = httpx.get(f"{url}/v1/model", headers=AUTH).json()
    assert model["name"] == "nids-isoforest" and model["verified"] is True
    assert model["tags"]["nids.semver"] == model["semver"]


def test_ecs_alerts_to_file_and_allowlist(service: tuple[str, Registry]) -> None:
    url, reg = service
    alert_file = reg.root / "alerts" / "alerts.jsonl"
    before = len(alert_file.read_bytes().splitlines()) if alert_file.exists() else 0
    batch = reg.flows.iloc[2000:2400].reset_index(drop=True)
    flows = json_flows(batch)
    scanner_rows = list(range(0, 400, 7))
    for i in scanner_rows:
        flows[i]["src_ip"] = SCANNER
        flows[i].pop("community_id")
    suppressed_before = _metric(url, "nids_alerts_suppressed_total", reason="scanner")
    body = _post(url, flows).json()
    alerts = [r for r in body["results"] if r["is_alert"]]
    suppressed = [i for i, r in enumerate(body["results"]) if r["suppressed"]]
    assert alerts and set(suppressed) <= set(scanner_rows)
    assert all(body["results"][i]["suppressed"] == "scanner" for i in suppressed)
    sent = {r["community_id"] for r in alerts if not r["suppressed"]}
    deadline = time.monotonic() + 10
    lines: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        lines = [orjson.loads(x) for x in alert_file.read_bytes().splitlines()[before:]]
        if len(lines) >= len(sent):
            break
        time.sleep(0.05)
    assert {line["network"]["community_id"] for line in lines} == sent
    assert all(line["event"]["kind"] == "alert" for line in lines)
    assert all(line["source"]["ip"] != SCANNER for line in lines)
    assert all(line["rule"]["version"] == "1" and line["nids"]["top_features"] for line in lines)
    assert _metric(
        url, "nids_alerts_suppressed_total", reason="scanner"
    ) - suppressed_before == len(suppressed)


def test_limits_and_schema_errors(service: tuple[str, Registry]) -> None:
    url, reg = service
    flows = json_flows(reg.flows.head(501))
    too_many = _post(url, flows)
    assert too_many.status_code == 413 and "limit is 500" in too_many.json()["detail"]
    big = httpx.post(
        f"{url}/v1/score",
        content=b" " * 400_001,
        headers={**AUTH, "content-type": "application/json"},
    )
    assert big.status_code == 413
    bad = json_flows(reg.flows.head(3))
    bad[2]["duration"] = -1.0
    answer = _post(url, bad)
    assert answer.status_code == 422
    assert answer.json()["errors"] == [{"row": 3, "field": "duration"}]
    bad[2]["duration"] = True
    assert _post(url, bad).json()["errors"] == [{"row": 3, "field": "duration"}]
    garbage = httpx.post(
        f"{url}/v1/score", content=b"{", headers={**AUTH, "content-type": "application/json"}
    )
    assert garbage.status_code == 422
    assert "Traceback" not in garbage.text and "/src/" not in garbage.text
    csv = httpx.post(
        f"{url}/v1/score", content=b"a,b", headers={**AUTH, "content-type": "text/csv"}
    )
    assert csv.status_code == 415


def test_metrics_content(service: tuple[str, Registry]) -> None:
    url, reg = service
    _post(url, json_flows(reg.flows.head(10)))
    text = httpx.get(f"{url}/metrics").text
    for name in (
        "nids_request_duration_seconds_bucket",
        "nids_http_requests_total",
        "nids_flows_scored_total",
        "nids_alerts_total",
        "nids_score_bucket",
        "nids_batch_size_bucket",
        "nids_model_loads_total",
        "nids_model_info",
        "nids_alert_sink_sent_total",
    ):
        assert name in text, name
    assert _metric(url, "nids_flows_scored_total", model_version="1") >= 710
    assert _metric(url, "nids_http_requests_total", endpoint="/v1/score", status="401") >= 2
    assert _metric(url, "nids_http_requests_total", endpoint="/v1/score", status="413") >= 2
    assert _metric(url, "nids_model_loads_total", kind="initial", result="success") == 1
    assert re.search(
        r'nids_model_info\{name="nids-isoforest",semver="[^"]+",version="1"\} 1\.0', text
    )


def test_hot_reload_under_load_then_reject_tampered(service: tuple[str, Registry]) -> None:
    url, reg = service
    flows = json_flows(reg.flows.iloc[100:140])
    failures: list[str] = []
    seen: set[str] = set()
    stop = threading.Event()

    def hammer() -> None:
        with httpx.Client(headers=AUTH, timeout=60) as client:
            while not stop.is_set():
                r = client.post(f"{url}/v1/score", content=orjson.dumps({"flows": flows}))
                if r.status_code != 200:
                    failures.append(f"{r.status_code} {r.text[:200]}")
                    continue
                body = r.json()
                versions = {x["model_version"] for x in body["results"]}
                if versions != {body["model"]["version"]}:
                    failures.append(f"mixed versions {versions}")
                seen.add(body["model"]["version"])

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.5)
        set_alias(reg.settings, 2)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and "2" not in seen:
            time.sleep(0.1)
        time.sleep(0.3)
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    assert failures == []
    assert seen == {"1", "2"}
    assert httpx.get(f"{url}/v1/model", headers=AUTH).json()["threshold"] == reg.thresholds[2]
    assert _metric(url, "nids_model_loads_total", kind="reload", result="success") == 1

    set_alias(reg.settings, 3)  # tampered artefacts: must be rejected
    deadline = time.monotonic() + 60
    while _metric(url, "nids_model_loads_total", kind="reload", result="failure") < 1:
        assert time.monotonic() < deadline, "tampered version never rejected"
        time.sleep(0.1)
    time.sleep(1.0)  # several more polls: rejected once, not retried
    assert _metric(url, "nids_model_loads_total", kind="reload", result="failure") == 1
    assert httpx.get(f"{url}/v1/model", headers=AUTH).json()["version"] == "2"
    assert _post(url, flows).json()["model"]["version"] == "2"
    assert httpx.get(f"{url}/readyz").json() == {
        "status": "ready",
        "model_version": "2",
        "detail": None,
    }


def test_webhook_sink_with_retry_and_eve(registry: Registry) -> None:
    from nids.serving.app import create_app

    receiver = WebhookReceiver(fail_first=1)
    settings = registry.settings.model_copy(
        update={
            "alert_sink": "webhook",
            "alert_webhook_url": receiver.url,
            "alert_format": "eve",
            "reload_interval_s": 0,
            "model_uri": "models:/nids-isoforest/1",
        }
    )
    try:
        with running_service(create_app(settings, feedback=False), free_port()) as url:
            batch = registry.flows.iloc[2400:2700]
            body = httpx.post(
                f"{url}/v1/score", json={"flows": json_flows(batch)}, timeout=60
            ).json()
            expected = {r["community_id"] for r in body["results"] if r["is_alert"]}
            assert expected
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and len(receiver.records()) < len(expected):
                time.sleep(0.05)
            assert receiver.attempts >= 2  # the first POST failed and was retried
            records = receiver.records()
            assert {r["community_id"] for r in records} == expected
            assert all(r["event_type"] == "alert" and r["alert"]["rev"] == "1" for r in records)
            assert _metric(url, "nids_alert_sink_sent_total") == len(expected)
    finally:
        receiver.close()


def test_schemathesis_finds_no_server_errors(service: tuple[str, Registry]) -> None:
    url, _ = service
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("schemathesis")),
            "run",
            f"{url}/openapi.json",
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "15",
            "--header",
            f"Authorization: Bearer {TOKEN}",
            "--generation-deterministic",
            "--request-timeout",
            "30",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "/v1/score" in result.stdout


def test_replay_streams_a_file_and_summarises(
    service: tuple[str, Registry], tmp_path: Path
) -> None:
    from pydantic import SecretStr

    from nids.data.io import write_flows
    from nids.serving.replay import replay

    url, reg = service
    path = tmp_path / "flows.parquet"
    write_flows(reg.flows.iloc[500:800], str(path))
    settings = reg.settings.model_copy(update={"api_token": SecretStr(TOKEN)})
    scored_before = _metric(url, "nids_flows_scored_total")
    summary = replay(settings, url, str(path), batch_size=120)
    assert (summary.flows, summary.requests) == (300, 3)
    assert summary.alerts == sum(summary.alerts_by_attack.values())
    assert summary.metrics["nids_flows_scored_total"] == scored_before + 300
    assert summary.model.startswith("nids-isoforest v")
