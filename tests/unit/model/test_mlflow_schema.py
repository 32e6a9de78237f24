"""Declared MLflow schemas equal MLflow's own inference, without its cost or its hint."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest
from mlflow.types.schema import DataType
from mlflow.types.utils import _infer_schema

from flow_samples import make_flows
from nids.model import mlflow_schema
from nids.model.mlflow_schema import frame_schema
from nids.model.pyfunc import naive_utc_ts

HINT = "Hint: Inferred schema contains integer"


def _frame() -> pd.DataFrame:
    flows = naive_utc_ts(make_flows(3000, seed=3, attack_share=0.05))
    # A null far past the type sample makes the column optional all the same.
    flows.loc[flows.index[2500], "conn_state"] = None
    flows.loc[flows.index[::3], "tcp_flags"] = pd.NA
    return flows


def test_declared_schema_equals_mlflows_full_inference_and_emits_no_hint() -> None:
    frame = _frame()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        declared = frame_schema(frame)
    assert not [w for w in caught if HINT in str(w.message)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        inferred = _infer_schema(frame)
    assert declared.to_dict() == inferred.to_dict()
    specs = {spec.name: spec for spec in declared.inputs}
    assert not specs["conn_state"].required and specs["src_ip"].required
    assert specs["src_port"].type == DataType.integer and specs["src_bytes"].type == DataType.long
    assert not specs["tcp_flags"].required


def test_text_column_null_throughout_the_first_rows_is_typed_by_its_values(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(mlflow_schema, "TYPE_SAMPLE_ROWS", 100)
    frame = _frame()
    frame.loc[frame.index[:2000], "service"] = None
    assert frame["service"].iloc[2000:].notna().any()
    spec = {s.name: s for s in frame_schema(frame).inputs}["service"]
    assert spec.type == DataType.string and not spec.required
