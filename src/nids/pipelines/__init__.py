"""Pipelines that orchestrate the domains: the retraining pipeline (docs/retraining.md).

Public API (imported lazily so ``import nids.pipelines`` stays cheap)::

    retrain(settings, *, data=None, since=None, until=None, root=None, force=False,
            trigger="manual", use_feedback=True, console=None) -> RetrainResult
    drift_retrain_hook(settings, check) -> str   # nids.monitoring.job.RetrainHook
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nids._lazy import lazy_exports

if TYPE_CHECKING:
    from nids.pipelines.retraining import RetrainResult, retrain
    from nids.pipelines.trigger import drift_retrain_hook

_EXPORTS = {
    "retrain": "nids.pipelines.retraining",
    "RetrainResult": "nids.pipelines.retraining",
    "drift_retrain_hook": "nids.pipelines.trigger",
}

__all__ = ["RetrainResult", "drift_retrain_hook", "retrain"]

__getattr__ = lazy_exports(__name__, _EXPORTS)
