"""Training against a real `mlflow server` on loopback, SQLite and PostgreSQL backends:
the run, metrics, signature, dataset lineage and registered version are all found again
through MlflowClient."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from training_checks import check_training_run

from flow_samples import make_flows
from nids.settings import Settings
from nids.training import train

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ROWS = 1200


def test_training_against_a_tracking_server(workdir: Path, mlflow_server) -> None:
    make_flows(ROWS, seed=21, attack_share=0.05).to_parquet("flows.parquet")
    suffix = uuid.uuid4().hex[:8]  # the server is shared by the whole session
    settings = Settings(
        mlflow_tracking_uri=mlflow_server.url,
        experiment_name=f"train-{suffix}",
        model_name=f"nids-train-{suffix}",
        n_estimators=20,
        max_samples=128,
    )
    result = train(settings, "flows.parquet", register=True, progress=False)

    assert result.run_url.startswith(f"{mlflow_server.url}/#/experiments/")
    client = MlflowClient(tracking_uri=mlflow_server.url)
    check_training_run(client, result.run_id, data_name="flows.parquet", rows=ROWS)
    (version,) = client.search_model_versions(f"name = 'nids-train-{suffix}'")
    assert version.run_id == result.run_id
    assert result.registered is not None and str(result.registered.version) == version.version
    # Artefacts went to the server's artefact store, not to this directory.
    assert not (workdir / "mlruns").exists()
    assert any(mlflow_server.artifacts_dir.rglob("pipeline.skops"))
