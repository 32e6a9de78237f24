"""Reader throughput: write N canonical flows as parquet / Zeek TSV, read + validate them back.

Usage: python benchmarks/bench_readers.py [--rows 1000000]
Prints wall-clock and CPU seconds per step (no assertions: figures for the docs).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from nids.data import read_flows, validate_flows, write_flows


def synthetic(n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` schema-valid flows with a realistic number of distinct hosts and 5-tuples."""
    rng = np.random.default_rng(seed)
    hosts = np.array([f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}" for i in range(5000)])
    servers = np.array([f"198.51.100.{i}" for i in range(200)])
    proto = rng.choice(["tcp", "udp", "icmp"], n, p=[0.8, 0.18, 0.02])
    return pd.DataFrame(
        {
            "ts": pd.Timestamp("2025-11-01", tz="UTC")
            + pd.to_timedelta(np.sort(rng.uniform(0, 7 * 86400, n)), unit="s"),
            "duration": rng.exponential(2.0, n).round(6),
            "src_ip": rng.choice(hosts, n),
            "src_port": rng.integers(1024, 65535, n),
            "dst_ip": rng.choice(servers, n),
            "dst_port": rng.choice([53, 80, 443, 22, 3389, 8080], n),
            "proto": proto,
            "src_bytes": rng.integers(40, 100_000, n),
            "dst_bytes": rng.integers(0, 1_000_000, n),
            "src_pkts": rng.integers(1, 200, n),
            "dst_pkts": rng.integers(0, 400, n),
            "tcp_flags": np.where(proto == "tcp", 27, None),
            "conn_state": "SF",
            "service": rng.choice(["dns", "http", "ssl", None], n),
            "label": "benign",
        }
    )


def timed(label: str, rows: int, fn):  # type: ignore[no-untyped-def]
    """Run ``fn``; print wall and CPU seconds (CPU is the honest figure on a shared box)."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"{label:<46} wall {wall:6.2f} s  cpu {cpu:6.2f} s  {rows / cpu:11,.0f} rows/cpu-s")
    return out


def zeek_text(df: pd.DataFrame) -> str:
    """The frame as a minimal Zeek conn.log (TSV)."""
    fields = [
        "ts",
        "id.orig_h",
        "id.orig_p",
        "id.resp_h",
        "id.resp_p",
        "proto",
        "service",
        "duration",
        "orig_ip_bytes",
        "resp_ip_bytes",
        "orig_pkts",
        "resp_pkts",
        "conn_state",
    ]
    body = pd.DataFrame(
        {
            "ts": (df["ts"].astype("int64") / 1e6).map("{:.6f}".format),
            "id.orig_h": df["src_ip"],
            "id.orig_p": df["src_port"],
            "id.resp_h": df["dst_ip"],
            "id.resp_p": df["dst_port"],
            "proto": df["proto"],
            "service": df["service"].fillna("-"),
            "duration": df["duration"],
            "orig_ip_bytes": df["src_bytes"],
            "resp_ip_bytes": df["dst_bytes"],
            "orig_pkts": df["src_pkts"],
            "resp_pkts": df["dst_pkts"],
            "conn_state": df["conn_state"],
        }
    )
    head = "#separator \\x09\n#fields\t" + "\t".join(fields) + "\n"
    return head + body.to_csv(sep="\t", header=False, index=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    n = parser.parse_args().rows
    raw = synthetic(n)
    with tempfile.TemporaryDirectory() as tmp:
        flows = timed("validate_flows (incl. Community IDs)", n, lambda: validate_flows(raw))
        path = Path(tmp) / "flows.parquet"
        timed("write_flows (parquet, zstd)", n, lambda: write_flows(flows, path))
        timed("read_flows parquet (read + validate)", n, lambda: read_flows(path))
        log = Path(tmp) / "conn.log"
        log.write_text(zeek_text(flows))
        timed("read_flows Zeek TSV (parse + validate + CIDs)", n, lambda: read_flows(log))


if __name__ == "__main__":
    main()
