"""The drift trigger: `nids monitor run` calls this hook when it declares drift.

Cool-down: no retrain starts within ``retrain_cooldown_h`` hours of the previous
retrain of any trigger (schedule, drift or by hand), so a drift that retraining does
not cure cannot loop. The monitoring cycle applies its own cool-down on top (hours
since a cycle last triggered). A drift-triggered retrain reads the last
``retrain_window_days`` days under ``retrain_data_root``. Failures are reported as
the hook's description, never raised: the monitoring cycle still completes and
records that a retrain was attempted (which starts its cool-down too).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from nids.errors import NidsError
from nids.settings import Settings


def cooldown_left_h(settings: Settings) -> float:
    """Hours until the cool-down since the latest retrain has passed (0: a retrain may start)."""
    from nids.pipelines.runs import last_retrain_start
    from nids.registry.store import configure_mlflow, ensure_experiment

    experiment_id = ensure_experiment(settings)
    started = last_retrain_start(configure_mlflow(settings), experiment_id)
    if started is None:
        return 0.0
    elapsed_h = (time.time() - started) / 3600
    return max(0.0, settings.retrain_cooldown_h - elapsed_h)


def drift_retrain_hook(settings: Settings, check: Any) -> str:
    """Start a retrain for a drift check (``nids.monitoring.job.RetrainHook``)."""
    from nids.pipelines.retraining import retrain

    if not settings.retrain_data_root:
        return "not started: NIDS_RETRAIN_DATA_ROOT (the dated data layout) is not set"
    try:
        left = cooldown_left_h(settings)
        if left > 0:
            return f"not started: previous retrain within the cool-down ({left:.1f} h left)"
        until = datetime.now(UTC)
        result = retrain(
            settings,
            since=until - timedelta(days=settings.retrain_window_days),
            until=until,
            root=settings.retrain_data_root,
            trigger=f"drift (monitoring run {getattr(check, 'run_id', None)})",
        )
    except NidsError as exc:
        return f"failed: {exc}"
    return result.describe()
