"""Monitoring costs: prediction-log submit latency (request path) and drift-check time.

Run: ``.venv/bin/python benchmarks/monitoring_bench.py``. Prints the time
``PredictionLogWriter.submit`` adds to a request (1,000-row batches, 10 % sampled,
writer thread busy), rows written per second, the time of one window comparison
(58 columns, 5,000-row reference sample) for several window sizes, and the service's
rolling drift monitor: CPU per ``observe`` call (request path), per ``submit`` with
the feature matrix, and per background check of its 5,000-flow window.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from nids.monitoring.drift import Reference, compare_to_reference
from nids.monitoring.prediction_log import PredictionLogWriter
from nids.monitoring.reference import build_reference_profile
from nids.monitoring.rolling import RollingDriftMonitor

N_FEATURES = 47  # as the current feature set; 5 raw + 4 categorical columns come on top


def frame(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """Flows with the columns the log and the drift check read."""
    out = pd.DataFrame(
        {
            "ts": pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(np.arange(n), unit="s"),
            "src_ip": "10.0.0.1",
            "dst_ip": "198.51.100.7",
            "duration": rng.exponential(1.0, n),
            "src_bytes": rng.lognormal(7, 2, n).astype(np.int64),
            "dst_bytes": rng.lognormal(8, 2, n).astype(np.int64),
            "src_pkts": rng.integers(1, 100, n),
            "dst_pkts": rng.integers(0, 100, n),
            "proto": rng.choice(["tcp", "udp"], n),
            "service": rng.choice(["dns", "http", "ssl"], n),
            "conn_state": rng.choice(["SF", "S0"], n),
            "dst_port": rng.choice([53, 80, 443], n),
            "score": rng.normal(size=n),
            "is_alert": False,
        }
    )
    features = pd.DataFrame(
        rng.normal(size=(n, N_FEATURES)), columns=[f"feature:f{i}" for i in range(N_FEATURES)]
    )
    return pd.concat([out, features], axis=1)


def bench_log(batches: int, rows: int, rate: float) -> None:
    """Submit latency percentiles and writer throughput at ``rate`` batches per second."""
    rng = np.random.default_rng(0)
    data = frame(rows, rng)
    with tempfile.TemporaryDirectory() as root:
        writer = PredictionLogWriter(root, sample_rate=0.1, max_bytes=10**10, seed=0)
        latencies = []
        start = time.perf_counter()
        for _ in range(batches):
            t = time.perf_counter()
            writer.submit(data)
            latencies.append(time.perf_counter() - t)
            time.sleep(max(0.0, 1 / rate - (time.perf_counter() - t)))
        writer.close()
        elapsed = time.perf_counter() - start
    lat = np.array(latencies[1:]) * 1e3  # the first call starts the thread
    stats = writer.stats
    print(
        f"prediction log at {rate * rows:,.0f} flows/s offered: submit of {rows}-row batches p50 {np.percentile(lat, 50):.3f} ms, "
        f"p99 {np.percentile(lat, 99):.3f} ms; {stats['written']:,} rows written in "
        f"{stats['files']} files, {stats['written'] / elapsed:,.0f} rows/s, dropped {stats['dropped']:,}"
    )


def bench_drift(windows: list[int], repeats: int) -> None:
    """Time of one compare_to_reference call per window size."""
    rng = np.random.default_rng(1)
    ref = frame(50_000, rng)
    x = ref[[c for c in ref.columns if c.startswith("feature:")]].to_numpy()
    names = [c.removeprefix("feature:") for c in ref.columns if c.startswith("feature:")]
    scores = rng.normal(size=len(ref))
    reference = Reference(build_reference_profile(ref, x, names, scores, scores, seed=0))
    for n in windows:
        window = frame(n, rng)
        t = time.perf_counter()
        for _ in range(repeats):
            result = compare_to_reference(reference, window, scores=window["score"], threshold=2.5)
        per = (time.perf_counter() - t) / repeats
        print(
            f"drift check: {n:>7,}-flow window, {len(result.columns)} columns: {per * 1e3:.0f} ms"
        )


def _cpu_us(call: Callable[[], None], n: int) -> float:
    """CPU microseconds of this thread per call (thread time: other load does not count)."""
    t = time.thread_time()
    for _ in range(n):
        call()
    return (time.thread_time() - t) / n * 1e6


def bench_rolling(calls: int) -> None:
    """Request-path cost of the drift monitor and the log's feature hand-off; check cost."""
    from prometheus_client import CollectorRegistry

    rng = np.random.default_rng(2)
    ref = frame(20_000, rng)
    cols = [c for c in ref.columns if c.startswith("feature:")]
    names = [c.removeprefix("feature:") for c in cols]
    x = ref[cols].to_numpy()
    scores = rng.normal(size=len(ref))
    profile = build_reference_profile(ref, x, names, scores, scores, seed=0)
    monitor = RollingDriftMonitor(
        profile, names, threshold=2.5, window=5000, registry=CollectorRegistry(), model="b/1"
    )
    monitor.start(3600.0)  # the drain thread runs as in the service
    for rows in (1, 1000):
        xb, sb, ab = x[:rows], scores[:rows], scores[:rows] > 2.5
        per = _cpu_us(lambda xb=xb, sb=sb, ab=ab: monitor.observe(xb, sb, ab), calls)
        print(f"rolling monitor: observe of a {rows:>4}-flow batch {per:.2f} us CPU per request")
    with tempfile.TemporaryDirectory() as root:
        writer = PredictionLogWriter(root, sample_rate=0.1, max_bytes=10**10, seed=0)
        for rows in (1, 1000):
            fb, xb = ref.iloc[:rows].drop(columns=cols), x[:rows]
            plain = _cpu_us(lambda fb=fb: writer.submit(fb), calls // 10)
            with_x = _cpu_us(
                lambda fb=fb, xb=xb: writer.submit(fb, features=xb, feature_names=names),
                calls // 10,
            )
            print(
                f"prediction log: submit of a {rows:>4}-flow batch {plain:.1f} us CPU, "
                f"with features= {with_x:.1f} us"
            )
        writer.close()
    monitor.observe(x[:5000], scores[:5000], scores[:5000] > 2.5)
    monitor.drain()
    t = time.thread_time()
    result = monitor.evaluate()
    assert result is not None
    print(
        f"rolling monitor: one check of the 5,000-flow window ({len(result.columns)} columns) "
        f"{(time.thread_time() - t) * 1e3:.0f} ms CPU (background thread, once per interval)"
    )
    monitor.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, default=500)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=200.0, help="Batches per second.")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--calls", type=int, default=100_000, help="observe() calls timed.")
    args = parser.parse_args()
    bench_rolling(args.calls)
    bench_log(args.batches, args.rows, args.rate)
    bench_drift([1000, 3000, 10_000, 100_000], args.repeats)


if __name__ == "__main__":
    main()
