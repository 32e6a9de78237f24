"""Zeek ``conn.log`` (TSV with ``#fields`` header, or JSON lines) to canonical columns."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from nids.data.readers._map import canonical_proto, map_labels, nulls_for, number, pick, require
from nids.data.schema import ACK, FIN, RST, SYN
from nids.data.validation import RowIssues
from nids.errors import SchemaError

ZEEK_UNSET = "-"
ZEEK_EMPTY = "(empty)"
# Stratosphere labels (CTU): Background = not labelled, treated as unknown.
BENIGN_LABELS = ("Benign", "Normal", "Legitimate")
MALICIOUS_LABELS = ("Malicious", "Malware", "Botnet", "Attack")
UNKNOWN_LABELS = ("Background", "Unknown")
# conn.log history letters (upper case: originator, lower: responder) -> TCP flag bits.
# 'D'/'d' (payload) packets carry ACK.
_HISTORY_BITS = {"s": SYN, "h": SYN | ACK, "a": ACK, "d": ACK, "f": FIN, "r": RST}


def parse_tsv_header(lines: list[str], *, source: str) -> tuple[list[str], str, int]:
    """(field names, separator, number of header lines) from a conn.log's ``#`` lines."""
    separator = "\t"
    names: list[str] | None = None
    count = 0
    for line in lines:
        if not line.startswith("#"):
            break
        count += 1
        if line.startswith("#separator"):
            value = line[len("#separator") :].strip()
            escaped = re.fullmatch(r"\\x([0-9a-fA-F]{2})", value)
            if escaped:
                separator = chr(int(escaped.group(1), 16))
            elif len(value) == 1:
                separator = value
            else:
                raise SchemaError(
                    f"invalid '#separator' header {value!r}", source=source, line=count
                )
        elif line.startswith("#fields"):
            names = line.rstrip("\r\n").split(separator)[1:]
    if not names:
        raise SchemaError("Zeek TSV log without a '#fields' header line", source=source)
    return names, separator, count


def map_zeek(raw: pd.DataFrame, issues: RowIssues, row_offset: int) -> pd.DataFrame:
    """Canonical columns from conn.log fields (TSV text or JSON values).

    ``src_bytes``/``dst_bytes`` are the IP-layer ``orig_ip_bytes``/``resp_ip_bytes``
    (payload ``orig_bytes``/``resp_bytes`` when those are absent); unset durations and
    byte counts (``-``) are 0; ``tcp_flags`` are rebuilt from ``history``.
    """
    del row_offset  # Zeek always has timestamps
    raw = _split_compound_fields(raw)
    n = len(raw)
    proto = canonical_proto(nulls_for(require(raw, "proto", "proto"), ZEEK_UNSET))
    src_pkts = number(pick(raw, "orig_pkts"), "src_pkts", issues)
    dst_pkts = number(pick(raw, "resp_pkts"), "dst_pkts", issues)
    out: dict[str, pd.Series | np.ndarray] = {
        "ts": nulls_for(require(raw, "ts", "ts"), ZEEK_UNSET),
        "duration": number(pick(raw, "duration"), "duration", issues),
        "src_ip": require(raw, "src_ip", "id.orig_h"),
        "src_port": require(raw, "src_port", "id.orig_p"),
        "dst_ip": require(raw, "dst_ip", "id.resp_h"),
        "dst_port": require(raw, "dst_port", "id.resp_p"),
        "proto": proto,
        "src_bytes": number(pick(raw, "orig_ip_bytes", "orig_bytes"), "src_bytes", issues),
        "dst_bytes": number(pick(raw, "resp_ip_bytes", "resp_bytes"), "dst_bytes", issues),
        "src_pkts": src_pkts,
        "dst_pkts": dst_pkts,
        "tcp_flags": _history_flags(pick(raw, "history"), proto, n),
        "conn_state": _text(pick(raw, "conn_state"), n),
        "service": _text(pick(raw, "service"), n),
    }
    label, attack = map_labels(
        pick(raw, "label"),
        pick(raw, "detailedlabel"),
        benign=BENIGN_LABELS,
        malicious=MALICIOUS_LABELS,
        unknown=UNKNOWN_LABELS,
        n=n,
        unset=(ZEEK_UNSET, ZEEK_EMPTY),
    )
    out["label"] = label
    out["attack_type"] = attack
    return pd.DataFrame({k: _values(v) for k, v in out.items()})


def _split_compound_fields(raw: pd.DataFrame) -> pd.DataFrame:
    """Stratosphere's IoT-23 logs join the last fields with spaces instead of tabs
    (``tunnel_parents   label   detailedlabel``); split such columns into their fields."""
    compound = [c for c in raw.columns if len(str(c).split()) > 1]
    if not compound:
        return raw
    raw = raw.copy()
    for col in compound:
        names = str(col).split()
        parts = raw[col].astype("str").str.split(n=len(names) - 1, expand=True)
        for i, name in enumerate(names):
            raw[name] = parts[i] if i in parts.columns else None
    return raw


def _values(value: pd.Series | np.ndarray) -> pd.Series | np.ndarray:
    return value.reset_index(drop=True) if isinstance(value, pd.Series) else value


def _text(series: pd.Series | None, n: int) -> pd.Series:
    if series is None:
        return pd.Series([None] * n, dtype="str")
    return nulls_for(series, ZEEK_UNSET, ZEEK_EMPTY)


def _history_flags(history: pd.Series | None, proto: pd.Series, n: int) -> pd.Series:
    if history is None:
        return pd.Series(pd.array([pd.NA] * n, dtype="Int64"))
    text = nulls_for(history, ZEEK_UNSET).reset_index(drop=True)
    codes, uniques = pd.factorize(text)
    bits = []
    for value in uniques:
        acc = 0
        for char in value.lower():
            acc |= _HISTORY_BITS.get(char, 0)
        bits.append(acc)
    mapped = np.array([*bits, -1], dtype=np.int64)[codes]
    values = pd.array(np.maximum(mapped, 0), dtype="Int64")
    values[(mapped < 0) | (proto.to_numpy() != "tcp")] = pd.NA
    return pd.Series(values)
