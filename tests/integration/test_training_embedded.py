"""Training on the embedded default store (SQLite under ./mlruns): the specification's
command as written, reproducibility, and a tracking failure mid-run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import mlflow
import numpy as np
import pytest
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from training_checks import check_training_run

from flow_samples import make_flows
from nids.errors import ServiceUnavailableError
from nids.model.pyfunc import to_model_input
from nids.settings import Settings
from nids.training import train
from support import REPO_ROOT

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ROWS = 1500
FLAGS = ["--n-estimators", "30", "--max-samples", "128", "--seed", "7"]


def test_spec_command_trains_registers_and_is_reproducible(workdir: Path) -> None:
    make_flows(ROWS, seed=11, attack_share=0.05).to_parquet("netflow.parquet")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "NIDS_"))}
    done = subprocess.run(
        [
            sys.executable,
            str(REPO_ROOT / "models/nids/train.py"),
            "--data",
            "netflow.parquet",
            *FLAGS,
            "--register",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "registered: nids-isoforest version 1" in done.stdout
    assert (workdir / "mlruns" / "mlflow.db").is_file()

    # Read the default store by absolute URI: MLflow caches stores by URI string, so a
    # relative one could still point at another test's database in this process.
    uri = f"sqlite:///{workdir / 'mlruns' / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    mlflow.set_tracking_uri(uri)
    experiment = client.get_experiment_by_name("nids")
    assert experiment is not None
    (first,) = client.search_runs([experiment.experiment_id])
    check_training_run(client, first.info.run_id, data_name="netflow.parquet", rows=ROWS)
    (version,) = client.search_model_versions("name = 'nids-isoforest'")
    assert version.run_id == first.info.run_id

    # Same data + seed, in-process this time: identical scores and metrics.
    again = train(
        Settings(n_estimators=30, max_samples=128, seed=7, mlflow_tracking_uri=uri),
        "netflow.parquet",
        progress=False,
    )
    for key in ("threshold", "auc", "prediction_mean", "score_p99", "false_positive_rate"):
        assert again.metrics[key] == first.data.metrics[key], key
    flows = to_model_input(make_flows(300, seed=12))
    a = mlflow.pyfunc.load_model(f"runs:/{first.info.run_id}/model").predict(flows)
    b = mlflow.pyfunc.load_model(again.model_uri).predict(flows)
    np.testing.assert_array_equal(a["score"].to_numpy(), b["score"].to_numpy())


def test_tracking_failure_mid_run_ends_the_run_failed_and_registers_nothing(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_flows(600, seed=3).to_parquet("flows.parquet")

    def exploding(*args: object, **kwargs: object) -> None:
        raise MlflowException("INTERNAL_ERROR: the store fell over")

    uri = f"sqlite:///{workdir / 'mlflow.db'}"
    monkeypatch.setattr(mlflow, "log_metrics", exploding)
    with pytest.raises(ServiceUnavailableError, match="the store fell over"):
        train(
            Settings(n_estimators=10, mlflow_tracking_uri=uri),
            "flows.parquet",
            register=True,
            progress=False,
        )

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("nids")
    assert experiment is not None
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.status == "FAILED"
    assert client.search_model_versions("name = 'nids-isoforest'") == []
    assert mlflow.active_run() is None
