"""Temporal and random splits."""

from __future__ import annotations

import pandas as pd
import pytest

from nids.errors import TrainingError
from nids.training.split import has_time_order, split_frame, temporal_split


def _frame(n: int, *, same_time: bool = False) -> pd.DataFrame:
    order = [7, 2, 9, 0, 5, 1, 8, 3, 6, 4][:n] if n <= 10 else list(range(n))
    ts = pd.Timestamp("2025-01-01", tz="UTC") + pd.to_timedelta(
        [0 if same_time else i for i in order], unit="h"
    )
    return pd.DataFrame({"ts": ts, "row": range(n)})


def test_temporal_split_puts_the_latest_flows_in_the_test_part() -> None:
    df = _frame(10)
    train, test = temporal_split(df, 0.3)
    assert len(train) == 7 and len(test) == 3
    assert train["ts"].max() < test["ts"].min()
    # hours 7, 8, 9 are the latest: input rows 0, 6 and 2
    assert sorted(test["row"]) == [0, 2, 6]


def test_test_part_size_rounds_up_and_leaves_a_training_row() -> None:
    assert len(temporal_split(_frame(10), 0.25)[1]) == 3  # ceil(2.5)
    assert len(temporal_split(_frame(2), 0.9)[0]) == 1


@pytest.mark.parametrize("n", [0, 1])
def test_too_few_rows_is_a_training_error(n: int) -> None:
    with pytest.raises(TrainingError, match="at least 2 flows"):
        temporal_split(_frame(n), 0.3)


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1])
def test_fraction_outside_the_open_interval_is_refused(fraction: float) -> None:
    with pytest.raises(TrainingError, match="test_fraction"):
        temporal_split(_frame(10), fraction)


def test_without_time_information_the_split_is_seeded_random() -> None:
    df = _frame(10, same_time=True)
    assert not has_time_order(df)
    train, test, method = split_frame(df, 0.3, seed=1)
    again = split_frame(df, 0.3, seed=1)[1]
    assert method == "random"
    assert len(test) == 3 and len(train) == 7
    assert sorted([*train["row"], *test["row"]]) == list(range(10))
    assert list(test["row"]) == list(again["row"])


def test_with_time_information_split_frame_is_temporal() -> None:
    assert split_frame(_frame(10), 0.3, seed=1)[2] == "temporal"
