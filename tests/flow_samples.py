"""Small hand-built canonical flow frames for training/model tests (fast, deterministic).

Benign traffic: internal hosts talking DNS/HTTP/TLS to a few servers with normal volumes.
Attacks: an external scanner sending tiny, unanswered SYNs to many ports of one host.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nids.data.schema import COLUMNS


def make_flows(
    n: int,
    *,
    seed: int = 0,
    attack_share: float = 0.1,
    start: str = "2025-11-01",
    days: float = 2.0,
    labels: bool = True,
) -> pd.DataFrame:
    """``n`` canonical flows spread evenly over ``days``; attacks are the last-drawn mix."""
    rng = np.random.default_rng(seed)
    attack = rng.random(n) < attack_share
    seconds = np.sort(rng.uniform(0, days * 86400, n))
    ts = pd.Timestamp(start, tz="UTC") + pd.to_timedelta(seconds, unit="s")
    service = rng.choice(["dns", "http", "ssl"], n)
    dst_port = np.select([service == "dns", service == "http"], [53, 80], 443)
    proto = np.where(service == "dns", "udp", "tcp")
    src_bytes = np.round(rng.lognormal(6, 0.6, n)).astype(np.int64)
    dst_bytes = np.round(rng.lognormal(8, 0.8, n)).astype(np.int64)
    src_pkts = rng.integers(2, 30, n)
    dst_pkts = rng.integers(2, 40, n)
    duration = rng.exponential(2.0, n)
    src_ip = np.array([f"10.0.{i % 4}.{10 + i % 50}" for i in range(n)], dtype=object)
    dst_ip = rng.choice(["93.184.216.34", "8.8.8.8", "151.101.1.69"], n).astype(object)
    conn_state = np.full(n, "SF", dtype=object)
    tcp_flags = np.where(proto == "tcp", 27, 0)
    # The scanner: tiny unanswered SYNs to random ports of one internal host.
    k = int(attack.sum())
    src_ip[attack] = "203.0.113.7"
    dst_ip[attack] = "10.0.0.5"
    dst_port[attack] = rng.integers(1, 65535, k)
    proto[attack] = "tcp"
    service[attack] = None
    src_bytes[attack], dst_bytes[attack] = 44, 0
    src_pkts[attack], dst_pkts[attack] = 1, 0
    duration[attack] = 0.0
    conn_state[attack] = "S0"
    tcp_flags[attack] = 2
    label = np.where(attack, "malicious", "benign").astype(object)
    frame = pd.DataFrame(
        {
            "ts": ts.astype("datetime64[us, UTC]"),
            "duration": duration,
            "src_ip": pd.array(src_ip, dtype="str"),
            "src_port": rng.integers(1024, 65535, n).astype(np.int32),
            "dst_ip": pd.array(dst_ip, dtype="str"),
            "dst_port": dst_port.astype(np.int32),
            "proto": pd.array(proto.astype(object), dtype="str"),
            "src_bytes": src_bytes,
            "dst_bytes": dst_bytes,
            "src_pkts": src_pkts.astype(np.int64),
            "dst_pkts": dst_pkts.astype(np.int64),
            "tcp_flags": pd.array(tcp_flags, dtype="Int16"),
            "conn_state": pd.array(conn_state, dtype="str"),
            "service": pd.array(service.astype(object), dtype="str"),
            "label": pd.array(label if labels else [None] * n, dtype="str"),
            "attack_type": pd.array(np.where(attack, "portscan", None), dtype="str"),
            "community_id": pd.array([f"1:flow{seed}-{i}" for i in range(n)], dtype="str"),
        }
    )
    return frame[COLUMNS]
