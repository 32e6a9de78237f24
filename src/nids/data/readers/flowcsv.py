"""NetFlow-style CSV layouts (nfdump, nProbe NetFlow v9, CICFlowMeter) to canonical columns."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from nids.data.readers._map import (
    canonical_proto,
    derive_conn_state,
    flags_from_text,
    map_labels,
    nulls_for,
    number,
    pick,
    require,
    synthetic_ts,
    tcp_only,
)
from nids.data.schema import ACK, CWR, ECE, FIN, PSH, RST, SYN, URG
from nids.data.validation import RowIssues

# --- nfdump ----------------------------------------------------------------------
# Pre-1.7.5 names first, then the 1.7.5+ long names.
_NFDUMP = {
    "ts": ("ts", "firstSeen"),
    "te": ("te", "lastSeen"),
    "duration": ("td", "duration"),
    "src_ip": ("sa", "srcAddr", "srcIP"),
    "dst_ip": ("da", "dstAddr", "dstIP"),
    "src_port": ("sp", "srcPort"),
    "dst_port": ("dp", "dstPort"),
    "proto": ("pr", "proto"),
    "tcp_flags": ("flg", "flags", "tcpFlags"),
    "src_pkts": ("ipkt", "inPackets", "inPkts", "packets", "pkt"),
    "src_bytes": ("ibyt", "inBytes", "bytes", "byt"),
    "dst_pkts": ("opkt", "outPackets", "outPkts"),
    "dst_bytes": ("obyt", "outBytes"),
}
#: The trailer `nfdump -o csv` appends after the flows (without -q).
NFDUMP_SUMMARY_MARKER = b"\nSummary\n"


def map_nfdump(raw: pd.DataFrame, issues: RowIssues, row_offset: int) -> pd.DataFrame:
    """nfdump ``-o csv`` (both layouts). Times are taken as UTC; ICMP ``type.code``
    destination ports become src_port=type, dst_port=code (Zeek's convention)."""
    del row_offset
    col = {k: pick(raw, *v) for k, v in _NFDUMP.items()}
    proto = canonical_proto(require(raw, "proto", *_NFDUMP["proto"]))
    src_pkts = number(col["src_pkts"], "src_pkts", issues)
    dst_pkts = number(col["dst_pkts"], "dst_pkts", issues)
    flags = _flags(col["tcp_flags"], proto, issues)
    src_port, dst_port = _icmp_ports(
        require(raw, "src_port", *_NFDUMP["src_port"]),
        require(raw, "dst_port", *_NFDUMP["dst_port"]),
        proto,
    )
    ts = require(raw, "ts", *_NFDUMP["ts"])
    if col["duration"] is not None:
        duration = number(col["duration"], "duration", issues)
    elif col["te"] is not None:
        start = pd.to_datetime(ts, utc=True, errors="coerce", format="ISO8601")
        end = pd.to_datetime(col["te"], utc=True, errors="coerce", format="ISO8601")
        duration = ((end - start).dt.total_seconds()).fillna(0).to_numpy()
    else:
        duration = np.zeros(len(raw))
    frame = {
        "ts": ts,
        "duration": duration,
        "src_ip": require(raw, "src_ip", *_NFDUMP["src_ip"]),
        "src_port": src_port,
        "dst_ip": require(raw, "dst_ip", *_NFDUMP["dst_ip"]),
        "dst_port": dst_port,
        "proto": proto,
        "src_bytes": number(col["src_bytes"], "src_bytes", issues),
        "dst_bytes": number(col["dst_bytes"], "dst_bytes", issues),
        "src_pkts": src_pkts,
        "dst_pkts": dst_pkts,
        "tcp_flags": flags,
        "conn_state": derive_conn_state(proto, flags, src_pkts, dst_pkts),
    }
    label, attack = map_labels(
        pick(raw, "label", "class"),
        pick(raw, "attackType", "attack_type"),
        benign=("normal", "benign"),
        malicious=("malicious", "attack", "attacker", "victim"),
        unknown=("unknown", "suspicious", "background"),
        n=len(raw),
    )
    return _frame(frame, label, attack)


def _icmp_ports(src: pd.Series, dst: pd.Series, proto: pd.Series) -> tuple[pd.Series, pd.Series]:
    """nfdump prints an ICMP 'port' as ``type.code``; split it, leave other rows as text."""
    icmp = proto.isin(["icmp", "ipv6-icmp"]).to_numpy()
    if not icmp.any():
        return src.reset_index(drop=True), dst.reset_index(drop=True)
    dst_text = dst.astype("str").str.strip().reset_index(drop=True)
    parts = dst_text.str.split(".", n=1, expand=True)
    dotted = icmp & dst_text.str.contains(".", regex=False).fillna(False).to_numpy()
    src_out = src.astype("str").reset_index(drop=True).copy()
    dst_out = dst_text.copy()
    if dotted.any():
        src_out[dotted] = parts.loc[dotted, 0]
        dst_out[dotted] = parts.loc[dotted, 1]
    return src_out, dst_out


# --- nProbe NetFlow v9 CSV (NF-UNSW-NB15, NF-CSE-CIC-IDS2018, ...) -----------------
#: nDPI master protocol ids -> Zeek service names; other ids are kept as ``ndpi:<id>``.
NDPI_SERVICES = {
    1: "ftp",
    3: "smtp",
    4: "imap",
    5: "dns",
    7: "http",
    9: "ntp",
    10: "netbios",
    14: "snmp",
    18: "dhcp",
    88: "rdp",
    91: "ssl",
    92: "ssh",
}


def map_nf_v9(raw: pd.DataFrame, issues: RowIssues, row_offset: int) -> pd.DataFrame:
    """nProbe NetFlow v9 CSV. Without ``FLOW_START_MILLISECONDS`` the flow start time is
    synthetic (see ``SYNTHETIC_TS_ORIGIN``): NF-* datasets carry no timestamps."""
    n = len(raw)
    proto = canonical_proto(require(raw, "proto", "PROTOCOL"))
    src_pkts = number(require(raw, "src_pkts", "IN_PKTS"), "src_pkts", issues)
    dst_pkts = number(require(raw, "dst_pkts", "OUT_PKTS"), "dst_pkts", issues)
    flags_col = pick(raw, "TCP_FLAGS")
    flags = (
        tcp_only(proto, flags_from_text(flags_col, issues))
        if flags_col is not None
        else pd.Series(pd.array([pd.NA] * n, dtype="Int64"))
    )
    start = pick(raw, "FLOW_START_MILLISECONDS")
    if start is not None:
        ts: pd.Series | np.ndarray = number(start, "ts", issues) / 1000.0
    else:
        ts = synthetic_ts(n, row_offset)
    duration_ms = number(pick(raw, "FLOW_DURATION_MILLISECONDS"), "duration", issues)
    frame = {
        "ts": ts,
        "duration": duration_ms / 1000.0,
        "src_ip": require(raw, "src_ip", "IPV4_SRC_ADDR"),
        "src_port": require(raw, "src_port", "L4_SRC_PORT"),
        "dst_ip": require(raw, "dst_ip", "IPV4_DST_ADDR"),
        "dst_port": require(raw, "dst_port", "L4_DST_PORT"),
        "proto": proto,
        "src_bytes": number(require(raw, "src_bytes", "IN_BYTES"), "src_bytes", issues),
        "dst_bytes": number(require(raw, "dst_bytes", "OUT_BYTES"), "dst_bytes", issues),
        "src_pkts": src_pkts,
        "dst_pkts": dst_pkts,
        "tcp_flags": flags,
        "conn_state": derive_conn_state(proto, flags, src_pkts, dst_pkts),
        "service": _ndpi_service(pick(raw, "L7_PROTO")),
    }
    label, attack = map_labels(
        pick(raw, "Label"),
        pick(raw, "Attack"),
        benign=("0", "benign"),
        malicious=("1", "malicious"),
        n=n,
    )
    return _frame(frame, label, attack)


def _ndpi_service(series: pd.Series | None) -> pd.Series | None:
    if series is None:
        return None
    text = series.astype("str").str.strip()
    codes, uniques = pd.factorize(text)
    names: list[str | None] = []
    for value in uniques:
        master = value.split(".", 1)[0]
        if not master.isdigit() or int(master) == 0:
            names.append(None)  # 0 = unknown to nDPI
        else:
            names.append(NDPI_SERVICES.get(int(master), f"ndpi:{master}"))
    return pd.Series(np.array([*names, None], dtype=object)[codes], dtype="str")


# --- CICFlowMeter CSV (CIC-IDS2017 long names, CSE-CIC-IDS2018 short names) -------
_CIC_FLAGS = (
    (FIN, ("FIN Flag Count", "FIN Flag Cnt")),
    (SYN, ("SYN Flag Count", "SYN Flag Cnt")),
    (RST, ("RST Flag Count", "RST Flag Cnt")),
    (PSH, ("PSH Flag Count", "PSH Flag Cnt")),
    (ACK, ("ACK Flag Count", "ACK Flag Cnt")),
    (URG, ("URG Flag Count", "URG Flag Cnt")),
    (CWR, ("CWE Flag Count", "CWR Flag Count", "CWE Flag Cnt")),
    (ECE, ("ECE Flag Count", "ECE Flag Cnt")),
)
#: CIC Timestamp layouts (day first), tried in order.
CIC_TIME_FORMATS = ("%d/%m/%Y %H:%M:%S", "%d/%m/%Y %I:%M:%S %p", "%d/%m/%Y %H:%M")
#: Stand-in address when a CIC file has no IP columns (MachineLearningCSV).
NO_ADDRESS = "0.0.0.0"


def map_cic(raw: pd.DataFrame, issues: RowIssues, row_offset: int) -> pd.DataFrame:
    """CICFlowMeter CSV. ``Flow Duration`` is in microseconds; payload byte totals.

    Files without IP columns get ``0.0.0.0``, without ports 0, without ``Protocol`` tcp
    when any TCP flag was counted (else udp), without ``Timestamp`` synthetic times.
    Timestamps are local sensor time in the dataset; read as UTC.
    """
    n = len(raw)
    counts = [(bit, pick(raw, *names)) for bit, names in _CIC_FLAGS]
    bits = np.zeros(n, dtype=np.int64)
    for bit, series in counts:
        if series is not None:
            bits |= np.where(number(series, "tcp_flags", issues) > 0, bit, 0)
    proto_col = pick(raw, "Protocol")
    if proto_col is not None:
        proto = canonical_proto(proto_col)
    else:
        proto = pd.Series(np.where(bits > 0, "tcp", "udp"), dtype="str")
    has_flags = any(series is not None for _, series in counts)
    flags = pd.Series(pd.array(bits, dtype="Int64"))
    if not has_flags:
        flags[:] = pd.NA
    flags = tcp_only(proto, flags)
    src_pkts = number(
        require(raw, "src_pkts", "Total Fwd Packets", "Tot Fwd Pkts"), "src_pkts", issues
    )
    dst_pkts = number(
        require(raw, "dst_pkts", "Total Backward Packets", "Tot Bwd Pkts"), "dst_pkts", issues
    )
    duration_us = number(require(raw, "duration", "Flow Duration"), "duration", issues)
    ts_col = pick(raw, "Timestamp")
    frame = {
        "ts": _cic_time(ts_col, issues) if ts_col is not None else synthetic_ts(n, row_offset),
        "duration": duration_us / 1e6,
        "src_ip": _or_default(pick(raw, "Source IP", "Src IP"), NO_ADDRESS, n),
        "src_port": _or_default(pick(raw, "Source Port", "Src Port"), "0", n),
        "dst_ip": _or_default(pick(raw, "Destination IP", "Dst IP"), NO_ADDRESS, n),
        "dst_port": require(raw, "dst_port", "Destination Port", "Dst Port"),
        "proto": proto,
        "src_bytes": number(
            pick(raw, "Total Length of Fwd Packets", "TotLen Fwd Pkts"), "src_bytes", issues
        ),
        "dst_bytes": number(
            pick(raw, "Total Length of Bwd Packets", "TotLen Bwd Pkts"), "dst_bytes", issues
        ),
        "src_pkts": src_pkts,
        "dst_pkts": dst_pkts,
        "tcp_flags": flags,
        "conn_state": derive_conn_state(proto, flags, src_pkts, dst_pkts),
    }
    labels = pick(raw, "Label")
    label, attack = map_labels(labels, labels, benign=("BENIGN",), malicious=None, n=n)
    return _frame(frame, label, attack)


def _or_default(series: pd.Series | None, default: str, n: int) -> pd.Series:
    if series is None:
        return pd.Series([default] * n, dtype="str")
    return series.reset_index(drop=True)


def _cic_time(series: pd.Series, issues: RowIssues) -> pd.Series:
    text = nulls_for(series).reset_index(drop=True)
    best: pd.Series | None = None
    for fmt in CIC_TIME_FORMATS:
        parsed = pd.to_datetime(text, format=fmt, errors="coerce", utc=True)
        if best is None or parsed.notna().sum() > best.notna().sum():
            best = parsed
    assert best is not None
    issues.add(text.isna(), "ts", "missing timestamp")
    issues.add(best.isna().to_numpy() & text.notna().to_numpy(), "ts", "not a timestamp", series)
    return best.fillna(pd.Timestamp(0, tz="UTC")).astype("datetime64[us, UTC]")


def _flags(series: pd.Series | None, proto: pd.Series, issues: RowIssues) -> pd.Series:
    if series is None:
        return pd.Series(pd.array([pd.NA] * len(proto), dtype="Int64"))
    return tcp_only(proto, flags_from_text(series, issues))


def _frame(columns: Mapping[str, object], label: pd.Series, attack: pd.Series) -> pd.DataFrame:
    out = {
        k: (v.reset_index(drop=True) if isinstance(v, pd.Series) else v)
        for k, v in columns.items()
        if v is not None
    }
    out["label"] = label
    out["attack_type"] = attack
    return pd.DataFrame(out)
