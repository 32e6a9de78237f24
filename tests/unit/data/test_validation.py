"""validate_flows on in-memory frames: canonical output, one clear error per rule, quarantine."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from flow_writers import sample_flows

from nids.data import validate_flows
from nids.data.schema import COLUMNS
from nids.data.validation import DTYPES
from nids.errors import EmptyDataError, SchemaError


def test_output_is_canonical_with_community_ids_and_normalised_values() -> None:
    frame = sample_flows()
    frame.loc[0, "src_ip"] = "2001:DB8:0:0::1"  # non-canonical IPv6 text
    frame.loc[0, "proto"] = "6"
    frame.loc[0, "label"] = "Benign"
    frame.loc[0, "service"] = "  "
    out = validate_flows(frame)
    assert list(out.columns) == COLUMNS
    assert out.dtypes.astype(str).to_dict() == DTYPES
    assert out.loc[0, ["src_ip", "proto", "label"]].tolist() == ["2001:db8::1", "tcp", "benign"]
    assert pd.isna(out.loc[0, "service"])
    # Community ID v1 spec vector: TCP 128.232.110.120:34855 -> 66.35.250.204:80
    spec = sample_flows().iloc[:1].copy()
    spec[["src_ip", "src_port", "dst_ip", "dst_port"]] = [
        "128.232.110.120",
        34855,
        "66.35.250.204",
        80,
    ]
    assert validate_flows(spec)["community_id"].iloc[0] == "1:LQU9qZlK+B5F3KDmev6m5PMibrg="


@pytest.mark.parametrize("dtype", ["int64", "uint64", "Int64"])
def test_integer_columns_keep_values_beyond_float_precision(dtype: str) -> None:
    """Checks run on float64, but 2**53 + 1 bytes must not come back as 2**53."""
    frame = sample_flows().head(3)
    frame["src_bytes"] = pd.Series([2**53 + 1, 2**62, 7], dtype=dtype)
    frame["tcp_flags"] = pd.Series([2, 18, 255], dtype=dtype)
    out = validate_flows(frame)
    assert out["src_bytes"].tolist() == [2**53 + 1, 2**62, 7]
    assert out["tcp_flags"].tolist() == [2, 18, 255]


def test_timestamps_from_epoch_seconds_iso_text_and_naive_datetimes_are_utc() -> None:
    base = sample_flows().iloc[:3].copy()
    want = pd.Timestamp("2025-11-03 08:00:00.250", tz="UTC")
    for value in (want.value / 1e9, "2025-11-03T09:00:00.250+01:00", str(want.value / 1e9)):
        frame = base.astype({"ts": object})
        frame["ts"] = value
        assert (validate_flows(frame)["ts"] == want).all()
    naive = base.copy()
    naive["ts"] = want.tz_localize(None)
    assert (validate_flows(naive)["ts"] == want).all()


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("src_bytes", -1, "negative value"),
        ("dst_pkts", 2.5, "not an integer"),
        ("src_port", 65536, "above 65535"),
        ("dst_port", "http", "not a number"),
        ("duration", np.inf, "not finite"),
        ("duration", -0.5, "negative value"),
        ("dst_ip", "10.0.0.256", "not an IPv4/IPv6 address"),
        ("src_ip", None, "missing address"),
        ("proto", "carrier-pigeon", "unknown protocol"),
        ("tcp_flags", 300, "above 255"),
        ("label", "evil", "not one of benign, malicious, unknown"),
        ("ts", "yesterday", "not a timestamp"),
        ("ts", 1e15, "timestamp out of range"),
    ],
)
def test_each_rule_names_source_row_and_field(field: str, value: object, problem: str) -> None:
    frame = sample_flows().astype({field: object})
    frame.loc[2, field] = value
    with pytest.raises(SchemaError) as err:
        validate_flows(frame, source="batch-7")
    assert err.value.field == field and err.value.line == 3
    assert str(err.value).startswith(f"batch-7, line 3, field '{field}': {problem}")


def test_missing_required_columns_and_empty_frames_fail_clearly() -> None:
    with pytest.raises(SchemaError, match="missing required column\\(s\\) dst_port, proto"):
        validate_flows(sample_flows().drop(columns=["proto", "dst_port"]))
    with pytest.raises(EmptyDataError, match="no flows to validate"):
        validate_flows(sample_flows().iloc[:0])


def test_quarantine_returns_good_rows_and_writes_every_reason(tmp_path: Path) -> None:
    frame = sample_flows().astype({"dst_port": object})
    frame.loc[1, "dst_port"] = 70000
    frame.loc[1, "src_ip"] = "nope"
    out = validate_flows(frame, source="api", on_error="quarantine", quarantine_dir=tmp_path)
    assert len(out) == 2 and out["dst_port"].tolist() == [443, 53]
    [record] = [json.loads(x) for x in (tmp_path / "api.quarantine.jsonl").read_text().splitlines()]
    assert record["line"] == 2 and record["field"] == "src_ip"
    assert "dst_port: above 65535 (got 70000)" in record["reason"]
    assert "src_ip: not an IPv4/IPv6 address (got 'nope')" in record["reason"]
    assert record["values"]["dst_port"] == 70000


def test_given_community_ids_are_kept_and_missing_ones_filled() -> None:
    frame = sample_flows()
    frame["community_id"] = ["1:given", None, None]
    out = validate_flows(frame)
    assert out["community_id"].iloc[0] == "1:given"
    assert out["community_id"].iloc[1:].str.match(r"^1:[A-Za-z0-9+/]{27}=$").all()
