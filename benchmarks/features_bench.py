"""Feature throughput: batch transform of N synthetic flows, and online request-sized chunks.

Run: ``.venv/bin/python benchmarks/features_bench.py --flows 1000000``. Prints flows/s
for the per-flow groups, the per-source context group (target >= 300k flows/s on one
core), the full transformer, and online scoring through a persistent state.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from nids.features import build_feature_transformer
from nids.features.transformer import ALL_GROUPS

HOME = ["10.0.0.0/8"]


def synthetic_flows(n: int, seed: int = 0) -> pd.DataFrame:
    """Canonical flows over a day: 2,000 home hosts talking to 20,000 external ones."""
    rng = np.random.default_rng(seed)
    hosts = np.array([f"10.0.{i // 250}.{i % 250 + 1}" for i in range(2000)], dtype=object)
    remote = np.array([f"198.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}" for i in range(20000)])
    ts = np.sort(rng.uniform(0, 86400, n))
    return pd.DataFrame(
        {
            "ts": pd.to_datetime(1.7e9 + ts, unit="s", utc=True),
            "duration": rng.exponential(2.0, n),
            "src_ip": hosts[rng.integers(0, len(hosts), n)],
            "src_port": rng.integers(49152, 65536, n).astype("int32"),
            "dst_ip": remote[rng.zipf(1.3, n) % len(remote)].astype(object),
            "dst_port": rng.choice([53, 80, 443, 22, 8080, 3389], n).astype("int32"),
            "proto": rng.choice(["tcp", "udp", "icmp"], n, p=[0.8, 0.18, 0.02]).astype(object),
            "src_bytes": rng.lognormal(7, 2, n).astype("int64"),
            "dst_bytes": rng.lognormal(8, 2.5, n).astype("int64"),
            "src_pkts": rng.integers(1, 200, n),
            "dst_pkts": rng.integers(0, 300, n),
            "tcp_flags": pd.array(rng.integers(0, 64, n), dtype="Int16"),
            "conn_state": rng.choice(["SF", "S0", "REJ", "RSTO", "OTH"], n).astype(object),
            "service": rng.choice(["dns", "ssl", "http", None], n).astype(object),
            "community_id": "1:x",
        }
    )


def rate(label: str, n: int, wall: float, cpu: float) -> None:
    # CPU time is what one core delivers even when the machine is shared.
    print(
        f"{label:<44} {n / wall:>12,.0f} flows/s wall  {n / cpu:>12,.0f} flows/CPU-s"
        f"  ({wall:.2f} s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--flows", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=1_000, help="online request size")
    args = parser.parse_args()
    df = synthetic_flows(args.flows)
    n = len(df)
    per_flow = [g for g in ALL_GROUPS if g != "context"]
    for label, groups in (
        ("per-flow groups (batch)", per_flow),
        ("context group (batch, fresh state)", ["context"]),
        ("all groups (batch)", None),
    ):
        t = build_feature_transformer(home_networks=HOME, groups=groups).fit(df.head(10_000))
        t.transform(df.head(1_000))  # numba compile / cache load outside the timing
        start, cpu = time.perf_counter(), time.process_time()
        matrix = t.transform(df)
        rate(label, n, time.perf_counter() - start, time.process_time() - cpu)
        assert np.isfinite(matrix).all()
    t = build_feature_transformer(home_networks=HOME).fit(df.head(10_000))
    state = t.new_state()
    online_n = min(n, 200 * args.chunk)
    start, cpu = time.perf_counter(), time.process_time()
    for a in range(0, online_n, args.chunk):
        t.transform(df.iloc[a : a + args.chunk], state=state)
    rate(
        f"all groups (online, {args.chunk}-flow requests)",
        online_n,
        time.perf_counter() - start,
        time.process_time() - cpu,
    )
    print(f"hosts in state: {state.n_hosts:,} of {state.max_hosts:,}; stats: {state.stats}")


if __name__ == "__main__":
    main()
