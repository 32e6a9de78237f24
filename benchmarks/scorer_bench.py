"""Compiled forest vs scikit-learn IsolationForest.score_samples: throughput and latency.

Run: .venv/bin/python benchmarks/scorer_bench.py [--trees 100] [--features 20] [--rows 200000]

Prints rows/s per core (CPU time of the scoring thread: the compiled kernel forced
serial, sklearn single-threaded as it is by default), rows/s with all cores (wall
clock), and single-row latency percentiles (wall clock).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
from sklearn.ensemble import IsolationForest

from nids.model import fastforest
from nids.model.fastforest import CompiledForest


def _best_rate(
    fn: Callable[[], object],
    rows: int,
    repeats: int = 3,
    clock: Callable[[], float] = time.perf_counter,
) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = clock()
        fn()
        best = min(best, clock() - start)
    return rows / best


def _latency_us(fn: Callable[[], object], n: int) -> tuple[float, float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1e6)
    return float(np.percentile(samples, 50)), float(np.percentile(samples, 99))


def main() -> None:
    """Fit a forest, compile it and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trees", type=int, default=100)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--max-samples", type=int, default=256)
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    train = rng.normal(size=(20_000, args.features))
    est = IsolationForest(
        n_estimators=args.trees, max_samples=args.max_samples, random_state=0
    ).fit(train)
    forest = CompiledForest.from_isolation_forest(est)
    rows = rng.normal(size=(args.rows, args.features)).astype(np.float32)
    one = rows[:1]

    forest.score_samples(rows[:10])  # load/compile the numba kernels outside the timings
    forest.score_samples(rows[: fastforest.PARALLEL_MIN_ROWS])
    check = rows[:20_000]
    diff = float(np.max(np.abs(forest.score_samples(check) - est.score_samples(check))))

    fastforest.PARALLEL_MIN_ROWS = 1 << 62  # force the serial kernel: per-core figure
    # Per-core figures use this thread's CPU time: other processes' load does not count.
    compiled_core = _best_rate(
        lambda: forest.score_samples(rows), len(rows), clock=time.thread_time
    )
    fastforest.PARALLEL_MIN_ROWS = 2048
    compiled_all = _best_rate(lambda: forest.score_samples(rows), len(rows))
    sk_rows = rows[:50_000]
    sklearn_core = _best_rate(
        lambda: est.score_samples(sk_rows), len(sk_rows), repeats=2, clock=time.thread_time
    )
    c50, c99 = _latency_us(lambda: forest.score_samples(one), 2000)
    s50, s99 = _latency_us(lambda: est.score_samples(one), 100)
    a50, a99 = _latency_us(lambda: forest.attributions(one), 2000)

    print(f"forest: {args.trees} trees, {args.features} features, max_samples={args.max_samples}")
    print(f"max |compiled - sklearn| over 20,000 rows: {diff:.3g}")
    print(f"{'':28}{'compiled':>14}{'sklearn':>14}{'ratio':>9}")
    print(
        f"{'rows/s per core':28}{compiled_core:>14,.0f}{sklearn_core:>14,.0f}"
        f"{compiled_core / sklearn_core:>8.1f}x"
    )
    print(f"{'rows/s all cores':28}{compiled_all:>14,.0f}")
    print(f"{'1 row p50 (us)':28}{c50:>14.1f}{s50:>14.1f}{s50 / c50:>8.0f}x")
    print(f"{'1 row p99 (us)':28}{c99:>14.1f}{s99:>14.1f}")
    print(f"{'1 row attributions p50/p99':28}{a50:>8.1f} / {a99:.1f} us")


if __name__ == "__main__":
    main()
