"""A/B testing in the real service (uvicorn on loopback): split, stickiness, shadow,
guardrail cut-off with no failed client request, per-variant log/metrics, the report."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from ab_helpers import loader_for, many_hosts, parquet_body, write_experiment
from service_helpers import free_port, running_service

from nids.abtest.assign import assign
from nids.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]
PARQUET = {"content-type": "application/vnd.apache.parquet"}
URIS = {"control": "models:/m/1", "candidate": "models:/m/2", "shadow": "models:/m/3"}


@dataclass
class World:
    """A fitted pipeline, traffic from many hosts and per-URI thresholds."""

    pipeline: Any
    flows: pd.DataFrame
    thresholds: dict[str, float]


@pytest.fixture(scope="module")
def world() -> World:
    from nids.data.generator import generate_flows
    from nids.model.pipeline import build_pipeline
    from nids.model.scorer import Scorer

    pipeline = build_pipeline(Settings(n_estimators=25, max_samples=128, seed=0))
    pipeline.fit(generate_flows(3000, days=1, attack_share=0.0, seed=21))
    flows = many_hosts(generate_flows(100_000, days=1, attack_share=0.03, seed=22), 25_000, 23)
    scores = Scorer(pipeline, 0.5).score(flows.head(20_000))
    q = {
        uri: float(np.quantile(scores, p))
        for uri, p in zip(URIS.values(), (0.97, 0.99, 0.9), strict=True)
    }
    return World(pipeline, flows, q)


def _settings(root: Path, experiment: Path, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "ab_config": experiment,
        "model_uri": "models:/unused/9",
        "reload_interval_s": 0,
        "alert_sink": "file",
        "alert_file": root / "alerts.jsonl",
        "prediction_log_dir": str(root / "log"),
        "prediction_log_sample_rate": 1.0,
        "feedback_db_url": f"sqlite:///{root / 'feedback.db'}",
        "max_flows_per_request": 10_000,
    }
    return Settings(**{**values, **extra})


@pytest.fixture(scope="module")
def experiment_run(
    world: World, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """100,000 flows through an 80/20 experiment with a shadow; what came back."""
    from nids.serving.app import create_app

    root = tmp_path_factory.mktemp("ab")
    doc = {
        "name": "v2-vs-v1",
        "variants": [
            {"name": "control", "model_uri": URIS["control"], "weight": 0.8},
            {"name": "candidate", "model_uri": URIS["candidate"], "weight": 0.2},
            {"name": "shadow", "model_uri": URIS["shadow"], "shadow": True},
        ],
    }
    settings = _settings(root, write_experiment(root / "exp.yaml", doc))
    app = create_app(settings, model_loader=loader_for(world.pipeline, world.thresholds, {}))
    variants, alerts, statuses = [], 0, []
    warnings = _Recorder(logging.WARNING)
    logging.getLogger("nids").addHandler(warnings)
    with (
        warnings.removed_after(),
        running_service(app, free_port()) as url,
        httpx.Client(base_url=url, timeout=120) as client,
    ):
        for start in range(0, len(world.flows), 5000):
            chunk = world.flows.iloc[start : start + 5000]
            answer = client.post("/v1/score", content=parquet_body(chunk), headers=PARQUET)
            statuses.append(answer.status_code)
            body = answer.json()
            variants += [r["variant"] for r in body["results"]]
            alerts += body["n_alerts"]
        assert app.state.ab_router.shadow.flush(timeout=300)
        status = client.get("/v1/experiment").json()
        metrics = client.get("/metrics").text
        verdicts = [
            {"alert_id": f"a{i}", "verdict": v, "variant": "candidate", "model_version": "2"}
            for i, v in enumerate(["true_positive"] * 3 + ["false_positive"])
        ]
        for item in verdicts:
            assert client.post("/v1/feedback", json=item).status_code == 201
    yield {
        "root": root,
        "settings": settings,
        "variants": np.array(variants, dtype=object),
        "alerts": alerts,
        "statuses": statuses,
        "status": status,
        "metrics": metrics,
        "log_stats": app.state.ctx.prediction_log.stats,  # the service's own writer
        "warnings": warnings.messages,
    }


class _Recorder(logging.Handler):
    """Keeps the messages of log records (what a failed assertion should show)."""

    def __init__(self, level: int) -> None:
        super().__init__(level)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(f"{record.name}: {record.getMessage()}")

    @contextlib.contextmanager
    def removed_after(self) -> Iterator[None]:
        try:
            yield
        finally:
            logging.getLogger("nids").removeHandler(self)


def test_split_is_80_20_within_one_point_and_sticky(
    world: World, experiment_run: dict[str, Any]
) -> None:
    variants = experiment_run["variants"]
    assert set(experiment_run["statuses"]) == {200}
    assert len(variants) == 100_000
    assert abs((variants == "candidate").mean() - 0.2) < 0.01
    per_host = pd.DataFrame({"h": world.flows["src_ip"].to_numpy(), "v": variants})
    assert per_host.groupby("h")["v"].nunique().max() == 1  # every host met one model
    expected = assign(world.flows["src_ip"], {"control": 0.8, "candidate": 0.2}, "v2-vs-v1")
    assert (variants == expected).all()  # the service routes as the documented hash says


def test_80_20_to_50_50_in_the_service_moves_only_hosts_that_must_move(
    world: World, experiment_run: dict[str, Any], tmp_path: Path
) -> None:
    from nids.serving.app import create_app

    doc = {
        "name": "v2-vs-v1",  # same experiment, new weights
        "variants": [
            {"name": "control", "model_uri": URIS["control"], "weight": 0.5},
            {"name": "candidate", "model_uri": URIS["candidate"], "weight": 0.5},
        ],
    }
    settings = _settings(
        tmp_path, write_experiment(tmp_path / "exp.yaml", doc), prediction_log_dir=None
    )
    app = create_app(settings, model_loader=loader_for(world.pipeline, world.thresholds, {}))
    flows = world.flows.head(20_000)
    after: list[str] = []
    with (
        running_service(app, free_port()) as url,
        httpx.Client(base_url=url, timeout=120) as client,
    ):
        for start in range(0, len(flows), 5000):
            chunk = flows.iloc[start : start + 5000]
            answer = client.post("/v1/score", content=parquet_body(chunk), headers=PARQUET)
            after += [r["variant"] for r in answer.json()["results"]]
    hosts = pd.DataFrame(
        {
            "h": flows["src_ip"].to_numpy(),
            "before": experiment_run["variants"][: len(flows)],
            "after": after,
        }
    ).drop_duplicates("h")
    moved = hosts["before"] != hosts["after"]
    assert len(hosts) > 10_000
    assert not (moved & (hosts["before"] == "candidate")).any()  # nobody leaves the candidate
    assert (hosts.loc[moved, "after"] == "candidate").all()
    assert abs(moved.mean() - 0.3) < 0.015  # the 30 % of hosts the new weights require


def test_shadow_scores_everything_and_raises_no_alerts(experiment_run: dict[str, Any]) -> None:
    alerts = [
        json.loads(line)
        for line in (experiment_run["root"] / "alerts.jsonl").read_text().splitlines()
    ]
    assert len(alerts) == experiment_run["alerts"] > 0
    assert {a["nids"]["variant"] for a in alerts} <= {"control", "candidate"}
    status = experiment_run["status"]
    shadow = status["shadow"]
    assert (shadow["scored"], shadow["dropped"], shadow["failed"]) == (100_000, 0, 0)
    assert (shadow["queued_flows"], shadow["restarts"], shadow["alive"]) == (0, 0, True)
    role = {v["name"]: v for v in status["variants"]}["shadow"]
    assert (role["role"], role["model_version"], role["routed"]) == ("shadow", "3", False)
    metrics = experiment_run["metrics"]
    assert 'nids_flows_scored_total{model_version="3",variant="shadow"} 100000.0' in metrics
    assert 'nids_alerts_total{model_version="3"' not in metrics
    assert 'nids_ab_variant_routed{experiment="v2-vs-v1",variant="candidate"} 1.0' in metrics


def test_prediction_log_and_report(
    experiment_run: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from nids.cli import main
    from nids.monitoring.prediction_log import read_prediction_log

    root = experiment_run["root"]
    # The service's writer logged every routed flow (the shadow process has its own).
    stats, warnings = experiment_run["log_stats"], experiment_run["warnings"]
    assert stats["written"] == 100_000 and stats["dropped"] == 0, (stats, warnings)
    log = read_prediction_log(str(root / "log"))
    counts = log["variant"].value_counts().to_dict()
    files = sorted(p.relative_to(root).as_posix() for p in (root / "log").rglob("*") if p.is_file())
    assert counts["shadow"] == 100_000, (counts, files, warnings)
    assert counts["control"] + counts["candidate"] == 100_000, (counts, files, warnings)
    assert log["latency_ms"].notna().all()
    settings = experiment_run["settings"]
    monkeypatch.chdir(root)
    monkeypatch.setenv("NIDS_FEEDBACK_DB_URL", settings.feedback_db_url)
    code = main(
        ["ab", "report", "--config", str(settings.ab_config), "--log", str(root / "log"),
         "--out", str(root / "report")]
    )  # fmt: skip
    assert code == 0
    report = json.loads((root / "report" / "v2-vs-v1.json").read_text())
    stats = {v["name"]: v for v in report["variants"]}
    assert stats["candidate"]["reviewed"] == 4 and stats["candidate"]["precision"] == 0.75
    assert stats["control"]["alerts"] == int(log[log["variant"] == "control"]["is_alert"].sum())
    shadow_agreement = next(a for a in report["agreements"] if a["b"] == "shadow")
    assert shadow_agreement["flows"] == counts["control"]  # the shadow saw every control flow
    assert report["verdict"]["decision"] == "inconclusive"  # 4 reviews decide nothing
    assert report["verdict"]["more_needed"] > 0
    assert "<img" in (root / "report" / "v2-vs-v1.html").read_text()


def test_erroring_candidate_is_cut_off_without_failed_requests(
    world: World, tmp_path: Path
) -> None:
    from nids.serving.app import create_app

    doc = {
        "name": "crashy",
        "variants": [
            {"name": "control", "model_uri": URIS["control"], "weight": 0.5},
            {"name": "candidate", "model_uri": URIS["candidate"], "weight": 0.5},
        ],
        "guardrails": {"min_requests": 10, "max_error_rate": 0.2},
    }
    settings = _settings(
        tmp_path, write_experiment(tmp_path / "exp.yaml", doc), prediction_log_dir=None
    )
    loader = loader_for(world.pipeline, world.thresholds, {URIS["candidate"]: 5})
    app = create_app(settings, model_loader=loader)
    flows = world.flows.head(12_000)
    statuses, per_request = [], []
    with running_service(app, free_port()) as url, httpx.Client(base_url=url, timeout=60) as client:
        for start in range(0, len(flows), 300):
            answer = client.post(
                "/v1/score", content=parquet_body(flows.iloc[start : start + 300]), headers=PARQUET
            )
            statuses.append(answer.status_code)
            per_request.append({r["variant"] for r in answer.json()["results"]})
        status = client.get("/v1/experiment").json()
        metrics = client.get("/metrics").text
    assert statuses == [200] * len(statuses)  # zero failed client requests
    candidate = next(v for v in status["variants"] if v["name"] == "candidate")
    assert candidate["routed"] is False
    assert candidate["cut_off"]["rule"] == "error_rate"
    assert status["events"][0]["variant"] == "candidate"
    # the warm-up takes one good call: 4 good requests, then failures until the
    # 10-request window is full and breaks the 20 % rule
    assert candidate["errors"] == 6
    assert all("candidate" in variants for variants in per_request[:4])
    assert all(variants == {"control"} for variants in per_request[10:])
    assert (
        'nids_ab_guardrail_cutoffs_total{experiment="crashy",rule="error_rate",variant="candidate"} 1.0'
        in metrics
    )
