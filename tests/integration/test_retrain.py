"""The retraining pipeline against a real S3 API (moto server) and a real `mlflow server`.

Hourly parquet objects of generated weeks are put in a bucket; retrains read them by
the dated layout (``--since/--until``) or a glob, exactly as the CronJob would.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from nids.data.generator import generate_flows
from nids.errors import DataError, LockHeldError, ServiceUnavailableError
from nids.settings import Settings

pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("mlflow_server", ["sqlite"], indirect=True),
]
REPO_ROOT = Path(__file__).resolve().parents[2]
WEEK = timedelta(days=7)
W1, W2, W3 = (datetime(2025, 11, 3, tzinfo=UTC) + i * WEEK for i in range(3))


def put_week(
    client: Any,
    bucket: str,
    start: datetime,
    *,
    seed: int,
    share: float,
    drift: str | None = None,
    flows: int = 2000,
    days: float = 7.0,
    prefix: str = "netflow/",
) -> pd.DataFrame:
    """Generate flows and put them as one parquet object per hour (dated layout)."""
    frame = generate_flows(
        flows, days=days, attack_share=share, seed=seed, drift=drift, start=start
    )
    for stamp, part in frame.groupby(frame["ts"].dt.floor("h")):
        buf = io.BytesIO()
        part.to_parquet(buf, index=False)
        client.put_object(
            Bucket=bucket, Key=f"{prefix}{stamp:%Y-%m-%dT%H}.parquet", Body=buf.getvalue()
        )
    return frame


def make_settings(server_url: str, bucket: str, tmp_path: Path, **overrides: Any) -> Settings:
    """Unique experiment/model names per test; small, fast models."""
    tag = uuid.uuid4().hex[:8]
    values: dict[str, Any] = {
        "mlflow_tracking_uri": server_url,
        "experiment_name": f"retrain-{tag}",
        "registry_audit_experiment": f"audit-{tag}",
        "model_name": f"nids-rt-{tag}",
        "feedback_db_url": f"sqlite:///{tmp_path / 'ops.db'}",
        "quarantine_dir": tmp_path / "quarantine",
        "retrain_data_root": f"s3://{bucket}/netflow/",
        "n_estimators": 10,
        "max_samples": 128,
        "retrain_min_rows": 500,
    }
    values.update(overrides)
    return Settings(**values)


def _retrain(settings: Settings, start: datetime, **kw: Any) -> Any:
    from nids.pipelines import retrain

    return retrain(settings, since=start, until=start + WEEK, **kw)


def _production(settings: Settings) -> int | None:
    from nids.registry import state
    from nids.registry.store import configure_mlflow

    return state.read_state(configure_mlflow(settings), settings.model_name, "production").current


def _retrain_runs(settings: Settings) -> list[Any]:
    from nids.registry.store import configure_mlflow, ensure_experiment

    client = configure_mlflow(settings)
    return list(
        client.search_runs(
            [ensure_experiment(settings)],
            filter_string="tags.`nids.run_type` = 'retrain'",
            order_by=["attributes.start_time ASC"],
        )
    )


@pytest.mark.slow
@pytest.mark.timeout(1800)  # three trainings against a real server; minutes on a loaded machine
def test_retrain_promotes_better_keeps_champion_on_degraded_and_is_idempotent(
    mlflow_server: Any, s3_server: Any, s3_bucket: str, tmp_path: Path
) -> None:
    from nids.registry import history, verify_version

    client = s3_server.client()
    # Week 1: an attack wave (50 % malicious) makes a poor champion; week 2 is clean
    # traffic; week 3 is another wave. Each week's flows span its first two days: the
    # dated layout and weekly windows are the same, with 48 hourly objects, not 168.
    put_week(client, s3_bucket, W1, seed=1, share=0.1, drift="attack_surge", days=2)
    put_week(client, s3_bucket, W2, seed=2, share=0.05, days=2)
    week3 = put_week(client, s3_bucket, W3, seed=3, share=0.1, drift="attack_surge", days=2)
    settings = make_settings(mlflow_server.url, s3_bucket, tmp_path)

    first = _retrain(settings, W1)
    assert (first.decision, first.exit_code, first.version) == ("promoted", 0, 1)
    assert first.comparison.champion_version is None

    better = _retrain(settings, W2)
    assert (better.decision, better.exit_code, better.version) == ("promoted", 0, 2)
    assert better.comparison.champion_version == 1
    assert better.comparison.candidate["auc"] > better.comparison.production["auc"]
    assert _production(settings) == 2
    assert better.window["rows"] == 2000 and better.window["objects_refused"] == []

    again = _retrain(settings, W2)
    assert (again.decision, again.exit_code, again.version) == ("noop", 0, 2)
    assert again.run_id == better.run_id
    assert len(_retrain_runs(settings)) == 2  # the no-op created no run

    worse = _retrain(settings, W3)
    assert (worse.decision, worse.exit_code, worse.version) == ("kept", 5, 3)
    assert worse.comparison.champion_version == 2
    assert worse.comparison.reasons  # the gate said why
    assert worse.comparison.candidate["auc"] < worse.comparison.production["auc"]
    assert _production(settings) == 2  # production untouched
    verify_version(settings, settings.model_name, "3")  # registered with verified artefacts
    refused = [e for e in history(settings, settings.model_name) if e.to_version == 3]
    assert [e.outcome for e in refused] == ["refused"]

    # The decision is recorded on the parent run with both sets of figures and timings.
    runs = _retrain_runs(settings)
    last = runs[-1]
    assert last.info.status == "FINISHED"
    assert last.data.tags["nids.retrain.decision"] == "kept"
    assert last.data.tags["nids.retrain.champion_version"] == "2"
    assert last.data.metrics["challenger.auc"] == pytest.approx(worse.comparison.candidate["auc"])
    assert last.data.metrics["production.auc"] == pytest.approx(worse.comparison.production["auc"])
    for step in ("resolve", "validate", "train", "evaluate", "register", "promote", "record"):
        assert last.data.metrics[f"step_{step}_seconds"] >= 0
    from nids.registry.store import configure_mlflow

    mlflow_client = configure_mlflow(settings)
    children = mlflow_client.search_runs(
        [last.info.experiment_id], filter_string=f"tags.`mlflow.parentRunId` = '{last.info.run_id}'"
    )
    assert sorted(c.data.tags["nids.retrain.step"] for c in children) == sorted(
        ["validate", "train", "evaluate", "register", "promote", "record"]
    )
    # The data is referenced, not copied: dataset.json lists the objects and digest.
    import mlflow

    lineage = mlflow.artifacts.load_dict(f"runs:/{last.info.run_id}/dataset.json")
    assert lineage["digest"] == worse.digest
    assert len(lineage["objects"]) == week3["ts"].dt.floor("h").nunique()  # one per hour
    assert all(
        o["uri"].startswith(f"s3://{s3_bucket}/netflow/2025-11-") for o in lineage["objects"]
    )
    artefacts = [a.path for a in mlflow_client.list_artifacts(last.info.run_id)]
    assert not any(a.endswith(".parquet") for a in artefacts)


@pytest.mark.slow
def test_corrupt_object_fails_naming_it_or_is_quarantined(
    mlflow_server: Any, s3_server: Any, s3_bucket: str, tmp_path: Path
) -> None:
    client = s3_server.client()
    put_week(client, s3_bucket, W1, seed=4, share=0.05, flows=1500, days=1)
    bad_key = f"netflow/{W1:%Y-%m-%d}T05.parquet"
    client.put_object(Bucket=s3_bucket, Key=bad_key, Body=b"PAR1 truncated garbage")
    settings = make_settings(mlflow_server.url, s3_bucket, tmp_path)
    with pytest.raises(DataError, match=bad_key.replace(".", r"\.")):
        _retrain(settings, W1)
    failed = _retrain_runs(settings)
    assert [r.info.status for r in failed] == ["FAILED"]
    assert bad_key in failed[0].data.tags["nids.retrain.failure"]
    assert _production(settings) is None

    quarantining = settings.with_overrides(on_error="quarantine")
    result = _retrain(quarantining, W1)
    assert result.decision == "promoted"
    assert result.window["objects_refused"] == [f"s3://{s3_bucket}/{bad_key}"]
    assert (tmp_path / "quarantine" / f"{W1:%Y-%m-%d}T05.parquet.quarantine.jsonl").exists()


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_services_down_or_locked_fail_clearly_and_touch_nothing(
    mlflow_server: Any, s3_server: Any, s3_bucket: str, tmp_path: Path
) -> None:
    from nids.pipelines.lock import DatabaseLock

    put_week(s3_server.client(), s3_bucket, W1, seed=5, share=0.05, flows=600, days=1)
    settings = make_settings(mlflow_server.url, s3_bucket, tmp_path)
    dead = f"http://127.0.0.1:{_closed_port()}"

    with pytest.raises(ServiceUnavailableError, match=f"MLflow tracking store {dead}"):
        _retrain(settings.with_overrides(mlflow_tracking_uri=dead), W1)
    with pytest.raises(ServiceUnavailableError, match=f"s3://{s3_bucket}/netflow/"):
        _retrain(settings.with_overrides(s3_endpoint_url=dead), W1)
    runs = _retrain_runs(settings)
    assert [r.info.status for r in runs] == []  # S3 failed before any run started

    holder = DatabaseLock(
        settings.feedback_db_url,
        f"retrain:{settings.model_name}",
        ttl_s=60,
        holder="cron (scheduled retrain)",
    )
    with holder, pytest.raises(LockHeldError, match=r"held by cron \(scheduled retrain\)") as err:
        _retrain(settings, W1)
    assert err.value.exit_code == 6
    assert _retrain_runs(settings) == [] and _production(settings) is None


def _cli_env(settings: Settings, s3_server: Any, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NIDS_", "MLFLOW_", "AWS_"))}
    env.update(s3_server.env())
    env.update(
        {
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
            "MLFLOW_TRACKING_URI": settings.mlflow_tracking_uri,
            "NIDS_EXPERIMENT_NAME": settings.experiment_name,
            "NIDS_REGISTRY_AUDIT_EXPERIMENT": settings.registry_audit_experiment,
            "NIDS_MODEL_NAME": settings.model_name,
            "NIDS_FEEDBACK_DB_URL": settings.feedback_db_url,
            "NIDS_QUARANTINE_DIR": str(tmp_path / "quarantine"),
            "NIDS_RETRAIN_DATA_ROOT": settings.retrain_data_root or "",
            "NIDS_N_ESTIMATORS": "10",
            "NIDS_MAX_SAMPLES": "128",
            "NIDS_RETRAIN_MIN_ROWS": "500",
        }
    )
    env.update(extra)
    return env


def _run_until_paused(cmd: list[str], env: dict[str, str], cwd: Path, step: str) -> None:
    """Start the CLI, wait for the test hook to report the pause at ``step``, SIGKILL it."""
    log = cwd / f"paused-{step}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    try:
        for raw in proc.stderr:
            if raw.decode(errors="replace").strip() == f"PAUSED at {step}":
                break
        else:
            proc.wait(timeout=30)
            pytest.fail(f"retrain exited ({proc.returncode}) before step {step}: {log.read_text()}")
        proc.send_signal(signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL


def _assert_consistent(settings: Settings) -> None:
    """No version without verified artefacts; production only ever set by a passed gate."""
    from nids.registry import history, verify_version
    from nids.registry.promotion import list_versions

    for info in list_versions(settings) if _model_exists(settings) else []:
        verify_version(settings, settings.model_name, str(info.version))
    current = _production(settings)
    if current is not None:
        promoted = [
            e
            for e in history(settings, settings.model_name)
            if e.to_version == current and e.outcome == "promoted"
        ]
        assert promoted, f"production version {current} has no passed gate in the audit"


def _model_exists(settings: Settings) -> bool:
    from mlflow.exceptions import MlflowException

    from nids.registry.store import configure_mlflow

    try:
        configure_mlflow(settings).get_registered_model(settings.model_name)
    except MlflowException:
        return False
    return True


@pytest.mark.slow
@pytest.mark.timeout(2400)  # eight CLI processes, five of them train
def test_sigkill_at_every_step_leaves_a_consistent_registry_and_the_next_run_succeeds(
    mlflow_server: Any, s3_server: Any, s3_bucket: str, tmp_path: Path
) -> None:
    # Six hourly objects: every process reads the window again, and the point is the kills.
    put_week(s3_server.client(), s3_bucket, W1, seed=6, share=0.05, flows=1500, days=0.25)
    settings = make_settings(mlflow_server.url, s3_bucket, tmp_path)
    cmd = [
        str(Path(sys.executable).parent / "nids"),
        "retrain",
        "--since",
        f"{W1:%Y-%m-%d}",
        "--until",
        f"{W1 + timedelta(days=1):%Y-%m-%d}",
    ]
    steps = ["resolve", "validate", "train", "evaluate", "register", "promote", "record"]
    # Each run is killed at its step; the next one starts by repairing what it left.
    for step in steps:
        _run_until_paused(
            cmd, _cli_env(settings, s3_server, tmp_path, NIDS_TEST_PAUSE_AT=step), tmp_path, step
        )
        _assert_consistent(settings)
    done = subprocess.run(
        cmd,
        env=_cli_env(settings, s3_server, tmp_path),
        check=False,
        cwd=tmp_path,
        capture_output=True,
        timeout=600,
    )
    assert done.returncode in (0, 5), done.stderr.decode()[-3000:]
    _assert_consistent(settings)
    runs = _retrain_runs(settings)
    # "resolve" dies before a run exists; every other killed run is marked FAILED.
    assert [r.info.status for r in runs] == ["FAILED"] * (len(steps) - 1) + ["FINISHED"]
    for run, step in zip(runs[:-1], steps[1:], strict=True):
        assert f"during step '{step}'" in run.data.tags["nids.retrain.failure"]
    assert runs[-1].data.tags["nids.retrain.decision"] in ("promoted", "kept")
    assert _production(settings) is not None


@pytest.mark.slow
def test_the_specification_command_reads_every_hourly_object_from_s3(
    mlflow_server: Any, s3_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`python models/nids/train.py --data 's3://sec-ai-raw/netflow/2025-11-*.parquet'`."""
    client = s3_server.client()
    client.create_bucket(Bucket="sec-ai-raw")
    try:
        frame = put_week(client, "sec-ai-raw", W1, seed=7, share=0.03, flows=3000)
        keys = client.list_objects_v2(Bucket="sec-ai-raw", Prefix="netflow/")["KeyCount"]
        assert keys == frame["ts"].dt.floor("h").nunique() > 150  # a week of hourly objects
        settings = make_settings(mlflow_server.url, "sec-ai-raw", tmp_path)
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("NIDS_", "MLFLOW_", "AWS_"))
        }
        env.update(s3_server.env())
        env.update(
            MLFLOW_TRACKING_URI=mlflow_server.url,
            NIDS_EXPERIMENT_NAME=settings.experiment_name,
            NIDS_N_ESTIMATORS="10",
        )
        done = subprocess.run(
            [sys.executable, str(REPO_ROOT / "models" / "nids" / "train.py"),
             "--data", "s3://sec-ai-raw/netflow/2025-11-*.parquet"],
            env=env, cwd=tmp_path, capture_output=True, timeout=900, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr.decode()[-3000:]
        for key, value in s3_server.env().items():
            monkeypatch.setenv(key, value)
        import mlflow

        mlflow.set_tracking_uri(mlflow_server.url)
        [run] = mlflow.search_runs(
            experiment_names=[settings.experiment_name], output_format="list"
        )
        assert run.data.params["data"] == "s3://sec-ai-raw/netflow/2025-11-*.parquet"
        # the test period is the latest 30 % of ALL flows: every object was read
        assert run.data.metrics["test_rows"] == pytest.approx(0.3 * len(frame), abs=1)
    finally:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket="sec-ai-raw"):
            for obj in page.get("Contents", []):
                client.delete_object(Bucket="sec-ai-raw", Key=obj["Key"])
        client.delete_bucket(Bucket="sec-ai-raw")
