"""Test helpers: write canonical flows in every supported input format, and valid samples.

Each writer renders a canonical frame the way the real tool lays it out, so reading the
file back must give the same flows (within what the format can carry).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from nids.data.io import write_flows
from nids.data.schema import ACK, CWR, ECE, FIN, FLOW_SCHEMA, PSH, RST, SYN, URG

NDPI_IDS = {"dns": 5, "http": 7, "ssl": 91, "ssh": 92}


def _int(value: object) -> object:
    """Plain int for JSON; anything else (a deliberately corrupt value) as is."""
    return int(value) if isinstance(value, (int, np.integer)) else value  # type: ignore[arg-type]


def _epoch(ts: pd.Series) -> np.ndarray:
    return ts.astype("int64").to_numpy() / 1e6


def _history(flags: object) -> str:
    """A Zeek history string whose letters give back ``flags`` (SYN/ACK/FIN/RST only)."""
    if pd.isna(flags):
        return "-"
    bits = int(flags)  # type: ignore[call-overload]
    return (
        "".join(c for b, c in ((SYN, "S"), (ACK, "A"), (FIN, "F"), (RST, "R")) if bits & b) or "-"
    )


def _zeek_label(label: object) -> str:
    return {"benign": "Benign", "malicious": "Malicious", "unknown": "Background"}.get(
        label if isinstance(label, str) else "", "-"
    )


ZEEK_FIELDS = [
    "ts",
    "uid",
    "id.orig_h",
    "id.orig_p",
    "id.resp_h",
    "id.resp_p",
    "proto",
    "service",
    "duration",
    "orig_bytes",
    "resp_bytes",
    "conn_state",
    "local_orig",
    "local_resp",
    "missed_bytes",
    "history",
    "orig_pkts",
    "orig_ip_bytes",
    "resp_pkts",
    "resp_ip_bytes",
    "tunnel_parents",
    "label",
    "detailedlabel",
]


def zeek_records(df: pd.DataFrame) -> list[dict[str, object]]:
    """conn.log records (JSON-style values; None = unset)."""
    out = []
    for i, row in enumerate(df.itertuples(index=False)):
        out.append(
            {
                "ts": f"{_epoch(pd.Series([row.ts]))[0]:.6f}",
                "uid": f"C{i:017d}",
                "id.orig_h": row.src_ip,
                "id.orig_p": _int(row.src_port),
                "id.resp_h": row.dst_ip,
                "id.resp_p": _int(row.dst_port),
                "proto": row.proto,
                "service": None if pd.isna(row.service) else row.service,
                "duration": f"{row.duration:.6f}",
                "orig_bytes": 0,
                "resp_bytes": 0,
                "conn_state": None if pd.isna(row.conn_state) else row.conn_state,
                "local_orig": "F",
                "local_resp": "F",
                "missed_bytes": 0,
                "history": None if _history(row.tcp_flags) == "-" else _history(row.tcp_flags),
                "orig_pkts": _int(row.src_pkts),
                "orig_ip_bytes": _int(row.src_bytes),
                "resp_pkts": _int(row.dst_pkts),
                "resp_ip_bytes": _int(row.dst_bytes),
                "tunnel_parents": None,
                "label": None if _zeek_label(row.label) == "-" else _zeek_label(row.label),
                "detailedlabel": None if pd.isna(row.attack_type) else row.attack_type,
            }
        )
    return out


def write_zeek_tsv(df: pd.DataFrame, path: Path) -> None:
    lines = [
        "#separator \\x09",
        "#set_separator\t,",
        "#empty_field\t(empty)",
        "#unset_field\t-",
        "#path\tconn",
        "#fields\t" + "\t".join(ZEEK_FIELDS),
        "#types\t" + "\t".join(["string"] * len(ZEEK_FIELDS)),
    ]
    for rec in zeek_records(df):
        rec["tunnel_parents"] = "(empty)"
        lines.append("\t".join("-" if rec[f] is None else str(rec[f]) for f in ZEEK_FIELDS))
    lines.append("#close\t2026-01-01-00-00-00")
    path.write_text("\n".join(lines) + "\n")


def write_zeek_json(df: pd.DataFrame, path: Path) -> None:
    lines = []
    for rec in zeek_records(df):
        rec["ts"] = float(str(rec["ts"]))
        rec["duration"] = float(str(rec["duration"]))
        lines.append(json.dumps({k: v for k, v in rec.items() if v is not None}))
    path.write_text("\n".join(lines) + "\n")


def _nfdump_flags(flags: object) -> str:
    bits = 0 if pd.isna(flags) else int(flags)  # type: ignore[call-overload]
    letters = (
        (CWR, "C"), (ECE, "E"), (URG, "U"), (ACK, "A"), (PSH, "P"), (RST, "R"), (SYN, "S"), (FIN, "F")
    )  # fmt: skip
    return "".join(c if bits & b else "." for b, c in letters)


def _nfdump_time(ts: pd.Timestamp) -> str:
    return ts.strftime("%Y-%m-%d %H:%M:%S.") + f"{ts.microsecond // 1000:03d}"


def _nfdump_ports(row: object) -> tuple[str, str]:
    if row.proto in ("icmp", "ipv6-icmp"):  # type: ignore[attr-defined]
        return "0", f"{row.src_port}.{row.dst_port}"  # type: ignore[attr-defined]
    return str(row.src_port), str(row.dst_port)  # type: ignore[attr-defined]


def write_nfdump_old(df: pd.DataFrame, path: Path) -> None:
    """`nfdump -o csv` before 1.7.5, with its trailing Summary block."""
    header = "ts,te,td,sa,da,sp,dp,pr,flg,fwd,stos,ipkt,ibyt,opkt,obyt,in,out,sas,das"
    lines = [header]
    for row in df.itertuples(index=False):
        sp, dp = _nfdump_ports(row)
        end = row.ts + pd.Timedelta(seconds=row.duration)
        lines.append(
            f"{_nfdump_time(row.ts)},{_nfdump_time(end)},{row.duration:.3f},{row.src_ip},"
            f"{row.dst_ip},{sp},{dp},{row.proto.upper()},{_nfdump_flags(row.tcp_flags)},0,0,"
            f"{row.src_pkts},{row.src_bytes},{row.dst_pkts},{row.dst_bytes},0,0,0,0"
        )
    lines += ["Summary", "flows,bytes,packets,avg_bps,avg_pps,avg_bpp", f"{len(df)},0,0,0,0,0"]
    path.write_text("\n".join(lines) + "\n")


def write_nfdump_new(df: pd.DataFrame, path: Path) -> None:
    """`nfdump -o csv` 1.7.5+ long names; flags as hex."""
    lines = [
        "firstSeen,duration,proto,srcAddr,srcPort,dstAddr,dstPort,inPackets,inBytes,"
        "outPackets,outBytes,flags"
    ]
    for row in df.itertuples(index=False):
        sp, dp = _nfdump_ports(row)
        flags = "0x00" if pd.isna(row.tcp_flags) else f"0x{int(row.tcp_flags):02x}"
        lines.append(
            f"{_nfdump_time(row.ts)},{row.duration:.3f},{row.proto},{row.src_ip},{sp},"
            f"{row.dst_ip},{dp},{row.src_pkts},{row.src_bytes},{row.dst_pkts},{row.dst_bytes},{flags}"
        )
    path.write_text("\n".join(lines) + "\n")


NF_PROTO = {"tcp": 6, "udp": 17, "icmp": 1}


def write_nf_v9(df: pd.DataFrame, path: Path, *, with_start: bool = True) -> None:
    """nProbe NetFlow v9 CSV as in the NF-* datasets (optionally with FLOW_START_MILLISECONDS)."""
    cols = [
        "IPV4_SRC_ADDR", "L4_SRC_PORT", "IPV4_DST_ADDR", "L4_DST_PORT", "PROTOCOL", "L7_PROTO",
        "IN_BYTES", "OUT_BYTES", "IN_PKTS", "OUT_PKTS", "TCP_FLAGS",
        "FLOW_DURATION_MILLISECONDS", "Label", "Attack",
    ]  # fmt: skip
    if with_start:
        cols.insert(0, "FLOW_START_MILLISECONDS")
    lines = [",".join(cols)]
    for row in df.itertuples(index=False):
        values = [
            row.src_ip, row.src_port, row.dst_ip, row.dst_port, NF_PROTO[row.proto],
            f"{NDPI_IDS.get(row.service, 0)}.0", row.src_bytes, row.dst_bytes, row.src_pkts,
            row.dst_pkts, 0 if pd.isna(row.tcp_flags) else int(row.tcp_flags),
            round(row.duration * 1000), 1 if row.label == "malicious" else 0,
            "Benign" if pd.isna(row.attack_type) else row.attack_type,
        ]  # fmt: skip
        if with_start:
            values.insert(0, row.ts.value // 1_000_000)
        lines.append(",".join(str(v) for v in values))
    path.write_text("\n".join(lines) + "\n")


CIC_FLAGS = (
    (FIN, " FIN Flag Count"), (SYN, " SYN Flag Count"), (RST, " RST Flag Count"),
    (PSH, " PSH Flag Count"), (ACK, " ACK Flag Count"), (URG, " URG Flag Count"),
    (CWR, " CWE Flag Count"), (ECE, " ECE Flag Count"),
)  # fmt: skip


def write_cic(df: pd.DataFrame, path: Path) -> None:
    """CIC-IDS2017 GeneratedLabelledFlows layout (leading spaces, a repeated column)."""
    cols = [
        "Flow ID", " Source IP", " Source Port", " Destination IP", " Destination Port",
        " Protocol", " Timestamp", " Flow Duration", " Total Fwd Packets",
        " Total Backward Packets", "Total Length of Fwd Packets", " Total Length of Bwd Packets",
        " Fwd Header Length", *(name for _, name in CIC_FLAGS), " Fwd Header Length", " Label",
    ]  # fmt: skip
    lines = [",".join(cols)]
    for row in df.itertuples(index=False):
        bits = 0 if pd.isna(row.tcp_flags) else int(row.tcp_flags)
        label = "BENIGN" if row.label == "benign" else row.attack_type
        values = [
            f"{row.src_ip}-{row.dst_ip}", row.src_ip, row.src_port, row.dst_ip, row.dst_port,
            NF_PROTO[row.proto], row.ts.strftime("%d/%m/%Y %H:%M:%S"),
            round(row.duration * 1e6), row.src_pkts, row.dst_pkts, row.src_bytes,
            row.dst_bytes, 20, *(1 if bits & b else 0 for b, _ in CIC_FLAGS), 20, label,
        ]  # fmt: skip
        lines.append(",".join(str(v) for v in values))
    path.write_text("\n".join(lines) + "\n")


def write_parquet(df: pd.DataFrame, path: Path) -> None:
    if len(df) == 0:  # a valid file with the schema and no rows
        pq.write_table(FLOW_SCHEMA.empty_table(), path)
    else:
        write_flows(df, path)


Writer = Callable[[pd.DataFrame, Path], None]
#: format name -> (writer, file name). File names deliberately say nothing about format.
WRITERS: dict[str, Writer] = {
    "parquet": write_parquet,
    "zeek-tsv": write_zeek_tsv,
    "zeek-json": write_zeek_json,
    "nfdump-csv": write_nfdump_old,
    "nfdump-csv-new": write_nfdump_new,
    "nf-v9": write_nf_v9,
    "cicflowmeter-csv": write_cic,
}


def sample_flows() -> pd.DataFrame:
    """Three hand-written canonical flows every format can carry."""
    return pd.DataFrame(
        {
            "ts": pd.to_datetime(
                ["2025-11-03 08:00:00", "2025-11-03 08:00:01", "2025-11-03 08:00:02"], utc=True
            ),
            "duration": [1.5, 0.0, 0.25],
            "src_ip": ["10.0.0.5", "203.0.113.7", "10.0.0.6"],
            "src_port": [51000, 40000, 53000],
            "dst_ip": ["93.184.216.34", "10.0.0.5", "8.8.8.8"],
            "dst_port": [443, 22, 53],
            "proto": ["tcp", "tcp", "udp"],
            "src_bytes": [1200, 60, 80],
            "dst_bytes": [5400, 0, 160],
            "src_pkts": [10, 1, 1],
            "dst_pkts": [12, 0, 1],
            "tcp_flags": pd.array([SYN | ACK | FIN, SYN, None], dtype="Int16"),
            "conn_state": ["SF", "S0", "SF"],
            "service": ["ssl", None, "dns"],
            "label": ["benign", "malicious", "benign"],
            "attack_type": [None, "SSH-Bruteforce", None],
        }
    )
