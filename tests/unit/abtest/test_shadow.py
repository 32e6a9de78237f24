"""Shadow hand-off without a process: refusal in a daemonic process, drops when stopped."""

from __future__ import annotations

import multiprocessing

import pytest

from nids.abtest.metrics import ABMetrics
from nids.abtest.shadow import ShadowScorer, ShadowTarget
from nids.errors import ConfigError
from nids.serving.metrics import ServiceMetrics
from nids.settings import Settings


def _scorer() -> ShadowScorer:
    metrics = ServiceMetrics.create()
    return ShadowScorer(
        "exp",
        [ShadowTarget("a", 1.0, Settings()), ShadowTarget("b", 0.5, Settings())],
        service_metrics=metrics,
        ab_metrics=ABMetrics.create(metrics.registry),
        loader=None,
        probe=None,
    )


def test_a_daemonic_service_process_is_told_why_it_cannot_run_shadows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(multiprocessing.current_process()._config, "daemon", True)  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="daemonic"):
        _scorer().start()


def test_batches_offered_without_a_running_process_are_dropped_and_counted() -> None:
    scorer = _scorer()
    scorer.submit(b"{}", "application/json", 7)
    assert scorer.snapshot()["dropped"] == 14  # 7 flows for each of the two shadows
    assert scorer.flush(timeout=0.1)  # nothing handed over, nothing to wait for
    text = scorer.metrics.render()[0].decode()
    assert 'nids_ab_shadow_flows_total{experiment="exp",outcome="dropped",variant="b"} 7.0' in text
