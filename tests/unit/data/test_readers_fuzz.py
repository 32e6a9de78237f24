"""Corrupted inputs to every reader: a clear NidsError (file, line, field) or a quarantine,
never an uncaught exception and never a silently dropped row."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from flow_writers import WRITERS, sample_flows
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nids.data import read_flows, read_flows_report
from nids.data.validation import DTYPES
from nids.errors import DataError, EmptyDataError, NidsError, SchemaError, UnknownFormatError

TEXT_FORMATS = [f for f in WRITERS if f != "parquet"]
# Line of the second flow in each layout (after the header lines).
SECOND_FLOW_LINE = {
    "zeek-tsv": 9,
    "zeek-json": 2,
    "nfdump-csv": 3,
    "nfdump-csv-new": 3,
    "nf-v9": 3,
    "cicflowmeter-csv": 3,
    "parquet": 2,
}


def _flows() -> pd.DataFrame:
    flows = sample_flows()
    flows.loc[0, "attack_type"] = None  # representable in every format
    return flows


def _write(fmt: str, frame: pd.DataFrame, path: Path) -> None:
    if fmt == "parquet" and any(frame[c].dtype == object for c in frame.columns):
        # canonical column names, but values of the wrong type: a foreign parquet writer
        pq.write_table(pa.Table.from_pandas(frame.astype({"ts": "str"}).astype("str")), path)
    else:
        WRITERS[fmt](frame, path)


CORRUPT_VALUES = [
    ("dst_port", "abc", "not a number"),
    ("dst_port", 70000, "above 65535"),
    ("src_pkts", -3, "negative value"),
    ("src_ip", "999.1.1.1", "not an IPv4/IPv6 address"),
]


@pytest.mark.parametrize("fmt", sorted(WRITERS))
@pytest.mark.parametrize(("field", "value", "problem"), CORRUPT_VALUES)
def test_bad_value_fails_naming_file_line_and_field_or_is_quarantined(
    fmt: str, field: str, value: object, problem: str, tmp_path: Path
) -> None:
    frame = _flows().astype({field: object})
    frame.loc[1, field] = value
    path = tmp_path / "input.dat"
    _write(fmt, frame, path)
    line = SECOND_FLOW_LINE[fmt]
    with pytest.raises(SchemaError) as err:
        read_flows(path)
    message = str(err.value)
    assert str(path) in message and f"line {line}" in message and problem in message
    assert err.value.field == field

    qdir = tmp_path / "q"
    df, report = read_flows_report(path, on_error="quarantine", quarantine_dir=qdir)
    assert len(df) == 2 and report.quarantined == 1
    [record] = [
        json.loads(x) for x in (qdir / "input.dat.quarantine.jsonl").read_text().splitlines()
    ]
    assert record["line"] == line and record["field"] == field and problem in record["reason"]
    assert str(value) in json.dumps(record["values"])  # the original value is kept


@pytest.mark.parametrize("fmt", TEXT_FORMATS)
@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_damaged_line_fails_or_is_quarantined_with_its_text(
    fmt: str, damage: str, tmp_path: Path
) -> None:
    path = tmp_path / "input.dat"
    WRITERS[fmt](_flows(), path)
    lines = path.read_bytes().split(b"\n")
    n = SECOND_FLOW_LINE[fmt] - 1
    lines[n] = (
        lines[n][: len(lines[n]) // 3] if damage == "truncate" else b"\xff\xfe\x00\x9c garbage \x01"
    )
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(SchemaError, match=rf"line {n + 1}\b"):
        read_flows(path)
    df, report = read_flows_report(path, on_error="quarantine", quarantine_dir=tmp_path / "q")
    assert len(df) == 2 and report.quarantined == 1
    assert report.quarantine_files == [str(tmp_path / "q" / "input.dat.quarantine.jsonl")]


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_header_only_and_empty_files_fail_clearly(fmt: str, tmp_path: Path) -> None:
    path = tmp_path / "input.dat"
    WRITERS[fmt](_flows().iloc[:0], path)
    with pytest.raises(
        EmptyDataError, match=r"input\.dat: (no flows in this file|the file is empty)"
    ):
        read_flows(path)
    with pytest.raises(EmptyDataError):
        read_flows(path, on_error="quarantine", quarantine_dir=tmp_path / "q")
    path.write_bytes(b"")
    with pytest.raises(EmptyDataError, match=r"input\.dat: the file is empty"):
        read_flows(path)


@pytest.mark.parametrize(
    "content",
    [b"hello,world\n1,2\n", b"\x00\x01\x02\x03 binary junk", b"<html><body></body></html>"],
)
def test_unknown_formats_fail_clearly(content: bytes, tmp_path: Path) -> None:
    path = tmp_path / "mystery.bin"
    path.write_bytes(content)
    with pytest.raises(UnknownFormatError, match=r"mystery\.bin: unrecognised flow format") as err:
        read_flows(path)
    assert "supported: parquet, zeek-tsv" in str(err.value)


def _mutate(data: bytes, draw: st.DrawFn) -> bytes:
    if not data:
        return draw(st.binary(max_size=12))
    kind = draw(st.sampled_from(["truncate", "flip", "insert", "delete", "duplicate"]))
    pos = draw(st.integers(0, max(len(data) - 1, 0)))
    if kind == "truncate":
        return data[:pos]
    if kind == "flip":
        return data[:pos] + bytes([data[pos] ^ draw(st.integers(1, 255))]) + data[pos + 1 :]
    if kind == "insert":
        return data[:pos] + draw(st.binary(min_size=1, max_size=12)) + data[pos:]
    if kind == "delete":
        return data[:pos] + data[pos + draw(st.integers(1, 40)) :]
    lines = data.split(b"\n")
    i = pos % len(lines)
    return b"\n".join([*lines[: i + 1], lines[i], *lines[i + 1 :]])


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_random_damage_never_escapes_as_an_uncaught_exception(fmt: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        clean = Path(tmp) / "clean"
        WRITERS[fmt](pd.concat([_flows()] * 3, ignore_index=True), clean)
        original = clean.read_bytes()

    @settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        damaged = original
        for _ in range(data.draw(st.integers(1, 3))):
            damaged = _mutate(damaged, data.draw)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "input.dat"
            path.write_bytes(damaged)
            for mode in ("fail", "quarantine"):
                try:
                    df, report = read_flows_report(
                        path, on_error=mode, quarantine_dir=Path(tmp) / "q"
                    )  # type: ignore[arg-type]
                except NidsError as exc:
                    assert str(exc) and isinstance(exc, DataError)
                    continue
                # whatever was read is canonical, and every line is accounted for
                assert df.dtypes.astype(str).to_dict() == DTYPES
                assert report.rows == len(df) and len(df) + report.quarantined > 0

    check()


def test_parquet_with_invalid_utf8_text_fails_naming_the_file(tmp_path: Path) -> None:
    # A damaged page can leave bytes that are not UTF-8 in a string column; parquet
    # readers hand them over unchecked (found by the random-damage test above).
    path, clean = tmp_path / "flows.parquet", tmp_path / "clean.parquet"
    WRITERS["parquet"](sample_flows(), clean)
    # Plain, uncompressed pages, so the address bytes can be found and damaged.
    pq.write_table(pq.read_table(clean), path, compression="none", use_dictionary=False)
    data = path.read_bytes()
    marker = b"10.0.0."
    assert marker in data
    path.write_bytes(data.replace(marker, b"\xb0\xff.0.0."))
    for mode in ("fail", "quarantine"):  # a file that cannot be decoded is refused whole
        with pytest.raises(DataError, match=r"flows\.parquet") as info:
            read_flows_report(path, on_error=mode, quarantine_dir=tmp_path / "q")  # type: ignore[arg-type]
        assert info.value.field == "src_ip"
        assert "utf8" in str(info.value).lower()
