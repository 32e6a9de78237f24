"""Monitoring against a registered model on the embedded MLflow store.

Train and register a model, write a prediction log as the service does, add analyst
verdicts, then run monitoring cycles: drift against the model's own reference,
feedback metrics, the MLflow monitoring run linked to the model version, the retrain
hook and its cool-down, and `nids monitor drift` exit codes.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import mlflow
import pytest
from service_helpers import train_week_model

from nids.cli import main
from nids.monitoring.feedback import FeedbackStore
from nids.monitoring.job import run_cycle
from nids.monitoring.prediction_log import PredictionLogWriter, build_log_frame
from nids.monitoring.reference import load_reference_profile
from nids.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]
START = datetime(2026, 2, 2, tzinfo=UTC)


def test_monitoring_cycle_on_a_registered_model(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nids.data.generator import generate_flows
    from nids.registry import load_model

    # absolute URIs: MLflow caches stores by URI string across tests in one process
    env = {
        "MLFLOW_TRACKING_URI": f"sqlite:///{workdir / 'mlruns' / 'mlflow.db'}",
        "NIDS_ARTIFACT_ROOT": str(workdir / "mlruns" / "artifacts"),
        "NIDS_FEEDBACK_DB_URL": f"sqlite:///{workdir / 'feedback.db'}",
        "NIDS_PREDICTION_LOG_DIR": str(workdir / "log"),
        "NIDS_MONITOR_REPORT_DIR": str(workdir / "reports"),
        "NIDS_RETRAIN_ON_DRIFT": "true",
        "NIDS_MODEL_URI": "models:/nids-isoforest/1",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    assert train_week_model(settings, START) == 1
    profile = load_reference_profile(settings.model_uri, settings)
    assert profile["n_rows"] > 0 and profile["feature_names"]

    store = FeedbackStore(settings.feedback_db_url)
    verdicts = ["true_positive"] * 3 + ["false_positive"]
    store.record_many(
        {"alert_id": f"a{i}", "verdict": v, "model_name": "nids-isoforest", "model_version": "1"}
        for i, v in enumerate(verdicts)
    )
    store.close()

    # the service's side: score an attack wave, log a 50 % sample with online features
    surge = generate_flows(
        2000,
        days=2,
        attack_share=0.02,
        seed=5,
        drift="attack_surge",
        start=START + timedelta(days=9),
    )
    scorer = load_model(settings.model_uri, settings).nids_model.scorer
    now = datetime.now(UTC)
    frame = build_log_frame(
        surge,
        scorer.predict_frame(surge, explain="none"),
        model_name="nids-isoforest",
        model_version="1",
        features=scorer.features(surge),
        feature_names=scorer.feature_names,
        scored_at=now - timedelta(minutes=30),
    )
    with PredictionLogWriter(
        settings.prediction_log_dir, sample_rate=0.5, max_bytes=10**8, seed=1
    ) as writer:
        writer.submit(frame)

    calls: list[object] = []
    check = run_cycle(settings, retrain_hook=lambda s, c: calls.append(c) or "queued")
    assert check.result.drifted and "alert_rate" in check.result.drifted_columns
    assert len(calls) == 1 and "retrain triggered: queued" in check.notes
    assert check.report_path is not None and check.report_path.is_file()
    saved = json.loads(check.json_path.read_text())
    assert saved["model"] == {
        "name": "nids-isoforest",
        "version": "1",
        "uri": "models:/nids-isoforest/1",
    }
    feedback = saved["feedback"]
    assert feedback["precision"] == 0.75
    # the log stands for 2,000 flows (50 % sample): FPR = alerts * 0.25 / benign flows
    assert feedback["window_flows"] == pytest.approx(2000, rel=0.1)
    expected_fpr = (
        feedback["window_alerts"]
        * 0.25
        / (feedback["window_flows"] - feedback["window_alerts"] * 0.75)
    )
    assert feedback["false_positive_rate"] == pytest.approx(expected_fpr)

    client = mlflow.MlflowClient(tracking_uri=env["MLFLOW_TRACKING_URI"])
    run = client.get_run(check.run_id)
    assert run.data.tags["nids.model_name"] == "nids-isoforest"
    assert run.data.tags["nids.model_version"] == "1"
    assert run.data.tags["nids.retrain_triggered"] == "true"
    metrics = run.data.metrics
    assert metrics["drift_detected"] == 1.0
    assert metrics["prediction_mean"] == pytest.approx(check.result.prediction_mean)
    assert metrics["false_positive_rate"] == pytest.approx(expected_fpr)
    assert metrics["precision"] == 0.75
    assert metrics["drift.alert_rate.drifted"] == 1.0
    artifacts = {a.path for a in client.list_artifacts(check.run_id)}
    assert {"drift.json", check.report_path.name} <= artifacts

    # a second cycle inside the cool-down records the drift but starts nothing
    again = run_cycle(settings, retrain_hook=lambda s, c: calls.append(c) or "queued")
    assert again.result.drifted and len(calls) == 1
    assert any("cool-down" in note for note in again.notes)

    # `nids monitor drift` on same-distribution traffic exits 0; on the wave, 3
    # (the reference spans days: a one-day window of the same traffic matches it)
    later = generate_flows(1000, days=1, attack_share=0.02, seed=5, start=START + timedelta(days=9))
    later.to_parquet("same.parquet")
    assert main(["monitor", "drift", "--current", "same.parquet", "--no-mlflow"]) == 0
    assert main(["monitor", "drift", "--current", str(workdir / "log")]) == 3
