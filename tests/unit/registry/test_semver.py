"""Semantic versions are assigned by rule: major for schema/features, minor for retrain,
patch for recalibration, never reusing a taken number."""

from __future__ import annotations

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
