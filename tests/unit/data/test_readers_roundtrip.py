"""Round-trip property tests: canonical flows -> each real-world format -> read_flows -> same flows."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import pytest
from flow_writers import WRITERS, sample_flows, write_nf_v9
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nids.data import read_flows, validate_flows
from nids.data.readers._map import SYNTHETIC_TS_ORIGIN, SYNTHETIC_TS_STEP, derive_conn_state
from nids.data.readers.detect import detect_format
from nids.data.schema import ACK, FIN, RST, SYN

ALL_BITS = list(range(256))
ZEEK_BITS = sorted(
    {a | b | c | d for a in (0, SYN) for b in (0, ACK) for c in (0, FIN) for d in (0, RST)} - {0}
)
TS_MIN = pd.Timestamp("2020-01-01", tz="UTC").value // 1000
TS_MAX = pd.Timestamp("2030-01-01", tz="UTC").value // 1000

# What each format can carry (precision, address families, labels, flags, service).
PROFILES: dict[str, dict[str, object]] = {
    "parquet": {"ts_us": 1, "dur": 6, "v6": True, "labels": "all", "bits": ALL_BITS, "service": True},
    "zeek-tsv": {"ts_us": 1, "dur": 6, "v6": True, "labels": "all", "bits": ZEEK_BITS, "service": True},
    "zeek-json": {"ts_us": 1, "dur": 6, "v6": True, "labels": "all", "bits": ZEEK_BITS, "service": True},
    "nfdump-csv": {"ts_us": 1000, "dur": 3, "v6": True, "labels": None, "bits": ALL_BITS, "service": False},
    "nfdump-csv-new": {"ts_us": 1000, "dur": 3, "v6": True, "labels": None, "bits": ALL_BITS, "service": False},
    "nf-v9": {"ts_us": 1000, "dur": 3, "v6": False, "labels": "binary", "bits": ALL_BITS, "service": True},
    "cicflowmeter-csv": {"ts_us": 1_000_000, "dur": 6, "v6": True, "labels": "binary", "bits": ALL_BITS, "service": False},
}  # fmt: skip
DERIVED_STATE = {"nfdump-csv", "nfdump-csv-new", "nf-v9", "cicflowmeter-csv"}


@st.composite
def flow_frames(draw: st.DrawFn, fmt: str) -> pd.DataFrame:
    """1-8 canonical flows restricted to what ``fmt`` can represent."""
    p = PROFILES[fmt]
    n = draw(st.integers(1, 8))
    rows = []
    for _ in range(n):
        proto = draw(st.sampled_from(["tcp", "udp", "icmp"]))
        v6 = bool(p["v6"]) and draw(st.booleans())
        ips = st.ip_addresses(v=6 if v6 else 4).map(str)
        port_max = 255 if proto == "icmp" else 65535
        unit = int(p["ts_us"])  # type: ignore[call-overload]
        label = None
        attack = None
        if p["labels"] == "all":
            label = draw(st.sampled_from([None, "benign", "malicious", "unknown"]))
            attack = draw(st.sampled_from([None, "PortScan", "Microsoft", "C2 beacon"]))
        elif p["labels"] == "binary":
            label = draw(st.sampled_from(["benign", "malicious"]))
            attack = draw(st.sampled_from(["DDoS", "PortScan"])) if label == "malicious" else None
        rows.append(
            {
                "ts": pd.Timestamp(
                    draw(st.integers(TS_MIN, TS_MAX)) // unit * unit, unit="us", tz="UTC"
                ),
                "duration": round(draw(st.floats(0, 5000, allow_nan=False)), int(p["dur"])),  # type: ignore[call-overload]
                "src_ip": draw(ips),
                "src_port": draw(st.integers(0, port_max)),
                "dst_ip": draw(ips),
                "dst_port": draw(st.integers(0, port_max)),
                "proto": proto,
                "src_bytes": draw(st.integers(0, 2**40)),
                "dst_bytes": draw(st.integers(0, 2**40)),
                "src_pkts": draw(st.integers(0, 2**31)),
                "dst_pkts": draw(st.integers(0, 2**31)),
                "tcp_flags": draw(st.sampled_from(p["bits"])) if proto == "tcp" else None,  # type: ignore[arg-type]
                "conn_state": draw(st.sampled_from([None, "SF", "S0", "REJ"])),
                "service": draw(st.sampled_from([None, "dns", "http", "ssl"]))
                if p["service"]
                else None,
                "label": label,
                "attack_type": attack,
            }
        )
    frame = pd.DataFrame(rows)
    frame["tcp_flags"] = frame["tcp_flags"].astype("Int16")
    return frame


def expected_after(fmt: str, frame: pd.DataFrame) -> pd.DataFrame:
    """What reading ``frame`` back from ``fmt`` must give."""
    expected = validate_flows(frame)
    missing = pd.Series([None] * len(expected), dtype="str")
    if not PROFILES[fmt]["service"]:
        expected["service"] = missing
    if PROFILES[fmt]["labels"] is None:
        expected["label"] = missing
        expected["attack_type"] = missing
    if fmt in DERIVED_STATE:
        expected["conn_state"] = derive_conn_state(
            expected["proto"],
            expected["tcp_flags"],
            expected["src_pkts"].to_numpy(),
            expected["dst_pkts"].to_numpy(),
        )
    return expected


def roundtrip(fmt: str, frame: pd.DataFrame) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "flows.dat"  # the name says nothing: detection is by content
        WRITERS[fmt](frame, path)
        got = read_flows(path)
        assert detect_format(path.read_bytes()[:65536], source="x") == fmt.removesuffix("-new")
    pd.testing.assert_frame_equal(got, expected_after(fmt, frame))


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_sample_flows_round_trip_through_every_format(fmt: str) -> None:
    frame = sample_flows()
    if fmt in {"nf-v9", "cicflowmeter-csv"}:
        frame.loc[0, "attack_type"] = None
    roundtrip(fmt, frame)


def _property(fmt: str) -> object:
    @settings(
        max_examples=8,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(frame=flow_frames(fmt))
    def check(frame: pd.DataFrame) -> None:
        roundtrip(fmt, frame)

    return check


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_property_round_trip(fmt: str) -> None:
    _property(fmt)()  # type: ignore[operator]


def test_nf_v9_without_start_times_gets_synthetic_monotonic_times(tmp_path: Path) -> None:
    frame = sample_flows()
    frame.loc[0, "attack_type"] = None
    path = tmp_path / "nf.csv"
    write_nf_v9(frame, path, with_start=False)
    got = read_flows(path)
    expected_ts = [SYNTHETIC_TS_ORIGIN + i * SYNTHETIC_TS_STEP for i in range(3)]
    assert got["ts"].tolist() == expected_ts
    assert got["label"].tolist() == ["benign", "malicious", "benign"]
    assert got["attack_type"].tolist()[1] == "SSH-Bruteforce"
