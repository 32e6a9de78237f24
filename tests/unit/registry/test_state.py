"""Aliases and stages move together, and interleaved writers converge to one version.

MLflow's registry is replaced by a small in-memory double holding aliases and stages,
so the interleavings that a real race produces only by chance are played exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from nids.errors import ConcurrentUpdateError
from nids.registry import state


@dataclass
class _Version:
    name: str
    version: str
    current_stage: str = "None"
    tags: dict[str, str] = field(default_factory=dict)


class _Page(list):  # search_model_versions returns a paged list with .token
    token = None


class FakeRegistry:
    """The registry calls used by nids.registry.state, in memory."""

    def __init__(self, versions: int) -> None:
        self.versions = {str(v): _Version("m", str(v)) for v in range(1, versions + 1)}
        self.aliases: dict[str, str] = {}
        self.before_transition: list = []  # callbacks run once before the next transition

    def get_model_version_by_alias(self, name: str, alias: str) -> _Version:
        from mlflow.exceptions import MlflowException

        if alias not in self.aliases:
            raise MlflowException(f"no alias {alias}")
        return self.versions[self.aliases[alias]]

    def search_model_versions(self, filter_string: str, page_token: str | None = None) -> _Page:
        return _Page(self.versions.values())

    def set_registered_model_alias(self, name: str, alias: str, version: str) -> None:
        self.aliases[alias] = version

    def transition_model_version_stage(
        self, name: str, version: str, stage: str, archive_existing_versions: bool = False
    ) -> None:
        while self.before_transition:
            self.before_transition.pop(0)()
        if archive_existing_versions:
            for v in self.versions.values():
                if v.current_stage == stage:
                    v.current_stage = "Archived"
        self.versions[version].current_stage = stage


def test_promotion_sets_both_aliases_and_the_stage() -> None:
    reg = FakeRegistry(2)
    after = state.compare_and_set(reg, "m", "production", expected=None, new=1)
    assert after.aliases == {"production": 1, "champion": 1}
    assert after.staged == (1,)
    after = state.compare_and_set(reg, "m", "production", expected=1, new=2)
    assert after.staged == (2,)
    assert reg.versions["1"].current_stage == "Archived"


def test_stale_expectation_is_refused_without_writing() -> None:
    reg = FakeRegistry(3)
    state.compare_and_set(reg, "m", "production", expected=None, new=1)
    with pytest.raises(ConcurrentUpdateError, match="moved from version 2 to 1"):
        state.compare_and_set(reg, "m", "production", expected=2, new=3)
    assert reg.aliases["production"] == "1"
    assert reg.versions["3"].current_stage == "None"


def test_interleaved_writer_is_repaired_and_the_loser_told() -> None:
    """A sets its aliases; B writes aliases and stage; then A's stage write lands."""
    reg = FakeRegistry(3)
    state.compare_and_set(reg, "m", "production", expected=None, new=1)

    def b_promotes_3() -> None:
        reg.set_registered_model_alias("m", "production", "3")
        reg.set_registered_model_alias("m", "champion", "3")
        reg.transition_model_version_stage("m", "3", "Production", archive_existing_versions=True)

    reg.before_transition.append(b_promotes_3)
    # A's stage write lands last: alias says 3, stage says 2 until A repairs.
    with pytest.raises(ConcurrentUpdateError, match=r"a concurrent update won.*version 3"):
        state.compare_and_set(reg, "m", "production", expected=1, new=2)
    final = state.read_state(reg, "m", "production")
    assert final.consistent
    assert final.aliases == {"production": 3, "champion": 3}
    assert final.staged == (3,)


def test_split_aliases_are_repaired_towards_production() -> None:
    reg = FakeRegistry(2)
    reg.aliases = {"production": "2", "champion": "1"}
    reg.versions["1"].current_stage = "Production"
    settled = state.settle(reg, "m", "production")
    assert settled.aliases == {"production": 2, "champion": 2}
    assert settled.staged == (2,)


def test_state_without_aliases_falls_back_to_the_stage() -> None:
    """A version promoted with stages only (the specification's snippet)."""
    reg = FakeRegistry(2)
    reg.versions["2"].current_stage = "Production"
    current = state.read_state(reg, "m", "production")
    assert current.current == 2
    assert current.consistent


class _RacingRegistry(FakeRegistry):
    """The server's alias insert loses a race once: the other writer's row is there."""

    def __init__(self, versions: int, message: str) -> None:
        super().__init__(versions)
        self.message = message
        self.failures = 1

    def set_registered_model_alias(self, name: str, alias: str, version: str) -> None:
        from mlflow.exceptions import MlflowException

        if self.failures:
            self.failures -= 1
            self.aliases[alias] = "1"  # the concurrent writer's insert committed first
            raise MlflowException(self.message)
        super().set_registered_model_alias(name, alias, version)


def test_lost_alias_insert_race_is_retried_as_an_update() -> None:
    msg = 'duplicate key value violates unique constraint "registered_model_alias_pk"'
    reg = _RacingRegistry(2, msg)
    after = state.compare_and_set(reg, "m", "production", expected=None, new=2)
    assert after.aliases == {"production": 2, "champion": 2}
    assert after.staged == (2,)


def test_other_alias_failures_are_not_retried() -> None:
    from mlflow.exceptions import MlflowException

    reg = _RacingRegistry(2, "permission denied")
    with pytest.raises(MlflowException, match="permission denied"):
        state.compare_and_set(reg, "m", "production", expected=None, new=2)
    assert reg.failures == 0 and reg.aliases == {"production": "1"}
