"""Live monitoring in the real service: drift gauges on /metrics, features in the log.

A model trained (with its reference profile) and registered on an embedded registry
is served by uvicorn; same-distribution traffic leaves the rolling window's drift
gauge at 0, a volume shift flips it to 1, and every prediction-log record carries
the engineered features the model computed online for that flow, which
`nids monitor drift --current <log>` compares as logged. A restart mid-hour keeps
every record once; an unwritable log path costs counted drops, not failed requests.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from service_helpers import json_flows, registry_settings, running_service, train_week_model

from support import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]
START = datetime(2026, 2, 2, tzinfo=UTC)
WINDOW = 1500


def _gauge(url: str, name: str, model: str) -> float | None:
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(f"{url}/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels.get("model") == model:
                return float(sample.value)
    return None


def _wait_for(url: str, name: str, model: str, value: float) -> None:
    deadline = time.monotonic() + 120
    while _gauge(url, name, model) != value:
        assert time.monotonic() < deadline, f"{name}{{model={model}}} never reached {value}"
        time.sleep(0.2)


def _post(url: str, flows: pd.DataFrame) -> None:
    for start in range(0, len(flows), 500):
        body = json_flows(flows.iloc[start : start + 500])
        response = httpx.post(f"{url}/v1/score", json={"flows": body}, timeout=60)
        assert response.status_code == 200, response.text


def test_drift_gauges_flip_and_log_records_carry_features(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nids.cli import main
    from nids.data.generator import generate_flows
    from nids.monitoring.prediction_log import read_prediction_log
    from nids.registry import load_model
    from nids.serving.app import create_app

    settings = registry_settings(
        tmp_path,
        model_uri="models:/nids-isoforest/1",
        reload_interval_s=0,
        prediction_log_dir=str(tmp_path / "log"),
        prediction_log_sample_rate=1.0,
        drift_monitor_interval_s=0.2,
        drift_monitor_window=WINDOW,
        drift_monitor_min_flows=500,
    )
    assert train_week_model(settings, START) == 1
    model = "nids-isoforest/1"
    # the same network two days later, then its traffic volume shifted
    same = generate_flows(WINDOW, days=2, attack_share=0.02, seed=5, start=START + timedelta(9))
    shifted = generate_flows(
        WINDOW, days=2, attack_share=0.02, seed=5, drift="volume_shift", start=START + timedelta(11)
    )
    app = create_app(settings)
    with running_service(app, free_port()) as url:
        _post(url, same)
        # the window is full of same-distribution flows only once all of them arrived
        _wait_for(url, "nids_drift_window_flows", model, WINDOW)
        assert _gauge(url, "nids_drift_detected", model) == 0.0
        assert _gauge(url, "nids_drift_columns_drifted", model) == 0.0
        _post(url, shifted)
        _wait_for(url, "nids_drift_detected", model, 1.0)
        assert (_gauge(url, "nids_drift_columns_drifted", model) or 0) >= 1
        assert _gauge(url, "nids_drift_window_flows", model) == WINDOW
    # shutdown flushed the log; every record holds the online features of its flow
    logged = read_prediction_log(settings.prediction_log_dir)
    scorer = load_model(settings.model_uri, settings).nids_model.scorer
    sent = pd.concat([same, shifted], ignore_index=True)
    expected = scorer.features(sent, state=scorer.features_step.new_state())
    columns = [f"feature:{n}" for n in scorer.feature_names]
    assert len(logged) == len(sent) and set(columns) <= set(logged.columns)
    # a flow is its Community ID and start time (the log keeps both)
    key = sent["community_id"].astype(str) + "@" + sent["ts"].astype(str)
    assert key.is_unique
    position = {k: i for i, k in enumerate(key)}
    logged_key = logged["community_id"].astype(str) + "@" + logged["ts"].astype(str)
    rows: Any = logged_key.map(position).to_numpy()
    assert sorted(rows) == list(range(len(sent)))  # every flow once
    np.testing.assert_allclose(logged[columns].to_numpy(), expected[rows], rtol=1e-12)
    np.testing.assert_allclose(
        logged["score"].to_numpy(), scorer.score_features(expected[rows]), rtol=1e-12
    )

    # the drift check takes the logged engineered features as they are (host context
    # included: no recomputation from a sample), besides the raw and category columns
    for name, value in {
        "MLFLOW_TRACKING_URI": settings.mlflow_tracking_uri,
        "NIDS_ARTIFACT_ROOT": str(settings.artifact_root),
        "NIDS_MODEL_URI": settings.model_uri,
        "NIDS_FEEDBACK_DB_URL": settings.feedback_db_url,
    }.items():
        monkeypatch.setenv(name, value)
    out = tmp_path / "drift.json"
    log_glob = f"{settings.prediction_log_dir}/date=*"
    assert main(["monitor", "drift", "--current", log_glob, "--json", str(out), "--no-mlflow"]) == 3
    check = json.loads(out.read_text())
    assert not any("host-context" in note for note in check["notes"])
    compared = {c["name"]: c for c in check["drift"]["columns"]}
    assert {"feature:ctx_flows", "raw:src_bytes", "cat:service", "score"} <= set(compared)
    assert compared["feature:log_src_bytes"]["n_current"] == len(sent)
    assert "feature:log_src_bytes" in check["drift"]["drifted_columns"]

    # restart mid-hour on the same log: the new process adds its records, loses none
    later = generate_flows(500, days=1, attack_share=0.02, seed=5, start=START + timedelta(13))
    with running_service(create_app(settings), free_port()) as url:
        _post(url, later)
    again = read_prediction_log(settings.prediction_log_dir)
    assert len(again) == len(sent) + len(later)
    both = pd.concat([sent, later], ignore_index=True)
    assert sorted(again["community_id"].astype(str) + "@" + again["ts"].astype(str)) == sorted(
        both["community_id"].astype(str) + "@" + both["ts"].astype(str)
    )

    # an unwritable log path: every request still answers, the rows become counted drops
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the log directory should be")
    broken = settings.model_copy(update={"prediction_log_dir": str(blocker / "log")})
    app = create_app(broken)
    with running_service(app, free_port()) as url:
        _post(url, later)  # asserts 200 for every batch
    stats = app.state.ctx.prediction_log.stats
    assert stats["submitted"] == stats["dropped"] == len(later) and stats["written"] == 0

    # the profile is one of the model's artefacts under its SHA-256 manifest
    from nids.errors import ModelIntegrityError

    profile_file = next(Path(settings.artifact_root).rglob("reference_profile.json"))
    profile_file.write_text(profile_file.read_text().replace('"n_rows": ', '"n_rows": 1'))
    with pytest.raises(ModelIntegrityError, match=r"reference_profile\.json"):
        load_model(settings.model_uri, settings)
