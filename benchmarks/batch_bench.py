"""Batch scoring throughput, end to end (read, features, score, explain alerts, write).

Generates the archive once (``--flows`` split into ``--files`` daily parquet files with
`nids generate`'s generator), fits a model with the default settings on a 200k-flow
sample of the first day, then times ``score_local`` and ``score_spark`` (local[N]) over
the whole archive. Prints flows/s, flows/s per core (total / cores of the machine: the
local engine uses both, see nids.batch.pipeline), the local engine's flows per
CPU-second (all its threads; load-independent) and Spark's overhead per flow.

    .venv/bin/python benchmarks/batch_bench.py --flows 10000000 --files 10 \
        --data-dir /tmp/nids-batch-bench/flows --out /tmp/nids-batch-bench/out
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np


def ensure_archive(data_dir: Path, flows: int, files: int) -> str:
    """Generate ``files`` consecutive days of ``flows / files`` flows each (kept if present)."""
    from nids.data import write_flows
    from nids.data.generator import generate_flows

    data_dir.mkdir(parents=True, exist_ok=True)
    start = datetime(2025, 11, 3, tzinfo=UTC)
    for i in range(files):
        day = start + timedelta(days=i)
        path = data_dir / f"{day:%Y-%m-%d}.parquet"
        if not path.exists():
            frame = generate_flows(
                flows // files, days=1.0, start=day, seed=100 + i, attack_share=0.03
            )
            write_flows(frame, path)
    return str(data_dir / "*.parquet")


def fit_model(source: str) -> tuple[object, object]:
    """A default-settings model fitted on a sample of the first file; (scorer, tag)."""
    from nids.batch.frames import ModelTag
    from nids.data import read_flows
    from nids.data.readers.sources import expand
    from nids.model.pipeline import build_pipeline
    from nids.model.scorer import Scorer
    from nids.settings import Settings
    from nids.training.trainer import fit_pipeline

    first = read_flows(expand(source)[0].name)
    fit = first.iloc[np.sort(np.random.default_rng(0).choice(len(first), 200_000, replace=False))]
    pipeline = build_pipeline(Settings())
    fit_pipeline(pipeline, fit)
    threshold = float(np.quantile(Scorer(pipeline, 0.0).score(fit), 0.999))
    scorer = Scorer(pipeline, threshold)
    return scorer, ModelTag("bench", "nids-isoforest", "bench", None, threshold)


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--flows", type=int, default=10_000_000)
    parser.add_argument("--files", type=int, default=10)
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/nids-batch-bench/flows"))
    parser.add_argument("--out", type=Path, default=Path("/tmp/nids-batch-bench/out"))
    parser.add_argument("--engines", default="local,spark")
    parser.add_argument("--spark-master", default="local[2]")
    parser.add_argument("--stages", action="store_true", help="also print CPU seconds per stage")
    args = parser.parse_args()

    from nids.batch.local import score_local
    from nids.batch.session import spark_session
    from nids.batch.spark import score_spark
    from nids.settings import Settings

    cores = len(os.sched_getaffinity(0))
    print(f"machine: {cores} cores, load average {os.getloadavg()[0]:.1f} at start")
    source = ensure_archive(args.data_dir, args.flows, args.files)
    scorer, tag = fit_model(source)
    scorer.score(read_small(source))  # compile numba kernels outside the timings
    if args.stages:
        stage_cpu(scorer, tag, source, args.out / "stages")
    figures: dict[str, float] = {}
    for engine in filter(None, args.engines.split(",")):  # --engines "": stages only
        out = args.out / engine
        shutil.rmtree(out, ignore_errors=True)
        started = time.perf_counter()
        cpu_started = time.process_time()
        if engine == "local":
            summary = score_local(scorer, tag, source, str(out))
            # All threads of this process (reader, scorer, parallel forest, writer):
            # unlike wall time, not inflated by other jobs on a shared machine.
            cpu = time.process_time() - cpu_started
            print(f"local: {cpu:.1f} CPU-s = {summary.rows / cpu:,.0f} flows per CPU-second")
        else:
            spark = spark_session(Settings(spark_master=args.spark_master))
            session_s = time.perf_counter() - started
            print(f"spark session start: {session_s:.1f} s")
            summary = score_spark(spark, scorer, tag, source, str(out))
        wall = time.perf_counter() - started
        figures[engine] = wall
        rate = summary.rows / wall
        print(
            f"{engine}: {summary.rows:,} flows in {wall:.1f} s = {rate:,.0f} flows/s "
            f"({rate / cores:,.0f} per core), {summary.alerts:,} alerts"
        )
    if "local" in figures and "spark" in figures:
        rows = summary.rows
        extra_us = (figures["spark"] - figures["local"]) / rows * 1e6
        print(f"spark overhead vs local: {extra_us:.2f} µs per flow (wall, same cores)")
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


def stage_cpu(scorer: Any, tag: Any, source: str, out: Path, batches: int = 2) -> None:
    """CPU seconds per 1M flows of each stage over the first reader batches, one stage
    at a time (process CPU time: pyarrow's own threads count; the forest kernel is
    forced serial): what each stage costs."""
    from nids.batch.frames import score_chunk
    from nids.batch.local import identified_batches
    from nids.batch.options import BatchOptions
    from nids.batch.writer import PartitionedWriter
    from nids.data.readers import ReadReport
    from nids.model import fastforest

    parallel_min, fastforest.PARALLEL_MIN_ROWS = fastforest.PARALLEL_MIN_ROWS, 1 << 62
    shutil.rmtree(out, ignore_errors=True)
    writer = PartitionedWriter(str(out))
    cpu: dict[str, float] = {}
    rows = 0
    batch_iter = identified_batches(source, ReadReport(), BatchOptions())
    try:
        for _ in range(batches):
            mark = time.process_time()

            def lap(stage: str) -> None:
                nonlocal mark
                now = time.process_time()
                cpu[stage] = cpu.get(stage, 0.0) + now - mark
                mark = now

            flows = next(batch_iter)
            lap("read + validate (pandas)")
            x = scorer.features(flows, state=scorer.features_step.new_state())
            lap("features (incl. host context)")
            scorer.score_features(x)
            lap("forest")
            table = score_chunk(
                scorer, flows, state=scorer.features_step.new_state(), model=tag, explain="alerts"
            )
            lap("score_chunk (features + forest + explain + Arrow)")
            writer.write(table)
            lap("write partitioned parquet")
            rows += len(flows)
    finally:
        writer.abort()
        fastforest.PARALLEL_MIN_ROWS = parallel_min
    for stage, seconds in cpu.items():
        print(f"  {stage:52} {seconds / rows * 1e6:5.2f} CPU-s per 1M flows")
    end_to_end = sum(v for k, v in cpu.items() if not k.startswith(("features", "forest")))
    print(f"  {'end to end on one core':52} {end_to_end / rows * 1e6:5.2f} CPU-s per 1M flows")


def read_small(source: str) -> object:
    """A few thousand flows of the archive (for warming up the compiled kernels)."""
    from nids.data import iter_flow_batches

    return next(iter(iter_flow_batches(source, batch_rows=5000))).iloc[:5000]


if __name__ == "__main__":
    main()
