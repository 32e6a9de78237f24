"""FlowBatch: row subsets and the Arrow table agree with the canonical frame."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest

from nids.data.schema import FLOW_SCHEMA
from nids.serving.parsing import parse_flows

ROWS = np.array([7, 0, 3, 3, 49])  # out of order, one twice


@pytest.mark.parametrize("frame_first", [False, True])
def test_take_is_the_frame_rows_in_order(records: list[dict[str, Any]], frame_first: bool) -> None:
    batch = parse_flows(orjson.dumps({"flows": records}), None, max_flows=100)
    if frame_first:
        batch.frame()
    part = batch.take(ROWS)
    assert len(part) == len(ROWS)
    assert list(part.columns) == list(batch.columns)
    assert (part._frame is not None) == frame_first  # sliced only when already built
    expected = batch.frame().iloc[ROWS].reset_index(drop=True)
    pd.testing.assert_frame_equal(part.frame(), expected)
    got, want = part.records(np.arange(len(ROWS))), batch.records(ROWS)  # NaN for unknown flags
    pd.testing.assert_frame_equal(pd.DataFrame(got), pd.DataFrame(want))


def test_take_of_no_rows_is_empty(records: list[dict[str, Any]]) -> None:
    batch = parse_flows(orjson.dumps({"flows": records}), None, max_flows=100)
    empty = batch.take(np.array([], dtype=np.intp))
    assert len(empty) == 0
    assert len(empty.frame()) == 0


def test_table_is_the_canonical_schema_of_the_frame(records: list[dict[str, Any]]) -> None:
    batch = parse_flows(orjson.dumps({"flows": records}), None, max_flows=100)
    table = batch.table()
    assert table.schema.equals(FLOW_SCHEMA)
    assert table.num_rows == len(records)
    assert table.column("src_ip").to_pylist() == [r["src_ip"] for r in records]
    assert table.column("label").null_count == len(records)  # absent columns are nulls
