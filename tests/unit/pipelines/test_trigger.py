"""The drift trigger: needs a data root, honours the cool-down, never raises."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from nids.pipelines.trigger import cooldown_left_h, drift_retrain_hook
from nids.settings import Settings


def _settings(workdir: Path, **kw: object) -> Settings:
    values: dict[str, object] = {
        "mlflow_tracking_uri": f"sqlite:///{workdir / 'mlruns' / 'mlflow.db'}",
        "artifact_root": str(workdir / "mlruns" / "artifacts"),
        "feedback_db_url": f"sqlite:///{workdir / 'ops.db'}",
        "retrain_data_root": str(workdir / "lake"),
        "retrain_cooldown_h": 24.0,
    }
    values.update(kw)
    return Settings(**values)


def test_hook_needs_a_data_root(workdir: Path) -> None:
    settings = _settings(workdir, retrain_data_root=None)
    assert "NIDS_RETRAIN_DATA_ROOT" in drift_retrain_hook(settings, SimpleNamespace(run_id="m1"))


@pytest.mark.slow  # creates an MLflow SQLite store (migrations take seconds)
def test_cooldown_counts_any_recent_retrain_and_failures_are_reported(workdir: Path) -> None:
    from nids.pipelines.runs import RUN_TYPE, RUN_TYPE_TAG
    from nids.registry.store import configure_mlflow, ensure_experiment

    (workdir / "lake").mkdir()
    (workdir / "lake" / "2020-01-01.parquet").write_bytes(b"old, outside any recent window")
    settings = _settings(workdir)
    assert cooldown_left_h(settings) == 0.0
    # Nothing recent in the lake: the retrain fails, the hook says so instead of raising.
    outcome = drift_retrain_hook(settings, SimpleNamespace(run_id="m1"))
    assert outcome.startswith("failed: ") and "no object dated" in outcome
    # A retrain (of any trigger) just started: the next drift waits for the cool-down.
    client = configure_mlflow(settings)
    client.create_run(ensure_experiment(settings), tags={RUN_TYPE_TAG: RUN_TYPE})
    left = cooldown_left_h(settings)
    assert 23.9 < left <= 24.0
    outcome = drift_retrain_hook(settings, SimpleNamespace(run_id="m2"))
    assert outcome.startswith("not started: previous retrain within the cool-down")
    assert cooldown_left_h(settings.with_overrides(retrain_cooldown_h=0.0)) == 0.0
