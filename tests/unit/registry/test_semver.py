"""Semantic versions are assigned by rule: major for schema/features, minor for retrain,
patch for recalibration, never reusing a taken number."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from nids.errors import RegistryError
from nids.registry.semver import SemVer, VersionFacts, classify_change, next_semver

FACTS = VersionFacts(signature="sig-a", feature_set_version="3")


def test_parse_and_order() -> None:
    assert SemVer.parse("v1.10.2") == SemVer(1, 10, 2)
    assert str(SemVer.parse("2.0.0")) == "2.0.0"
    assert SemVer(1, 10, 0) > SemVer(1, 9, 9)
    with pytest.raises(RegistryError, match="not a semantic version"):
        SemVer.parse("1.2")


@pytest.mark.parametrize(
    ("new", "recalibrated", "expected"),
    [
        (VersionFacts("sig-a", "4"), False, "major"),
        (VersionFacts("sig-b", "3"), False, "major"),
        (VersionFacts("sig-b", "3"), True, "major"),  # a new schema is never a patch
        (VersionFacts("sig-a", "3"), True, "patch"),
        (VersionFacts("sig-a", "3"), False, "minor"),
    ],
)
def test_classify_change(new: VersionFacts, recalibrated: bool, expected: str) -> None:
    bump, reason = classify_change(new, FACTS, recalibrated=recalibrated)
    assert bump == expected
    assert reason


def test_first_version_is_1_0_0() -> None:
    assert classify_change(FACTS, None, recalibrated=False)[0] == "initial"
    assert next_semver("initial", None, []) == SemVer(1, 0, 0)


def test_next_semver_never_reuses_a_taken_number() -> None:
    taken = [SemVer(1, 0, 0), SemVer(1, 1, 0), SemVer(1, 0, 1), SemVer(2, 0, 0)]
    # minor after the 1.x line continues above its highest minor
    assert next_semver("minor", SemVer(1, 0, 1), taken) == SemVer(1, 2, 0)
    # a recalibration of 1.0.0 continues its own patch line
    assert next_semver("patch", SemVer(1, 0, 0), taken) == SemVer(1, 0, 2)
    # major goes above every major in use, even from an older base
    assert next_semver("major", SemVer(1, 1, 0), taken) == SemVer(3, 0, 0)
    assert next_semver("patch", SemVer(2, 0, 0), taken) == SemVer(2, 0, 1)


@dataclass
class _MV:
    version: str
    run_id: str
    tags: dict[str, str]


def _mv(version: int, semver: str, fsv: str = "3", sig: str = "sig-a") -> _MV:
    tags = {"nids.semver": semver, "nids.feature_set_version": fsv, "nids.signature_sha256": sig}
    return _MV(str(version), f"run{version}", tags)


def test_assign_semver_from_registry_versions() -> None:
    from nids.registry.versions import _assign_semver

    history = [_mv(1, "1.0.0"), _mv(2, "1.1.0")]
    retrain = _assign_semver(history, FACTS, {})
    assert (str(retrain[0]), retrain[1]) == ("1.2.0", "minor")
    # recalibrating version 1 continues 1.0.x, whatever came later
    recal = _assign_semver(history, FACTS, {"nids.recalibrated_from": "run1"})
    assert (str(recal[0]), recal[1]) == ("1.0.1", "patch")
    new_features = _assign_semver(history, VersionFacts("sig-a", "4"), {})
    assert (str(new_features[0]), new_features[1]) == ("2.0.0", "major")
    # versions registered by other tools (no semver tag) are not a base
    foreign = _MV("3", "run3", {})
    assert str(_assign_semver([*history, foreign], FACTS, {})[0]) == "1.2.0"
    assert str(_assign_semver([foreign], FACTS, {})[0]) == "1.0.0"
