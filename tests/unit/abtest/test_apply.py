"""`nids ab report --apply`: only a promote verdict reaches the registry's gated promote."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from rich.console import Console

from nids.abtest.analysis import ExperimentReport, Verdict
from nids.abtest.config import parse_experiment
from nids.abtest.report import apply_verdict
from nids.settings import Settings

CONFIG = parse_experiment(
    {
        "name": "exp-7",
        "variants": [
            {"name": "control", "model_uri": "models:/nids-isoforest@production", "weight": 1},
            {"name": "candidate", "model_uri": "models:/nids-isoforest/4", "weight": 1},
        ],
    }
)


def _report(decision: str) -> ExperimentReport:
    verdict = Verdict(
        "candidate",
        decision,
        "precision",
        0.4,
        0.8,
        5.0,
        1e-6,
        300,
        310,
        170,
        0,
        0.0,
        "why",  # type: ignore[arg-type]
    )
    return ExperimentReport("exp-7", "control", [], [], [verdict])


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    import nids.registry
    import nids.registry.loader
    import nids.registry.store

    seen: list[dict[str, Any]] = []

    def promote(settings: Settings, ref: str, **kwargs: Any) -> Any:
        seen.append({"ref": ref, **kwargs})
        return SimpleNamespace(outcome="promoted")

    monkeypatch.setattr(nids.registry, "promote", promote)
    monkeypatch.setattr(nids.registry.store, "configure_mlflow", lambda settings: None)
    monkeypatch.setattr(
        nids.registry.loader,
        "resolve_uri",
        lambda client, uri: SimpleNamespace(name="nids-isoforest", version=uri.rsplit("/", 1)[1]),
    )
    return seen


def test_promote_verdict_goes_through_the_registry_gate(calls: list[dict[str, Any]]) -> None:
    result = apply_verdict(Settings(), CONFIG, _report("promote"), Console(quiet=True))
    assert result.outcome == "promoted"
    assert len(calls) == 1
    call = calls[0]
    assert call["ref"] == "nids-isoforest/4" and call["to"] == "production"
    assert "A/B experiment exp-7" in call["reason"] and "0.8 vs control 0.4" in call["reason"]


@pytest.mark.parametrize("decision", ["keep_control", "inconclusive"])
def test_other_verdicts_promote_nothing(calls: list[dict[str, Any]], decision: str) -> None:
    assert apply_verdict(Settings(), CONFIG, _report(decision), Console(quiet=True)) is None
    assert calls == []
