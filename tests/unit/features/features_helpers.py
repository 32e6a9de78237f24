"""Hand-built canonical flow frames for the feature tests."""

from __future__ import annotations

from typing import Any

import pandas as pd

BASE_TS = pd.Timestamp("2025-01-06 12:00:00", tz="UTC")

_DEFAULTS: dict[str, Any] = {
    "t": 0.0,  # seconds after BASE_TS
    "duration": 1.0,
    "src_ip": "192.168.1.10",
    "src_port": 50000,
    "dst_ip": "93.184.216.34",
    "dst_port": 443,
    "proto": "tcp",
    "src_bytes": 1200,
    "dst_bytes": 5400,
    "src_pkts": 10,
    "dst_pkts": 12,
    "tcp_flags": None,
    "conn_state": "SF",
    "service": "ssl",
}


def make_flows(*rows: dict[str, Any]) -> pd.DataFrame:
    """Canonical flow frame; each row overrides the defaults of an HTTPS download."""
    records = []
    for i, row in enumerate(rows):
        rec = {**_DEFAULTS, **row}
        t = rec.pop("t")
        rec["ts"] = BASE_TS + pd.Timedelta(seconds=float(t))
        rec["community_id"] = f"1:test{i}"
        records.append(rec)
    df = pd.DataFrame.from_records(records)
    df["tcp_flags"] = df["tcp_flags"].astype("Int16")
    return df
