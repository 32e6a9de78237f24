"""Semantic versions assigned by rule, never by hand.

* **major**: the input schema (model signature) or the feature-set version differs from
  the previous version of the registered model;
* **patch**: a threshold recalibration of an already trained model (run tag
  ``nids.recalibrated_from``), same features and schema;
* **minor**: anything else, i.e. a retrain on new data or with new hyper-parameters.

The first version of a model is ``1.0.0``. A new version never reuses a number already
taken by another version of the same model.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from nids.errors import RegistryError

Bump = Literal["initial", "major", "minor", "patch"]
_SEMVER = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)$")


@dataclass(frozen=True, order=True)
class SemVer:
    """A ``major.minor.patch`` version."""

    major: int
    minor: int
    patch: int

    @classmethod
    def parse(cls, text: str) -> SemVer:
        """Parse ``1.2.3`` (or ``v1.2.3``)."""
        match = _SEMVER.match(text.strip())
        if not match:
            raise RegistryError(f"not a semantic version (major.minor.patch): {text!r}")
        return cls(*(int(g) for g in match.groups()))

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


@dataclass(frozen=True)
class VersionFacts:
    """What the rules compare between a new version and the previous one."""

    signature: str | None
    feature_set_version: str | None


def classify_change(
    new: VersionFacts, previous: VersionFacts | None, *, recalibrated: bool
) -> tuple[Bump, str]:
    """Which part to bump, and why (the reason is stored as a tag)."""
    if previous is None:
        return "initial", "first version of the model"
    if new.feature_set_version != previous.feature_set_version:
        return "major", (
            f"feature set changed ({previous.feature_set_version} -> {new.feature_set_version})"
        )
    if new.signature != previous.signature:
        return "major", "input schema (model signature) changed"
    if recalibrated:
        return "patch", "threshold recalibration of an already trained model"
    return "minor", "retrained (new data or hyper-parameters)"


def next_semver(bump: Bump, base: SemVer | None, taken: Iterable[SemVer]) -> SemVer:
    """The next free version after ``base`` for a change of kind ``bump``.

    Major and minor take the next number above every version taken in their scope (so
    a retrain after recalibrations or after an older line continues cleanly); patch
    continues the patch line of ``base`` (the model that was recalibrated).
    """
    used = set(taken)
    if bump == "initial" or base is None:
        candidate = SemVer(1, 0, 0)
        while candidate in used:
            candidate = SemVer(candidate.major + 1, 0, 0)
        return candidate
    if bump == "major":
        top = max((v.major for v in used), default=base.major)
        return SemVer(max(top, base.major) + 1, 0, 0)
    if bump == "minor":
        top = max((v.minor for v in used if v.major == base.major), default=base.minor)
        return SemVer(base.major, max(top, base.minor) + 1, 0)
    top = max(
        (v.patch for v in used if (v.major, v.minor) == (base.major, base.minor)),
        default=base.patch,
    )
    return SemVer(base.major, base.minor, max(top, base.patch) + 1)
