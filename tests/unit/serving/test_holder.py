"""Model holder: verified load, atomic swap, rejected reloads keep the old model."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from serving_fixtures import make_loaded

from nids.errors import ModelIntegrityError
from nids.serving.holder import ModelHolder
from nids.serving.metrics import ServiceMetrics
from nids.settings import Settings


class Registry:
    """Stands in for the registry's answers: which version the alias names, and loading."""

    def __init__(self, pipeline: Any) -> None:
        self.pipeline = pipeline
        self.alias = 1
        self.bad: set[int] = set()
        self.loads = 0

    def probe(self, uri: str, settings: Settings) -> int:
        return self.alias

    def load(self, uri: str, settings: Settings) -> Any:
        self.loads += 1
        if self.alias in self.bad:
            raise ModelIntegrityError(
                f"model nids-isoforest version {self.alias}: manifest mismatch"
            )
        return make_loaded(self.pipeline, version=self.alias, threshold=0.5 + self.alias / 100)


def _value(metrics: ServiceMetrics, metric: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(metric, labels)
    return 0.0 if value is None else float(value)


@pytest.fixture
def setup(fitted_pipeline: Any) -> tuple[ModelHolder, Registry, ServiceMetrics]:
    reg = Registry(fitted_pipeline)
    metrics = ServiceMetrics.create()
    holder = ModelHolder(Settings(reload_interval_s=0), metrics, loader=reg.load, probe=reg.probe)
    return holder, reg, metrics


def test_initial_load_and_info(setup: tuple[ModelHolder, Registry, ServiceMetrics]) -> None:
    holder, _, metrics = setup
    assert holder.current is None
    assert holder.load() is True
    assert holder.current is not None and holder.current.ref.version == "1"
    assert holder.current.ref.semver == "1.1.0"
    assert _value(metrics, "nids_model_loads_total", kind="initial", result="success") == 1
    assert (
        _value(metrics, "nids_model_info", name="nids-isoforest", version="1", semver="1.1.0") == 1
    )


def test_reload_swaps_and_rejects_bad_versions_once(
    setup: tuple[ModelHolder, Registry, ServiceMetrics], flows: pd.DataFrame
) -> None:
    holder, reg, metrics = setup
    holder.load()
    first = holder.current
    assert holder.check_for_update() is False  # alias unchanged: nothing loaded
    assert reg.loads == 1
    reg.alias = 2
    assert holder.check_for_update() is True
    assert holder.current is not first and holder.current is not None
    assert holder.current.ref.version == "2" and holder.current.scorer.threshold == 0.52
    # The old version's info series is gone: exactly one version in use.
    assert (
        _value(metrics, "nids_model_info", name="nids-isoforest", version="1", semver="1.1.0") == 0
    )
    reg.alias, reg.bad = 3, {3}
    assert holder.check_for_update() is False
    assert holder.check_for_update() is False  # the same bad version is not retried
    assert reg.loads == 3
    assert holder.current.ref.version == "2"
    assert "manifest mismatch" in (holder.last_error or "")
    assert _value(metrics, "nids_model_loads_total", kind="reload", result="failure") == 1
    reg.alias = 4  # the alias moves on: try again
    assert holder.check_for_update() is True and holder.current.ref.version == "4"
    assert holder.last_error is None


def test_failed_initial_load_retries_on_poll(
    setup: tuple[ModelHolder, Registry, ServiceMetrics],
) -> None:
    holder, reg, metrics = setup
    reg.bad = {1}
    assert holder.load() is False and holder.current is None
    reg.bad = set()
    assert holder.check_for_update() is True and holder.current is not None
    assert _value(metrics, "nids_model_loads_total", kind="initial", result="failure") == 1


def test_probe_failure_keeps_serving(setup: tuple[ModelHolder, Registry, ServiceMetrics]) -> None:
    holder, _, metrics = setup
    holder.load()

    def broken(uri: str, settings: Settings) -> int:
        raise OSError("registry unreachable")

    holder._probe = broken
    assert holder.check_for_update() is False
    assert holder.current is not None
    assert _value(metrics, "nids_model_loads_total", kind="probe", result="failure") == 1
