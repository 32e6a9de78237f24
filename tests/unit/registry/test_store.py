"""The tracking-store helpers: absolute SQLite URIs, experiment creation under races."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from nids.registry.store import absolute_tracking_uri, ensure_experiment
from nids.settings import Settings


def test_relative_sqlite_uri_is_anchored_to_the_current_directory(workdir: Path) -> None:
    assert absolute_tracking_uri("sqlite:///mlruns/mlflow.db") == (
        f"sqlite:///{workdir.resolve() / 'mlruns' / 'mlflow.db'}"
    )
    assert absolute_tracking_uri("sqlite:////abs/x.db") == "sqlite:////abs/x.db"
    assert absolute_tracking_uri("http://mlflow:5000") == "http://mlflow:5000"


@pytest.mark.slow
def test_concurrent_creators_of_one_experiment_get_the_same_id(tmp_path: Path) -> None:
    settings = Settings(
        mlflow_tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
        artifact_root=str(tmp_path / "artifacts"),
    )
    ensure_experiment(settings, "warm-up")  # create the schema before the race
    with ThreadPoolExecutor(max_workers=4) as pool:
        ids = list(pool.map(lambda _: ensure_experiment(settings, "raced"), range(8)))
    assert len(set(ids)) == 1
