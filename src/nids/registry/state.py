"""Where production and staging point: aliases and stages, written together, safely.

We keep both vocabularies in step: the ``production`` and ``champion`` aliases and
the ``Production`` stage name the same version (likewise ``staging``/``Staging``).
MLflow offers no transaction over aliases and stages, so an update is a
compare-and-set: the caller states which version it expects to replace, the write
is refused if that changed, and after writing the state is re-read and repaired
towards the alias until it is consistent, so concurrent writers always converge.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from nids.errors import ConcurrentUpdateError

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

Target = Literal["production", "staging"]
ALIASES: dict[str, tuple[str, ...]] = {
    "production": ("production", "champion"),
    "staging": ("staging",),
}
STAGES: dict[str, str] = {"production": "Production", "staging": "Staging"}
_SETTLE_ROUNDS = 10
_ALIAS_RETRIES = 5


@dataclass(frozen=True)
class TargetState:
    """The versions an alias set and its stage currently name."""

    aliases: dict[str, int | None]
    staged: tuple[int, ...]

    @property
    def current(self) -> int | None:
        """The version the target points at: the first alias, else the stage."""
        first = next(iter(self.aliases.values()))
        if first is not None:
            return first
        return self.staged[-1] if self.staged else None

    @property
    def consistent(self) -> bool:
        """True when every alias and the stage name one and the same version."""
        values = set(self.aliases.values())
        if values == {None}:
            return len(self.staged) <= 1
        return len(values) == 1 and self.staged == (next(iter(values)),)


def _alias_version(client: MlflowClient, name: str, alias: str) -> int | None:
    from mlflow.exceptions import MlflowException

    try:
        return int(client.get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


def read_state(client: MlflowClient, name: str, target: Target) -> TargetState:
    """Aliases and stage membership of ``target`` as stored now."""
    from nids.registry.versions import all_versions

    aliases = {a: _alias_version(client, name, a) for a in ALIASES[target]}
    stage = STAGES[target]
    staged = tuple(int(v.version) for v in all_versions(client, name) if v.current_stage == stage)
    return TargetState(aliases, staged)


def transition_stage(client: MlflowClient, name: str, version: int, stage: str) -> None:
    """Move a version to a stage, archiving the others in it."""
    with warnings.catch_warnings():
        # Stages are deprecated in MLflow 3 but the specification's code uses them:
        # we keep them in step with the aliases without showing users the warning.
        warnings.filterwarnings("ignore", category=FutureWarning, message=r".*deprecated.*")
        client.transition_model_version_stage(
            name, str(version), stage, archive_existing_versions=stage in STAGES.values()
        )


def _is_duplicate_key(exc: Exception) -> bool:
    text = str(exc).lower()
    return any(m in text for m in ("unique constraint", "duplicate key", "duplicate entry"))


def set_alias(client: MlflowClient, name: str, alias: str, version: int) -> None:
    """Point ``alias`` at ``version``, retrying a lost insert race.

    The tracking server sets an alias by read-then-insert without a transaction, so
    two writers creating the same alias at once make one of them fail on the
    database's unique key (PostgreSQL, MySQL). The alias then exists, and a retry
    updates it; ``settle`` decides afterwards which writer won.
    """
    from mlflow.exceptions import MlflowException

    for attempt in range(_ALIAS_RETRIES):
        try:
            client.set_registered_model_alias(name, alias, str(version))
            return
        except MlflowException as exc:
            if not _is_duplicate_key(exc) or attempt == _ALIAS_RETRIES - 1:
                raise
            time.sleep(0.05 * (attempt + 1))


def _write(client: MlflowClient, name: str, target: Target, version: int) -> None:
    for alias in ALIASES[target]:
        set_alias(client, name, alias, version)
    transition_stage(client, name, version, STAGES[target])


def _repair(client: MlflowClient, name: str, target: Target, state: TargetState) -> None:
    """Make aliases and stage agree with the primary alias (the newest writer's choice)."""
    winner = state.current
    if winner is None:
        return
    for alias, value in state.aliases.items():
        if value != winner:
            set_alias(client, name, alias, winner)
    if state.staged != (winner,):
        transition_stage(client, name, winner, STAGES[target])


def settle(client: MlflowClient, name: str, target: Target) -> TargetState:
    """Re-read and repair until aliases and stage agree; return the settled state."""
    state = read_state(client, name, target)
    for _ in range(_SETTLE_ROUNDS):
        if state.consistent:
            return state
        _repair(client, name, target, state)
        time.sleep(0.05)
        state = read_state(client, name, target)
    if not state.consistent:
        raise ConcurrentUpdateError(
            f"{name} {target}: aliases {state.aliases} and stage {list(state.staged)} "
            "still disagree after repeated repair (concurrent writers?)",
            hint="re-run the command once the other promotion has finished",
        )
    return state


def compare_and_set(
    client: MlflowClient, name: str, target: Target, *, expected: int | None, new: int
) -> TargetState:
    """Point ``target`` at ``new`` if it still points at ``expected``; settle afterwards.

    Raises :class:`ConcurrentUpdateError` when the state changed before the write, or
    when another writer's version won the race (the state is consistent either way).
    """
    before = read_state(client, name, target)
    if before.current != expected:
        raise ConcurrentUpdateError(
            f"{name} {target} moved from version {expected} to {before.current} while this "
            "operation was deciding; nothing was changed",
            hint="re-run the command to decide against the new version",
        )
    _write(client, name, target, new)
    after = settle(client, name, target)
    if after.current != new:
        raise ConcurrentUpdateError(
            f"a concurrent update won: {name} {target} is version {after.current}, not {new}",
            hint=f"re-run the command if version {new} should still replace it",
        )
    return after
