"""Promotion, rollback and comparison of registered versions, with gate and audit.

``promote`` verifies the candidate's artefacts, runs the gate against the current
production model on the same data (``--data`` or the candidate's logged holdout),
then moves aliases and stage together with a compare-and-set; every outcome
(promoted, forced, refused, conflict) is written to the audit history.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from nids.errors import ConcurrentUpdateError, ConfigError, PromotionRefusedError, RegistryError
from nids.registry import audit, gate, state
from nids.registry.loader import find_version, load_model, split_ref, verify_version
from nids.registry.store import configure_mlflow
from nids.registry.versions import VersionInfo, registry_errors, version_info
from nids.settings import Settings

if TYPE_CHECKING:
    import pandas as pd
    from mlflow.tracking import MlflowClient

# Run tags by which training names its evaluation data (nids.training.lineage): the
# gate re-reads the dataset source and keeps the flows of the holdout period.
RUN_TAG_DATASET_SOURCE = "nids.dataset_source"
RUN_TAG_HOLDOUT_START = "nids.holdout_start"
RUN_TAG_HOLDOUT_END = "nids.holdout_end"


@dataclass(frozen=True)
class PromotionResult:
    """What a promotion or rollback did."""

    name: str
    target: str
    from_version: int | None
    to_version: int
    outcome: str
    gate: gate.GateResult | None
    event: audit.AuditEvent | None


def load_gate_data(
    settings: Settings, client: MlflowClient, run_id: str | None, data: str | None
) -> pd.DataFrame:
    """The evaluation frame: ``data`` if given, else the candidate run's holdout period."""
    import pandas as pd

    from nids.data import read_flows

    if data:
        return read_flows(data)
    tags = client.get_run(run_id).data.tags if run_id else {}
    source = tags.get(RUN_TAG_DATASET_SOURCE)
    start, end = tags.get(RUN_TAG_HOLDOUT_START), tags.get(RUN_TAG_HOLDOUT_END)
    if not (source and start and end):
        raise ConfigError(
            f"the candidate's run {run_id} records no holdout (dataset source and period): "
            "pass --data PATH for the promotion gate"
        )
    df = read_flows(source)
    ts = pd.to_datetime(df["ts"], utc=True)
    holdout = df[(ts >= pd.Timestamp(start)) & (ts <= pd.Timestamp(end))].reset_index(drop=True)
    if holdout.empty:
        raise ConfigError(
            f"{source} holds no flows of the candidate's holdout period {start} .. {end}: "
            "pass --data PATH"
        )
    return holdout


def run_gate(
    settings: Settings, name: str, candidate: int, incumbent: int | None, df: pd.DataFrame
) -> gate.GateResult:
    """Score both versions on ``df`` and apply the gate rule."""
    k = settings.precision_k
    cand = load_model(f"models:/{name}/{candidate}", settings)
    cand_figures = gate.evaluate(cand.nids_model.scorer, df, k=k)
    if incumbent is None:
        return gate.GateResult(True, "no_incumbent", cand_figures, {}, ())
    prod = load_model(f"models:/{name}/{incumbent}", settings)
    prod_figures = gate.evaluate(prod.nids_model.scorer, df, k=k)
    return gate.decide(
        cand_figures,
        prod_figures,
        labelled=gate.has_labels(df),
        margin=settings.registry_gate_margin,
    )


def _move(
    settings: Settings,
    client: MlflowClient,
    *,
    action: str,
    outcome: str,
    name: str,
    target: state.Target,
    expected: int | None,
    new: int,
    reason: str | None,
    result: gate.GateResult | None,
) -> PromotionResult:
    """Compare-and-set the target and record the outcome (conflicts included)."""
    figures = result.figures() if result else {}
    try:
        state.compare_and_set(client, name, target, expected=expected, new=new)
    except ConcurrentUpdateError as exc:
        audit.record_event(
            settings,
            action=action,
            outcome="conflict",
            name=name,
            target=target,
            from_version=expected,
            to_version=new,
            reason=f"{reason or ''} [{exc.message}]".strip(),
            figures=figures,
        )
        raise
    event = audit.record_event(
        settings,
        action=action,
        outcome=outcome,
        name=name,
        target=target,
        from_version=expected,
        to_version=new,
        reason=reason,
        figures=figures,
    )
    return PromotionResult(name, target, expected, new, outcome, result, event)


@registry_errors
def promote(
    settings: Settings,
    ref: str,
    *,
    to: state.Target,
    reason: str | None = None,
    force: bool = False,
    data: str | None = None,
) -> PromotionResult:
    """Promote a version to production (gated) or staging; audit every outcome."""
    if to not in state.STAGES:
        raise ConfigError(f"--to must be production or staging, not {to!r}")
    if force and not reason:
        raise ConfigError("--force needs --reason: an override must say why")
    client = configure_mlflow(settings)
    name, version_ref = split_ref(ref, settings.model_name)
    candidate = find_version(client, name, version_ref)
    version = int(candidate.version)
    verify_version(settings, name, str(version))  # never promote tampered artefacts
    incumbent = state.read_state(client, name, to).current
    if incumbent == version:
        return PromotionResult(name, to, incumbent, version, "unchanged", None, None)
    if to == "staging":
        return _move(
            settings, client, action="promote", outcome="staged", name=name, target=to,
            expected=incumbent, new=version, reason=reason, result=None,
        )  # fmt: skip
    df = load_gate_data(settings, client, candidate.run_id, data)
    result = run_gate(settings, name, version, incumbent, df)
    outcome = "promoted"
    if not result.passed:
        if not force:
            audit.record_event(
                settings, action="promote", outcome="refused", name=name, target=to,
                from_version=incumbent, to_version=version, reason=reason,
                figures=result.figures(),
            )  # fmt: skip
            raise PromotionRefusedError(
                f"{name} version {version} refused for production: " + "; ".join(result.reasons),
                hint="use --force --reason '...' to override (recorded in the audit history)",
            )
        outcome = "forced"
    return _move(
        settings, client, action="promote", outcome=outcome, name=name, target=to,
        expected=incumbent, new=version, reason=reason, result=result,
    )  # fmt: skip


def previous_production(settings: Settings, name: str, current: int) -> int:
    """The version production pointed at before ``current`` (from the audit history)."""
    for event in audit.history(settings, name, limit=1000):
        if (
            event.target == "production"
            and event.outcome in {"promoted", "forced", "rolled_back"}
            and event.to_version == current
            and event.from_version is not None
        ):
            return event.from_version
    raise RegistryError(
        f"no earlier production version of {name} is recorded in the audit history",
        hint="promote a specific version with `nids models promote VERSION --to production`",
    )


@registry_errors
def rollback(
    settings: Settings, name: str | None = None, *, reason: str | None = None
) -> PromotionResult:
    """Return production to the version it replaced, verified, and record it."""
    client = configure_mlflow(settings)
    name = name or settings.model_name
    current = state.read_state(client, name, "production").current
    if current is None:
        raise RegistryError(f"{name} has no production version to roll back")
    target = previous_production(settings, name, current)
    verify_version(settings, name, str(target))
    return _move(
        settings, client, action="rollback", outcome="rolled_back", name=name,
        target="production", expected=current, new=target, reason=reason, result=None,
    )  # fmt: skip


@registry_errors
def compare(settings: Settings, ref_a: str, ref_b: str, *, data: str) -> gate.GateResult:
    """Evaluate two versions on the same data; the result reads 'is A no worse than B'."""
    from nids.data import read_flows

    client = configure_mlflow(settings)
    name_a, a = split_ref(ref_a, settings.model_name)
    name_b, b = split_ref(ref_b, settings.model_name)
    df = read_flows(data)
    k = settings.precision_k
    va, vb = find_version(client, name_a, a), find_version(client, name_b, b)
    fa = gate.evaluate(
        load_model(f"models:/{va.name}/{va.version}", settings).nids_model.scorer, df, k=k
    )
    fb = gate.evaluate(
        load_model(f"models:/{vb.name}/{vb.version}", settings).nids_model.scorer, df, k=k
    )
    return gate.decide(fa, fb, labelled=gate.has_labels(df), margin=settings.registry_gate_margin)


@registry_errors
def list_versions(settings: Settings, name: str | None = None) -> list[VersionInfo]:
    """Every version of a model, oldest first, with aliases."""
    from nids.registry.versions import all_versions

    client = configure_mlflow(settings)
    name = name or settings.model_name
    return [
        version_info(client.get_model_version(name, v.version)) for v in all_versions(client, name)
    ]


@registry_errors
def describe(settings: Settings, ref: str) -> VersionInfo:
    """One version (``NAME/VERSION``, ``VERSION`` or ``NAME`` for the production/latest one)."""
    client = configure_mlflow(settings)
    if "/" not in ref and not ref[:1].isdigit():
        current = state.read_state(client, ref, "production").current
        ref = f"{ref}/{current}" if current is not None else f"{ref}/latest"
    name, version_ref = split_ref(ref, settings.model_name)
    mv = find_version(client, name, version_ref)
    return version_info(client.get_model_version(name, mv.version))
