"""The MLflow record of a retrain: one parent run, one child run per step, timings.

Runs live in the training experiment (``settings.experiment_name``) so the training
step's run (the one ``nids.training.train`` logs the model into) is itself a child of
the retrain: the child is created here and handed to ``train`` through MLflow's
``MLFLOW_RUN_ID`` resume mechanism. Tags on the parent say which dataset digest was
retrained, which step is running (useful after a kill) and what was decided.

``NIDS_TEST_PAUSE_AT=<step>`` (TEST HOOK ONLY, see docs/retraining.md) makes the
process print ``PAUSED at <step>`` and sleep at the start of that step, so fault
tests can SIGKILL it at an exact step boundary.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlflow.entities import Run
    from mlflow.tracking import MlflowClient

STEPS = ("resolve", "validate", "train", "evaluate", "register", "promote", "record")
PAUSE_ENV = "NIDS_TEST_PAUSE_AT"
PARENT_TAG = "mlflow.parentRunId"
RUN_TYPE_TAG = "nids.run_type"
RUN_TYPE = "retrain"
TAG_DIGEST = "nids.retrain.dataset_digest"
TAG_DECISION = "nids.retrain.decision"
TAG_STEP = "nids.retrain.step"
TAG_TRIGGER = "nids.retrain.trigger"
TAG_FAILURE = "nids.retrain.failure"
TAG_VERSION = "nids.retrain.version"
TAG_SEMVER = "nids.retrain.semver"
TAG_CHAMPION = "nids.retrain.champion_version"
TAG_TRAIN_RUN = "nids.retrain.train_run_id"
#: Decisions of a completed retrain (a rerun on the same digest is then a no-op).
COMPLETED = ("promoted", "kept")


def pause_if_asked(step: str) -> None:
    """Test hook: sleep at the start of ``step`` when NIDS_TEST_PAUSE_AT names it."""
    if os.environ.get(PAUSE_ENV) == step:
        print(f"PAUSED at {step}", file=sys.stderr, flush=True)
        time.sleep(3600)


def _now_ms() -> int:
    return int(time.time() * 1000)


class RunRecorder:
    """Creates and ends the parent and child runs of one retrain."""

    def __init__(self, client: MlflowClient, experiment_id: str) -> None:
        self.client = client
        self.experiment_id = experiment_id
        self.parent_id = ""
        self.timings: dict[str, float] = {}

    def start(self, *, run_name: str, tags: dict[str, str]) -> str:
        """Create the parent run (RUNNING)."""
        run = self.client.create_run(
            self.experiment_id,
            start_time=_now_ms(),
            tags={RUN_TYPE_TAG: RUN_TYPE, **tags},
            run_name=run_name,
        )
        self.parent_id = run.info.run_id
        return self.parent_id

    def child(self, step: str) -> str:
        """Create a RUNNING child run for ``step``."""
        run = self.client.create_run(
            self.experiment_id,
            start_time=_now_ms(),
            tags={PARENT_TAG: self.parent_id, RUN_TYPE_TAG: f"{RUN_TYPE}-step", TAG_STEP: step},
            run_name=f"{step}",
        )
        return str(run.info.run_id)

    @contextmanager
    def step(self, name: str, *, resume_in_training: bool = False) -> Iterator[str]:
        """Run one step as a child run; time it; FAILED on any exception.

        With ``resume_in_training`` the child is handed to ``nids.training.train``
        (``MLFLOW_RUN_ID``), which logs into it and ends it itself.
        """
        self.client.set_tag(self.parent_id, TAG_STEP, name)
        pause_if_asked(name)
        child_id = self.child(name)
        started = time.perf_counter()
        if resume_in_training:
            os.environ["MLFLOW_RUN_ID"] = child_id
        try:
            yield child_id
        except BaseException:
            os.environ.pop("MLFLOW_RUN_ID", None)
            self._end(child_id, "FAILED")
            raise
        os.environ.pop("MLFLOW_RUN_ID", None)
        seconds = time.perf_counter() - started
        self.timings[name] = seconds
        self.client.log_metric(child_id, "step_seconds", seconds)
        self.client.log_metric(self.parent_id, f"step_{name}_seconds", seconds)
        self._end(child_id, "FINISHED")  # training has ended its own run already

    def _end(self, run_id: str, status: str) -> None:
        from contextlib import suppress

        with suppress(Exception):  # the store may be what failed; the next start repairs
            if self.client.get_run(run_id).info.status == "RUNNING":
                self.client.set_terminated(run_id, status=status, end_time=_now_ms())

    def finish(self, status: str, tags: dict[str, str], metrics: dict[str, float]) -> None:
        """Record the decision on the parent run and end it."""
        import math

        from mlflow.entities import Metric, RunTag

        now = _now_ms()
        clean = [Metric(k, float(v), now, 0) for k, v in metrics.items() if math.isfinite(v)]
        self.client.log_batch(
            self.parent_id, metrics=clean, tags=[RunTag(k, v) for k, v in tags.items()]
        )
        self.client.set_terminated(self.parent_id, status=status, end_time=now)

    def fail(self, message: str) -> None:
        """Mark the parent FAILED with the reason (best effort)."""
        from contextlib import suppress

        with suppress(Exception):
            self.client.set_tag(self.parent_id, TAG_FAILURE, message[:4000])
            self.client.set_tag(self.parent_id, TAG_DECISION, "failed")
        self._end(self.parent_id, "FAILED")


def find_completed(client: MlflowClient, experiment_id: str, digest: str) -> Run | None:
    """The latest finished retrain of this dataset digest that reached a decision."""
    runs = client.search_runs(
        [experiment_id],
        filter_string=(
            f"tags.`{RUN_TYPE_TAG}` = '{RUN_TYPE}' AND tags.`{TAG_DIGEST}` = '{digest}' "
            "AND attributes.status = 'FINISHED'"
        ),
        order_by=["attributes.start_time DESC"],
        max_results=20,
    )
    done = [r for r in runs if r.data.tags.get(TAG_DECISION) in COMPLETED]
    return done[0] if done else None


def last_retrain_start(client: MlflowClient, experiment_id: str) -> float | None:
    """Epoch seconds at which the latest retrain (any outcome) started; None if never."""
    runs = client.search_runs(
        [experiment_id],
        filter_string=f"tags.`{RUN_TYPE_TAG}` = '{RUN_TYPE}'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    return runs[0].info.start_time / 1000 if runs else None


def orphaned_runs(client: MlflowClient, experiment_id: str) -> list[Run]:
    """Retrain parent runs still RUNNING (under the lock: their process died)."""
    return list(
        client.search_runs(
            [experiment_id],
            filter_string=f"tags.`{RUN_TYPE_TAG}` = '{RUN_TYPE}' AND attributes.status = 'RUNNING'",
            max_results=100,
        )
    )


def children(client: MlflowClient, experiment_id: str, parent_id: str) -> list[Run]:
    """Child runs of a retrain parent."""
    return list(
        client.search_runs(
            [experiment_id], filter_string=f"tags.`{PARENT_TAG}` = '{parent_id}'", max_results=100
        )
    )


def mark_failed(client: MlflowClient, run: Run, reason: str) -> None:
    """End a dead run as FAILED, saying why."""
    client.set_tag(run.info.run_id, TAG_FAILURE, reason[:4000])
    if run.data.tags.get(RUN_TYPE_TAG) == RUN_TYPE:
        client.set_tag(run.info.run_id, TAG_DECISION, "failed")
    client.set_terminated(run.info.run_id, status="FAILED", end_time=_now_ms())


def tags_of(run: Run) -> dict[str, Any]:
    """A run's tags."""
    return dict(run.data.tags)
