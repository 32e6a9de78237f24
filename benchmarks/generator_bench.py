"""Synthetic traffic generator throughput: time per stage and flows/s for N flows.

Run: .venv/bin/python benchmarks/generator_bench.py [--flows 1000000] [--repeat 3] [--drift NAME]

Prints the best wall-clock time of each stage over the repeats, the total, flows/s,
and the time to write the frame with nids.data.write_flows (no assertions: figures
for docs/generator.md).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from nids.data import write_flows
from nids.data.generator import generate_flows


def run_once(flows: int, drift: str | None) -> tuple[dict[str, float], float]:
    """Generate once; seconds per stage and to write parquet."""
    marks: list[tuple[str, float]] = []
    began = time.perf_counter()
    df = generate_flows(
        flows, days=7, attack_share=0.05, seed=1, drift=drift,
        progress=lambda stage: marks.append((stage, time.perf_counter())),
    )  # fmt: skip
    marks.append(("end", time.perf_counter()))
    stages = {name: marks[i + 1][1] - t for i, (name, t) in enumerate(marks[:-1])}
    stages["total"] = marks[-1][1] - began
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        write_flows(df, str(Path(tmp) / "flows.parquet"))
        write_s = time.perf_counter() - t0
    return stages, write_s


def main() -> None:
    """Parse arguments, run the repeats, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--flows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--drift", default=None)
    args = parser.parse_args()
    best: dict[str, float] = {}
    best_write = float("inf")
    for _ in range(args.repeat):
        stages, write_s = run_once(args.flows, args.drift)
        for name, seconds in stages.items():
            best[name] = min(best.get(name, float("inf")), seconds)
        best_write = min(best_write, write_s)
    print(
        f"generator: {args.flows:,} flows, drift={args.drift}, cpus={os.cpu_count()}, best of {args.repeat}"
    )
    for name, seconds in best.items():
        print(f"  {name:<26} {seconds:7.2f} s")
    print(f"  {'write parquet':<26} {best_write:7.2f} s")
    print(f"throughput: {args.flows / best['total']:,.0f} flows/s (generation, in memory)")


if __name__ == "__main__":
    main()
