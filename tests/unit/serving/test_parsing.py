"""Request bodies: every accepted format gives the same canonical frame; errors name row+field."""

from __future__ import annotations

import io
from typing import Any

import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from serving_fixtures import flow_records

from nids.data.io import to_table
from nids.data.schema import COLUMNS
from nids.errors import SchemaError
from nids.serving.parsing import TooManyFlowsError, UnsupportedMediaTypeError, parse_body


def _json(rows: list[dict[str, Any]]) -> bytes:
    return orjson.dumps({"flows": rows})


def _arrow(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def test_json_gives_canonical_frame(records: list[dict[str, Any]], flows: pd.DataFrame) -> None:
    frame = parse_body(_json(records), "application/json; charset=utf-8", max_flows=100)
    assert list(frame.columns) == COLUMNS
    assert len(frame) == 50
    expected = flows.head(50).reset_index(drop=True)
    assert frame["community_id"].tolist() == expected["community_id"].tolist()
    assert frame["src_bytes"].tolist() == expected["src_bytes"].tolist()
    assert str(frame["ts"].dtype) == "datetime64[us, UTC]"


def test_ndjson_arrow_and_parquet_match_json(records: list[dict[str, Any]]) -> None:
    reference = parse_body(_json(records), None, max_flows=100)
    ndjson = b"\n".join(orjson.dumps(r) for r in records) + b"\n\n"
    table = to_table(reference).drop_columns(["label", "attack_type"])
    buf = io.BytesIO()
    pq.write_table(table, buf)
    for body, kind in (
        (ndjson, "application/x-ndjson"),
        (_arrow(table), "application/vnd.apache.arrow.stream"),
        (buf.getvalue(), "application/vnd.apache.parquet"),
    ):
        pd.testing.assert_frame_equal(parse_body(body, kind, max_flows=100), reference)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("src_port", "80", "must be an integer, got a string"),
        ("dst_bytes", False, "must be an integer, got a boolean"),
        ("duration", "1.5", "must be a number"),
        ("src_ip", 167772161, "must be a string"),
        ("dst_port", 70000, "above 65535"),
        ("src_pkts", -1, "field 'src_pkts'"),
        ("src_ip", "10.0.0.300", "field 'src_ip'"),
    ],
)
def test_invalid_value_names_row_and_field(
    records: list[dict[str, Any]], field: str, value: Any, message: str
) -> None:
    rows = [dict(r) for r in records[:5]]
    rows[3][field] = value
    with pytest.raises(SchemaError, match=message) as info:
        parse_body(_json(rows), "application/json", max_flows=100)
    assert info.value.line == 4
    assert info.value.field == field


def test_missing_and_unknown_fields(records: list[dict[str, Any]]) -> None:
    rows = [dict(r) for r in records[:3]]
    del rows[2]["dst_ip"]
    with pytest.raises(SchemaError, match="required field missing") as info:
        parse_body(_json(rows), None, max_flows=100)
    assert (info.value.line, info.value.field) == (3, "dst_ip")
    rows = [dict(r) for r in records[:3]]
    rows[1]["evil"] = 1
    with pytest.raises(SchemaError, match="unknown field") as info:
        parse_body(_json(rows), None, max_flows=100)
    assert (info.value.line, info.value.field) == (2, "evil")


@pytest.mark.parametrize(
    "body",
    [b"{", b"[]", b'{"flows": {}}', b'{"flows": [1]}', b'{"flows": [], "x": 1}', b'{"flows": []}'],
)
def test_malformed_bodies_are_schema_errors(body: bytes) -> None:
    with pytest.raises(SchemaError):
        parse_body(body, "application/json", max_flows=10)


def test_limits_and_media_types(records: list[dict[str, Any]]) -> None:
    with pytest.raises(TooManyFlowsError, match="50 flows in one request; the limit is 10"):
        parse_body(_json(records), None, max_flows=10)
    with pytest.raises(UnsupportedMediaTypeError):
        parse_body(_json(records), "text/csv", max_flows=100)
    with pytest.raises(SchemaError, match="unreadable parquet"):
        parse_body(b"PAR1 not really", "application/vnd.apache.parquet", max_flows=100)
    with pytest.raises(SchemaError, match="line 2"):
        parse_body(b'{"a": 1}\n{oops\n', "application/x-ndjson", max_flows=100)


def test_optional_fields_may_be_absent_or_null(records: list[dict[str, Any]]) -> None:
    rows = [dict(r) for r in records[:2]]
    for key in ("tcp_flags", "conn_state", "service", "community_id"):
        rows[0].pop(key, None)
        rows[1][key] = None
    frame = parse_body(_json(rows), None, max_flows=10)
    assert frame["community_id"].str.startswith("1:").all()
    assert frame["tcp_flags"].isna().all()


def test_fast_path_equals_reference_validator(flows: pd.DataFrame) -> None:
    """Small batches skip check_flows; what they accept must be exactly its output."""
    from nids.data.validation import check_flows
    from nids.serving.fastpath import fast_frame
    from nids.serving.parsing import typed_columns

    sample = flows.sample(60, random_state=1)
    iso = flow_records(sample)
    for row in iso[::3]:
        row.pop("community_id")  # computed the same way
    iso[5]["src_ip"] = " 2001:DB8::1 "  # canonicalised
    iso[6]["service"] = "  "  # blank -> null
    epoch = flow_records(sample)
    for row in epoch:
        row["ts"] = pd.Timestamp(row["ts"]).timestamp()  # epoch seconds
        row["proto"] = {"tcp": 6, "udp": 17}.get(row["proto"], row["proto"])
    for rows in (iso, epoch):
        columns = typed_columns(rows)
        fast = fast_frame(columns)
        assert fast is not None
        pd.testing.assert_frame_equal(fast, check_flows(pd.DataFrame(columns)).valid)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("ts", "yesterday"),
        ("ts", 1e12),
        ("src_ip", "1.2.3"),
        ("proto", "bogus"),
        ("label", "evil"),
        ("src_port", 70000),
        ("duration", -0.5),
    ],
)
def test_fast_path_defers_doubtful_rows(
    records: list[dict[str, Any]], field: str, value: Any
) -> None:
    from nids.serving.fastpath import fast_frame
    from nids.serving.parsing import typed_columns

    rows = [dict(r) for r in records[:3]]
    rows[1][field] = value
    assert fast_frame(typed_columns(rows)) is None
    with pytest.raises(SchemaError) as info:  # the reference validator names row and field
        parse_body(_json(rows), None, max_flows=10)
    assert (info.value.line, info.value.field) == (2, field)


def test_mixed_timestamp_spellings_take_the_reference_path(records: list[dict[str, Any]]) -> None:
    from nids.serving.fastpath import fast_frame
    from nids.serving.parsing import typed_columns

    rows = [dict(r) for r in records[:3]]
    rows[1]["ts"] = 1.7e9  # epoch seconds among ISO strings: valid, but not fast-path
    assert fast_frame(typed_columns(rows)) is None
    frame = parse_body(_json(rows), None, max_flows=10)
    assert frame["ts"].iloc[1] == pd.Timestamp(1.7e9, unit="s", tz="UTC")


def test_few_timestamps_parse_like_pandas(records: list[dict[str, Any]]) -> None:
    """Small batches parse plain ISO-8601 with the standard library: same instants."""
    from nids.data.validation import check_flows
    from nids.serving.fastpath import fast_frame
    from nids.serving.parsing import typed_columns

    spellings = [
        "2025-11-03T02:07:05Z",
        "2025-11-03 02:07:05.123456+02:00",
        "2025-11-03T02:07:05.5",
        "2025-11-03T23:59:59.999999-05:30",
        "1999-12-31T00:00:00+00:00",
    ]
    rows = [dict(r) for r in records[: len(spellings)]]
    for row, ts in zip(rows, spellings, strict=True):
        row["ts"] = ts
    columns = typed_columns(rows)
    fast = fast_frame(columns)
    assert fast is not None
    pd.testing.assert_frame_equal(fast, check_flows(pd.DataFrame(columns)).valid)
    rows[2]["ts"] = "2025-13-40T00:00:00Z"  # plain form, impossible date: deferred
    assert fast_frame(typed_columns(rows)) is None


def test_parquet_body_with_text_that_is_not_utf8_is_a_schema_error(
    records: list[dict[str, Any]],
) -> None:
    table = to_table(parse_body(_json(records), None, max_flows=100))
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="none", use_dictionary=False)
    address = str(records[0]["src_ip"]).encode()
    damaged = buf.getvalue().replace(address, b"\xb0\xff" + address[2:])
    assert damaged != buf.getvalue()
    with pytest.raises(SchemaError, match=r"unreadable parquet body.*UTF8"):
        parse_body(damaged, "application/vnd.apache.parquet", max_flows=100)


def _assert_same_columns(got: dict[str, Any], expected: dict[str, Any]) -> None:
    import numpy as np

    assert list(got) == list(expected)
    for name, values in expected.items():
        np.testing.assert_array_equal(got[name], values, err_msg=name)
        assert got[name].dtype == values.dtype, name


def test_one_pass_decoder_gives_the_general_parsers_columns(
    records: list[dict[str, Any]], flows: pd.DataFrame
) -> None:
    """msgspec's typed decoding must accept exactly what the general parser accepts."""
    from nids.serving.fastpath import decode_json, fast_columns
    from nids.serving.parsing import typed_columns

    iso = [dict(r) for r in records[:40]]
    for row in iso[::4]:
        for key in ("tcp_flags", "conn_state", "service", "community_id"):
            row.pop(key, None)  # optional fields absent: null / derived
    iso[3]["service"] = None
    epoch = [dict(r) for r in records[:40]]
    for row in epoch:
        row["ts"] = int(pd.Timestamp(row["ts"]).timestamp())  # integer epoch seconds
        row["duration"] = round(row["duration"])  # a JSON integer for a float field
        row["proto"] = {"tcp": 6, "udp": 17}.get(row["proto"], row["proto"])
    for rows in (iso, epoch):
        expected = fast_columns(typed_columns(rows))
        assert expected is not None
        for body, ndjson in ((_json(rows), False), (b"\n".join(map(orjson.dumps, rows)), True)):
            decoded = decode_json(body, ndjson=ndjson)
            assert decoded is not None
            got = fast_columns(decoded)
            assert got is not None
            _assert_same_columns(got, expected)


@pytest.mark.parametrize(
    "change",
    [
        {"src_port": True},  # a boolean is not an integer
        {"src_port": "80"},
        {"duration": None},
        {"unknown": 1},
        {"src_bytes": 2**63},  # beyond int64: the general path reports it
    ],
)
def test_one_pass_decoder_leaves_doubtful_bodies_to_the_general_parser(
    records: list[dict[str, Any]], change: dict[str, Any]
) -> None:
    from nids.serving.fastpath import decode_json
    from nids.serving.parsing import parse_flows

    rows = [dict(r) for r in records[:3]]
    rows[1].update(change)
    body = _json(rows)
    decoded = decode_json(body, ndjson=False)
    if decoded is not None:  # typed fine, but the value itself is doubtful
        assert "src_bytes" in change
    with pytest.raises(SchemaError) as info:
        parse_flows(body, None, max_flows=10)
    assert (info.value.line, info.value.field) == (2, next(iter(change)))


def test_one_pass_decoder_declines_malformed_and_empty_bodies(
    records: list[dict[str, Any]],
) -> None:
    from nids.serving.fastpath import decode_json

    good = records[:2]
    assert decode_json(b'{"flows": [', ndjson=False) is None
    assert decode_json(b'{"flows": []}', ndjson=False) is None
    assert decode_json(orjson.dumps({"flows": good, "extra": 1}), ndjson=False) is None
    assert decode_json(orjson.dumps(good), ndjson=False) is None  # a bare array
    missing = [{k: v for k, v in r.items() if k != "dst_ip"} for r in good]
    assert decode_json(orjson.dumps({"flows": missing}), ndjson=False) is None


def _pandas_micros(values: list[str]) -> list[int]:
    parsed = pd.to_datetime(pd.Series(values, dtype="str"), utc=True, format="ISO8601")
    return parsed.astype("datetime64[us, UTC]").dt.tz_convert(None).astype("int64").tolist()


def test_canonical_timestamps_parse_as_pandas_parses_them() -> None:
    """The vectorised parse of canonical ISO strings gives pandas' (check_flows') values."""
    import numpy as np

    from nids.serving.fastpath import _canonical_iso, _timestamps

    rng = np.random.default_rng(7)
    micros = rng.integers(-2_208_988_800_000_000, 7_258_118_400_000_000, 2000)  # 1900-2200
    text = np.datetime_as_string(micros.astype("datetime64[us]"), unit="us").tolist()
    values = [t + "Z" if i % 2 else t for i, t in enumerate(text)]
    values += ["2024-02-29T00:00:00.000000Z", "1970-01-01T00:00:00.000000Z"]
    fast = _canonical_iso(values)
    assert fast is not None
    assert fast.tolist() == _pandas_micros(values)
    assert _timestamps(values).tolist() == fast.tolist()


@pytest.mark.parametrize(
    "odd",
    [
        "2025-11-04T16:58:32.762Z",  # milliseconds
        "2025-11-04T16:58:32Z",
        "2025-11-04 16:58:32.762042",
        "2025-11-04T16:58:32.762042+01:00",
        "2025-11-04T16:58:32.7+0100",  # same length as the canonical form
        "2025-11-04T16:58:32.762042z",
        "2025-02-29T00:00:00.000000Z",  # no such day: pandas decides (NaT)
        "2025-11-04T24:00:00.000000Z",
    ],
)
def test_other_timestamp_spellings_take_pandas(odd: str) -> None:
    from nids.serving.fastpath import Unsure, _canonical_iso, _timestamps

    values = ["2025-11-04T16:58:32.762042Z"] * 20 + [odd]
    assert _canonical_iso(values) is None
    try:
        got: list[int] | None = _timestamps(values).tolist()
    except Unsure:
        got = None
    parsed = pd.to_datetime(
        pd.Series(values, dtype="str"), utc=True, format="ISO8601", errors="coerce"
    )
    assert got == (None if parsed.isna().any() else _pandas_micros(values))


def test_arrow_fast_path_gives_check_flows_frame(records: list[dict[str, Any]]) -> None:
    """Canonically typed Arrow/parquet bodies skip check_flows; the frame is its output."""
    from nids.data.validation import check_flows
    from nids.serving.fastpath import arrow_columns, fast_columns
    from nids.serving.parsing import parse_flows

    rows = [dict(r) for r in records]
    rows[2]["src_ip"] = " 2001:DB8::1 "  # canonicalised
    rows[4]["service"] = None
    for row in rows[::5]:
        row.pop("community_id")  # derived
    full = to_table(parse_body(_json(rows), None, max_flows=100))
    # As a client would send it: no label columns, some Community IDs missing, tcp_flags
    # as plain int64 (pandas' default), the address spelled as given.
    table = full.drop_columns(["label", "attack_type", "src_ip", "community_id", "tcp_flags"])
    table = table.append_column("src_ip", pa.array([r["src_ip"] for r in rows]))
    given = [r.get("community_id") for r in rows]
    table = table.append_column("community_id", pa.array(given, type=pa.string()))
    flags = pa.array([r.get("tcp_flags") for r in rows], type=pa.int64())
    table = table.append_column("tcp_flags", flags)
    typed = arrow_columns(table)
    assert typed is not None
    assert fast_columns(typed) is not None  # the fast path takes it
    reference = check_flows(table.to_pandas()).valid.reset_index(drop=True)
    buf = io.BytesIO()
    pq.write_table(table, buf)
    for body, kind in (
        (_arrow(table), "application/vnd.apache.arrow.stream"),
        (buf.getvalue(), "application/vnd.apache.parquet"),
    ):
        pd.testing.assert_frame_equal(parse_flows(body, kind, max_flows=100).frame(), reference)


@pytest.mark.parametrize(
    "change",
    ["ts_naive", "ts_ms", "ports_as_text", "null_port", "bad_address"],
)
def test_arrow_fast_path_leaves_other_tables_to_check_flows(
    records: list[dict[str, Any]], change: str
) -> None:
    from nids.serving.fastpath import arrow_columns, fast_columns
    from nids.serving.parsing import parse_flows

    table = to_table(parse_body(_json(records[:6]), None, max_flows=100))
    ts, port = table.column("ts"), table.column("dst_port")
    replace = {
        "ts_naive": ("ts", ts.cast(pa.timestamp("us"))),
        "ts_ms": ("ts", ts.cast(pa.timestamp("ms", tz="UTC"), safe=False)),
        "ports_as_text": ("dst_port", port.cast(pa.string())),
        "null_port": ("dst_port", pa.array([80, None, 80, 80, 80, 80], type=pa.int64())),
        "bad_address": ("src_ip", pa.array(["10.0.0.1", "10.0.0.300"] + ["10.0.0.2"] * 4)),
    }
    name, column = replace[change]
    table = table.set_column(table.column_names.index(name), name, column)
    typed = arrow_columns(table)
    assert typed is None or fast_columns(typed) is None
    kind = "application/vnd.apache.arrow.stream"
    if change in ("null_port", "bad_address"):  # invalid: check_flows names row and field
        with pytest.raises(SchemaError) as info:
            parse_flows(_arrow(table), kind, max_flows=100)
        assert (info.value.line, info.value.field) == (2, name)
    else:  # valid in another spelling: check_flows coerces it
        assert len(parse_flows(_arrow(table), kind, max_flows=100)) == 6


@pytest.mark.parametrize("kind", ["application/json", "application/x-ndjson"])
def test_text_that_is_not_utf8_is_a_422(records: list[dict[str, Any]], kind: str) -> None:
    row = orjson.dumps(records[0]).replace(b'"tcp"', b'"\xff"')
    body = row if kind.endswith("ndjson") else b'{"flows": [' + row + b"]}"
    with pytest.raises(SchemaError, match="malformed JSON"):
        parse_body(body, kind, max_flows=10)


@pytest.mark.parametrize(
    "layout",
    [
        lambda a, b: a + b" " + b,  # two objects on one line
        lambda a, b: a.replace(b",", b",\n", 1) + b"\n" + b,  # an object over two lines
    ],
)
def test_ndjson_is_one_object_per_line(records: list[dict[str, Any]], layout: Any) -> None:
    body = layout(orjson.dumps(records[0]), orjson.dumps(records[1]))
    with pytest.raises(SchemaError, match="malformed JSON") as info:
        parse_body(body, "application/x-ndjson", max_flows=10)
    assert info.value.line == 1


def test_arrow_column_given_twice_is_a_422(records: list[dict[str, Any]]) -> None:
    table = to_table(parse_body(_json(records[:3]), None, max_flows=10))
    table = table.append_column("src_ip", table.column("dst_ip"))
    with pytest.raises(SchemaError, match="column given twice") as info:
        parse_body(_arrow(table), "application/vnd.apache.arrow.stream", max_flows=10)
    assert info.value.field == "src_ip"
