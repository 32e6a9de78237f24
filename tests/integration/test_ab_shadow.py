"""The shadow process on its own: bounded hand-off, counters, nice 19, restarts, hot reload."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from ab_helpers import AliasFile, ModelsByUri, parquet_body

from nids.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]
PARQUET = "application/vnd.apache.parquet"
THRESHOLDS = {"models:/m/1": 0.9, "models:/m/3": 0.5, "models:/m/4": 0.5}


@pytest.fixture(scope="module")
def fitted() -> tuple[Any, pd.DataFrame]:
    from nids.data.generator import generate_flows
    from nids.model.pipeline import build_pipeline

    pipeline = build_pipeline(Settings(n_estimators=10, max_samples=128, seed=0))
    pipeline.fit(generate_flows(2000, days=1, attack_share=0.0, seed=31))
    return pipeline, generate_flows(1000, days=1, attack_share=0.05, seed=32)


def _scorer(
    pipeline: Any, tmp_path: Path, targets: dict[str, str], **kwargs: Any
) -> tuple[Any, Any]:
    from nids.abtest.metrics import ABMetrics
    from nids.abtest.shadow import ShadowScorer, ShadowTarget
    from nids.serving.metrics import ServiceMetrics

    aliases = AliasFile(tmp_path / "alias")
    aliases.set(3)
    reload_s = kwargs.pop("reload_interval_s", 0)
    metrics = ServiceMetrics.create()
    scorer = ShadowScorer(
        "exp",
        [
            ShadowTarget(name, 1.0, Settings(model_uri=uri, reload_interval_s=reload_s))
            for name, uri in targets.items()
        ],
        service_metrics=metrics,
        ab_metrics=ABMetrics.create(metrics.registry),
        loader=ModelsByUri(
            pipeline,
            THRESHOLDS,
            kwargs.pop("failing", {}),
            aliases=aliases,
            delay_s=kwargs.pop("delay_s", 0.0),
        ),
        probe=aliases,
        **kwargs,
    )
    return scorer, metrics


@pytest.fixture
def closing() -> Iterator[list[Any]]:
    scorers: list[Any] = []
    yield scorers
    for scorer in scorers:
        scorer.close()


def test_full_queue_drops_and_every_outcome_is_counted(
    fitted: tuple[Any, pd.DataFrame], tmp_path: Path, closing: list[Any]
) -> None:
    from nids.monitoring.prediction_log import read_prediction_log

    pipeline, flows = fitted
    log_args = {"root": str(tmp_path / "log"), "sample_rate": 1.0, "max_bytes": 10**9}
    scorer, metrics = _scorer(
        pipeline,
        tmp_path,
        {"shadow": "models:/m/3", "broken": "models:/m/4"},
        failing={"models:/m/4": 1},  # the warm-up call passes, every real one raises
        delay_s=3.0,  # the child reads nothing before its models are loaded
        queue_size=2,
        prediction_log=log_args,
    )
    closing.append(scorer)
    scorer.start()
    body = parquet_body(flows.head(100))
    for _ in range(5):
        scorer.submit(body, PARQUET, 100)
    # two batches fit the queue, three are dropped at once, for both shadows
    assert scorer.snapshot()["dropped"] == 2 * 300
    assert scorer.flush(timeout=180)
    snap = scorer.snapshot()
    assert (snap["scored"], snap["failed"], snap["queued_flows"]) == (200, 200, 0)
    assert snap["alive"] is True
    pid = scorer._gen.process.pid
    assert os.getpriority(os.PRIO_PROCESS, pid) == min(19, os.getpriority(os.PRIO_PROCESS, 0) + 19)
    assert scorer.versions == {"shadow": "3", "broken": "4"}
    text = metrics.render()[0].decode()
    for variant, outcome, n in [
        ("shadow", "scored", 200),
        ("shadow", "dropped", 300),
        ("broken", "failed", 200),
        ("broken", "dropped", 300),
    ]:
        line = (
            f'nids_ab_shadow_flows_total{{experiment="exp",outcome="{outcome}",'
            f'variant="{variant}"}} {n}.0'
        )
        assert line in text
    assert 'nids_flows_scored_total{model_version="3",variant="shadow"} 200.0' in text
    assert 'nids_ab_scoring_duration_seconds_count{experiment="exp",variant="shadow"}' in text
    assert "nids_alerts_total{" not in text  # a shadow never alerts
    scorer.close()
    assert scorer.snapshot()["alive"] is False
    logged = read_prediction_log(str(tmp_path / "log"))
    assert len(logged) == 200
    assert set(logged["variant"]) == {"shadow"} and set(logged["model_version"]) == {"3"}
    assert logged["latency_ms"].notna().all()
    assert any(c.startswith("feature:") for c in logged.columns)  # logged like the service's


def test_an_alias_named_shadow_follows_the_registry_and_survives_a_crash(
    fitted: tuple[Any, pd.DataFrame], tmp_path: Path, closing: list[Any]
) -> None:
    pipeline, flows = fitted
    scorer, metrics = _scorer(
        pipeline, tmp_path, {"shadow": "models:/m@shadow"}, reload_interval_s=0.2
    )
    closing.append(scorer)
    scorer.start()
    body = parquet_body(flows.head(20))
    scorer.submit(body, PARQUET, 20)
    assert scorer.flush(timeout=180)
    assert scorer.versions == {"shadow": "3"}
    AliasFile(tmp_path / "alias").set(1)  # the alias moves: the shadow process reloads
    sent = 20
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and scorer.versions["shadow"] != "1":
        scorer.submit(body, PARQUET, 20)
        sent += 20
        scorer.flush(timeout=60)
        time.sleep(0.2)
    assert scorer.versions == {"shadow": "1"}
    text = metrics.render()[0].decode()
    assert 'nids_flows_scored_total{model_version="1",variant="shadow"}' in text

    first = scorer._gen.process.pid
    os.kill(first, signal.SIGKILL)  # the shadow process dies: restarted, counted
    while time.monotonic() < deadline + 60 and scorer._gen.process.pid == first:
        time.sleep(0.1)
    assert scorer.snapshot()["restarts"] == 1
    scorer.submit(body, PARQUET, 20)
    assert scorer.flush(timeout=180)
    snap = scorer.snapshot()
    assert (snap["scored"], snap["dropped"], snap["alive"]) == (sent + 20, 0, True)
    assert scorer.versions == {"shadow": "1"}
    assert 'nids_ab_shadow_restarts_total{experiment="exp"} 1.0' in metrics.render()[0].decode()
