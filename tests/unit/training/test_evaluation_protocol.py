"""`nids evaluate`'s protocol: no test-period flow reaches fitting or threshold selection."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import nids.training.threshold as threshold_module
import nids.training.trainer as trainer_module
from nids.data.generator import generate_flows
from nids.errors import ConfigError, TrainingError
from nids.features import ALL_GROUPS
from nids.settings import Settings
from nids.training.evaluation_protocol import run_evaluation, split_for_evaluation
from nids.training.evaluation_report import to_json, to_markdown, write_report

SETTINGS = Settings(n_estimators=30, max_samples=128, seed=0, test_fraction=0.3)


@pytest.fixture(scope="module")
def flows() -> pd.DataFrame:
    df = generate_flows(4_000, days=2, attack_share=0.08, seed=5)
    return df.reset_index(drop=True)


def split(df: pd.DataFrame, **kw: Any) -> Any:
    args: dict[str, Any] = {
        "train": None,
        "protocol": "temporal",
        "train_on": "benign",
        "test_fraction": 0.3,
        "calibration_fraction": 0.2,
        "seed": 0,
    }
    args.update(kw)
    return split_for_evaluation(df, **args)


def test_temporal_parts_follow_each_other_and_are_disjoint(flows: pd.DataFrame) -> None:
    s = split(flows)
    assert s.fit["ts"].max() <= s.calibration["ts"].min()
    assert s.calibration["ts"].max() <= s.test["ts"].min()
    assert set(s.test.index).isdisjoint(s.fit.index)
    assert set(s.test.index).isdisjoint(s.calibration.index)
    assert len(s.test) == int(np.ceil(0.3 * len(flows)))
    assert not (s.fit["label"] == "malicious").any()  # --train-on benign
    assert (s.calibration["label"] == "benign").all()  # threshold from benign flows only
    periods = s.periods()
    assert periods["fit"]["end"] <= periods["calibration"]["start"] <= periods["test"]["start"]


def test_train_on_all_keeps_the_contamination(flows: pd.DataFrame) -> None:
    s = split(flows, train_on="all")
    assert (s.fit["label"] == "malicious").any()
    assert (s.calibration["label"] == "benign").all()


def test_separate_training_capture_is_never_tested_on(flows: pd.DataFrame) -> None:
    earlier, later = flows.iloc[:2000], flows.iloc[2000:]
    s = split(later, train=earlier)
    assert s.test.index.equals(later.index)  # all of --data is the test period
    assert set(s.fit.index) | set(s.calibration.index) <= set(earlier.index)


def test_random_protocol_is_seeded_and_disjoint(flows: pd.DataFrame) -> None:
    a, b = split(flows, protocol="random"), split(flows, protocol="random")
    assert a.test.index.equals(b.test.index)
    assert set(a.test.index).isdisjoint(a.fit.index)
    assert a.method == "random"
    with pytest.raises(ConfigError, match="unknown protocol"):
        split(flows, protocol="k-fold")


def test_benign_training_needs_labels(flows: pd.DataFrame) -> None:
    with pytest.raises(TrainingError, match="labelled"):
        split(flows.drop(columns=["label"]))
    unlabelled = split(flows.assign(label=None), train_on="all")
    assert len(unlabelled.calibration) > 0  # unlabelled traffic is presumed benign


def test_no_test_flow_reaches_fitting_or_calibration(
    flows: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen_fit: list[pd.DataFrame] = []
    seen_calibration: list[int] = []
    real_fit, real_choose = trainer_module.fit_pipeline, threshold_module.choose_threshold

    def spy_fit(pipeline: Any, df: pd.DataFrame) -> np.ndarray:
        seen_fit.append(df)
        return real_fit(pipeline, df)

    def spy_choose(scores: np.ndarray, **kw: Any) -> float:
        seen_calibration.append(len(scores))
        return real_choose(scores, **kw)

    monkeypatch.setattr(trainer_module, "fit_pipeline", spy_fit)
    monkeypatch.setattr(threshold_module, "choose_threshold", spy_choose)
    result = run_evaluation(SETTINGS, flows.iloc[:2500], detectors=["hbos"])
    test_start = result.split.test["ts"].min()
    assert len(seen_fit) == 3  # ours, baseline, hbos
    for df in seen_fit:
        assert df["ts"].max() <= test_start
        assert set(df.index).isdisjoint(result.split.test.index)
        assert not (df["label"] == "malicious").any()
    assert seen_calibration == [len(result.split.calibration)] * 3


@pytest.mark.slow
def test_evaluation_report_numbers_and_files(flows: pd.DataFrame, workdir: Path) -> None:
    result = run_evaluation(SETTINGS, flows, ablation=True)
    assert set(result.models) == {"ours", "baseline"}
    ours = result.models["ours"].metrics
    for key in ("auc", "pr_auc", "precision_at_100", "recall", "false_positive_rate"):
        assert 0.0 <= ours[key] <= 1.0
    assert ours["alerts_per_day"] >= 0
    assert ours["calibration_fpr"] <= SETTINGS.target_fpr + 1e-12
    test_types = set(
        result.split.test.loc[result.split.test["label"] == "malicious", "attack_type"]
    )
    assert set(result.models["ours"].per_attack) == test_types
    assert set(result.ablation) == set(ALL_GROUPS)
    assert sum(result.models["ours"].top_reasons.values()) == 100
    report = write_report(result, "reports/eval")
    data = json.loads((report / "evaluation.json").read_text())
    assert data["models"]["ours"]["metrics"]["auc"] == pytest.approx(ours["auc"])
    assert data["periods"]["test"]["rows"] == len(result.split.test)
    assert {p.name for p in report.iterdir()} == {
        "evaluation.json",
        "evaluation.md",
        "roc.png",
        "pr.png",
        "scores_by_type.png",
    }
    md = to_markdown(result)
    assert "| ROC-AUC |" in md and "Ablation" in md and "Recall per attack type" in md
    assert json.dumps(to_json(result))  # serialisable, NaN-free


def test_failed_report_leaves_nothing_behind(
    flows: pd.DataFrame, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nids.training.evaluation_report as report_module

    result = run_evaluation(SETTINGS, flows.iloc[:1500])

    def boom(_: Any) -> dict[str, Any]:
        raise OSError("disk full")

    monkeypatch.setattr(report_module, "figures", boom)
    with pytest.raises(OSError, match="disk full"):
        write_report(result, "reports/eval")
    assert not Path("reports/eval").exists()
    assert list(Path("reports").iterdir()) == []
