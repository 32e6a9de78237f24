"""Repair what a killed retrain left behind; runs at the start of every retrain, under the lock.

Holding the lock means no other retrain is alive, so every retrain run still RUNNING
was killed. For each: its child runs are ended FAILED; every model version its
training run registered is verified against its SHA-256 manifest and deleted if the
artefacts do not match (a kill between registration and verification); the run
itself is ended FAILED with the reason. Finally the production aliases and stage are
settled so they name one version (a kill in the middle of a promotion's write).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nids.errors import ModelIntegrityError, RegistryError
from nids.pipelines import runs
from nids.settings import Settings

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

INTERRUPTED = "interrupted: still RUNNING when the next retrain started (process killed)"


def _check_versions(settings: Settings, client: MlflowClient, train_run_id: str) -> list[str]:
    from nids.registry import verify_version

    notes = []
    for mv in client.search_model_versions(f"run_id = '{train_run_id}'"):
        try:
            verify_version(settings, mv.name, str(mv.version))
        except (ModelIntegrityError, RegistryError) as exc:
            client.delete_model_version(mv.name, mv.version)
            notes.append(f"deleted {mv.name} version {mv.version}: {exc}")
    return notes


def recover(settings: Settings, client: MlflowClient, experiment_id: str) -> list[str]:
    """Mark killed retrains FAILED, remove unverifiable versions, settle production."""
    from nids.registry import state

    notes: list[str] = []
    for parent in runs.orphaned_runs(client, experiment_id):
        parent_id = parent.info.run_id
        for child in runs.children(client, experiment_id, parent_id):
            if child.data.tags.get(runs.TAG_STEP) == "train":
                notes.extend(_check_versions(settings, client, child.info.run_id))
            if child.info.status == "RUNNING":
                runs.mark_failed(client, child, INTERRUPTED)
        step = parent.data.tags.get(runs.TAG_STEP, "?")
        runs.mark_failed(client, parent, f"{INTERRUPTED} during step '{step}'")
        notes.append(f"marked killed retrain run {parent_id} (step '{step}') FAILED")
    try:
        state.settle(client, settings.model_name, "production")
    except RegistryError as exc:  # e.g. the model does not exist yet
        notes.append(f"production state not settled: {exc.message}")
    return notes
