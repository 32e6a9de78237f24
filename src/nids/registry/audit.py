"""Durable audit history of registry decisions, kept in the registry's own store.

MLflow keeps no history of aliases or stages, so every promotion, refusal and
rollback is recorded as a run in a dedicated experiment (``nids-registry-audit`` by
default): tags say who, what, from which version to which and why; metrics hold the
gate figures. Runs survive with the tracking store, whatever its backend.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from nids.registry.store import configure_mlflow, ensure_experiment
from nids.registry.versions import actor, registry_errors
from nids.settings import Settings

_PREFIX = "nids.audit."


@dataclass(frozen=True)
class AuditEvent:
    """One recorded registry decision."""

    timestamp: datetime
    action: str  # promote, rollback
    outcome: str  # promoted, forced, refused, rolled_back, conflict, staged
    name: str
    target: str  # production or staging
    from_version: int | None
    to_version: int | None
    actor: str
    reason: str
    figures: dict[str, float] = field(default_factory=dict)
    run_id: str = ""


def _as_int(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() else None


@registry_errors
def record_event(
    settings: Settings,
    *,
    action: str,
    outcome: str,
    name: str,
    target: str,
    from_version: int | None,
    to_version: int | None,
    reason: str | None,
    figures: Mapping[str, float] | None = None,
) -> AuditEvent:
    """Write one audit record (a finished run) and return it."""
    from mlflow.entities import Metric

    client = configure_mlflow(settings)
    experiment_id = ensure_experiment(settings, settings.registry_audit_experiment)
    now_ms = int(time.time() * 1000)
    who = actor(settings)
    values = {
        "action": action,
        "outcome": outcome,
        "model": name,
        "target": target,
        "from_version": "" if from_version is None else str(from_version),
        "to_version": "" if to_version is None else str(to_version),
        "actor": who,
        "reason": reason or "",
    }
    run = client.create_run(
        experiment_id,
        start_time=now_ms,
        tags={_PREFIX + k: v for k, v in values.items()},
        run_name=f"{action}-{name}-{values['to_version'] or 'none'}-{outcome}",
    )
    clean = {k: float(v) for k, v in (figures or {}).items() if math.isfinite(v)}
    if clean:
        client.log_batch(
            run.info.run_id, metrics=[Metric(k, v, now_ms, 0) for k, v in sorted(clean.items())]
        )
    client.set_terminated(run.info.run_id, end_time=now_ms)
    return AuditEvent(
        timestamp=datetime.fromtimestamp(now_ms / 1000, UTC),
        action=action,
        outcome=outcome,
        name=name,
        target=target,
        from_version=from_version,
        to_version=to_version,
        actor=who,
        reason=reason or "",
        figures=clean,
        run_id=run.info.run_id,
    )


@registry_errors
def history(settings: Settings, name: str | None = None, *, limit: int = 100) -> list[AuditEvent]:
    """Audit records, newest first (optionally of one model)."""
    client = configure_mlflow(settings)
    experiment_id = ensure_experiment(settings, settings.registry_audit_experiment)
    filter_string = f"tags.`{_PREFIX}model` = '{name}'" if name else ""
    runs = client.search_runs(
        [experiment_id],
        filter_string=filter_string,
        max_results=limit,
        order_by=["attributes.start_time DESC"],
    )
    events = []
    for run in runs:
        tags = run.data.tags
        events.append(
            AuditEvent(
                timestamp=datetime.fromtimestamp(run.info.start_time / 1000, UTC),
                action=tags.get(_PREFIX + "action", ""),
                outcome=tags.get(_PREFIX + "outcome", ""),
                name=tags.get(_PREFIX + "model", ""),
                target=tags.get(_PREFIX + "target", ""),
                from_version=_as_int(tags.get(_PREFIX + "from_version")),
                to_version=_as_int(tags.get(_PREFIX + "to_version")),
                actor=tags.get(_PREFIX + "actor", ""),
                reason=tags.get(_PREFIX + "reason", ""),
                figures=dict(run.data.metrics),
                run_id=run.info.run_id,
            )
        )
    return events
