"""Fit / calibration / test parts of an honest evaluation."""

from __future__ import annotations

import pandas as pd
import pytest

from flow_samples import make_flows
from nids.errors import EmptyDataError, TrainingError
from nids.settings import Settings
from nids.training.prepare import prepare

SETTINGS = Settings(test_fraction=0.3, calibration_fraction=0.25)


def test_parts_follow_time_and_calibration_is_benign_only() -> None:
    flows = make_flows(1000, seed=4, attack_share=0.2)
    p = prepare(flows, SETTINGS)
    assert p.split_method == "temporal"
    assert len(p.test) == 300
    assert p.fit["ts"].max() <= p.calibration["ts"].min() <= p.test["ts"].min()
    assert set(p.calibration["label"]) == {"benign"}
    assert len(p.fit) == 700 - 175  # contamination kept: train_on=all
    assert (p.fit["label"] == "malicious").any()
    assert p.flows_per_day == pytest.approx(
        1000 / ((flows.ts.max() - flows.ts.min()).total_seconds() / 86400)
    )


def test_train_on_benign_drops_everything_else() -> None:
    flows = make_flows(1000, seed=4, attack_share=0.2)
    p = prepare(flows, SETTINGS.with_overrides(train_on="benign"))
    assert set(p.fit["label"]) == {"benign"}


def test_unlabelled_data_calibrates_on_all_held_out_flows() -> None:
    p = prepare(make_flows(400, seed=1, labels=False), SETTINGS)
    assert len(p.calibration) == 70  # ceil(280 * 0.25)


def test_max_train_rows_samples_the_fit_part_in_time_order() -> None:
    p = prepare(make_flows(1000, seed=4), SETTINGS.with_overrides(max_train_rows=100))
    assert len(p.fit) == 100
    assert p.fit["ts"].is_monotonic_increasing


def test_empty_and_tiny_inputs_are_refused() -> None:
    flows = make_flows(10, seed=1)
    with pytest.raises(EmptyDataError, match="no flows"):
        prepare(flows.head(0), SETTINGS, source="x.parquet")
    with pytest.raises(TrainingError, match=r"x.parquet: 1 flow\(s\)"):
        prepare(flows.head(1), SETTINGS, source="x.parquet")


def test_train_on_benign_without_benign_flows_is_refused() -> None:
    flows = make_flows(200, seed=1, attack_share=1.0)
    with pytest.raises(TrainingError, match="no flow of the training period is labelled benign"):
        prepare(flows, SETTINGS.with_overrides(train_on="benign"))
    unlabelled = make_flows(200, seed=1, labels=False)
    with pytest.raises(TrainingError, match="needs labelled flows"):
        prepare(unlabelled, SETTINGS.with_overrides(train_on="benign"))


def test_no_benign_flow_to_calibrate_on_is_refused() -> None:
    flows = make_flows(200, seed=1, attack_share=0.0)
    late = flows["ts"] >= flows["ts"].quantile(0.5)
    flows.loc[late, "label"] = "malicious"
    with pytest.raises(TrainingError, match="no benign flow in the calibration period"):
        prepare(pd.DataFrame(flows), SETTINGS)
