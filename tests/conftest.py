"""Shared fixtures: an isolated working directory and environment per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from nids.settings import get_settings
from support import REPO_ROOT, SHARED_DATA, ZEEK_008, ZEEK_010

__all__ = ["REPO_ROOT", "SHARED_DATA", "ZEEK_008", "ZEEK_010"]

# Property tests draw the same examples on every run, so a red build is a regression
# that reproduces, not a new random find; explore with --hypothesis-profile=explore
# (docs/development.md) and pin what it finds with @example. Timing is never a test's
# verdict here (benchmarks/ measure speed), so no deadline and no too-slow check.
_UNTIMED = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}
hypothesis_settings.register_profile("repeatable", derandomize=True, **_UNTIMED)
hypothesis_settings.register_profile("explore", derandomize=False, max_examples=500, **_UNTIMED)
hypothesis_settings.load_profile("repeatable")


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test inherits the developer's NIDS_/MLflow/AWS configuration."""
    import os

    for key in list(os.environ):
        if key.startswith(("NIDS_", "MLFLOW_", "AWS_")):
            monkeypatch.delenv(key, raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run the test inside a fresh directory (embedded defaults write relative paths)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path
