"""Training and batch-scoring figures on generated flows (default: 1M).

Run: .venv/bin/python benchmarks/train_bench.py [--rows 1000000] [--trees 200] [--mlflow]
                                                [--train-only]

Prints, for the default pipeline (network features -> IsolationForest):
- feature fit + transform and detector fit time on the training part (70 %, by time);
- batch scoring throughput of the Scorer (the path evaluation, batch scoring and the
  service share) against sklearn's ``score_samples`` on the same matrix;
- ``predict_frame`` throughput with explanations for alerts only;
- with ``--mlflow``: the end-to-end ``nids.training.train`` wall and process CPU time on
  a throw-away SQLite store (reading, splitting, fitting, calibrating, evaluating,
  logging); ``--train-only`` skips the component figures and times only this.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--trees", type=int, default=200)
    parser.add_argument("--mlflow", action="store_true", help="also time train() end to end")
    parser.add_argument(
        "--train-only", action="store_true", help="only time train() end to end (implies --mlflow)"
    )
    args = parser.parse_args()

    from nids.data.generator import generate_flows

    started = time.perf_counter()
    flows = generate_flows(args.rows, days=7, attack_share=0.02, seed=0)
    print(f"generated {len(flows):,} flows in {time.perf_counter() - started:.1f} s")
    if not args.train_only:
        _components(flows, args.trees)
    if args.mlflow or args.train_only:
        _end_to_end(flows, args.trees)


def _components(flows: Any, trees: int) -> None:
    from nids.model.pipeline import build_pipeline
    from nids.model.scorer import Scorer
    from nids.settings import Settings
    from nids.training.split import temporal_split
    from nids.training.trainer import fit_pipeline

    train, test = temporal_split(flows, 0.3)

    settings = Settings(n_estimators=trees, seed=0)
    pipeline = build_pipeline(settings)
    started = time.perf_counter()
    x_fit = fit_pipeline(pipeline, train)
    fit_s = time.perf_counter() - started
    print(
        f"fit (features + IsolationForest, {trees} trees) on {len(train):,} flows: "
        f"{fit_s:.1f} s ({len(train) / fit_s:,.0f} flows/s)"
    )

    scorer = Scorer(pipeline, 0.0)
    scorer.score(test.head(1000))  # compile/load the numba kernels outside the timing
    started = time.perf_counter()
    x_test = scorer.features(test)
    features_s = time.perf_counter() - started
    started = time.perf_counter()
    scores = scorer.score_features(x_test)
    compiled_s = time.perf_counter() - started
    started = time.perf_counter()
    pipeline.named_steps["detector"].score_samples(x_test)
    sklearn_s = time.perf_counter() - started
    n = len(test)
    print(f"features of {n:,} test flows: {n / features_s:,.0f} flows/s")
    print(
        f"detector scoring: compiled {n / compiled_s:,.0f} flows/s, "
        f"sklearn score_samples {n / sklearn_s:,.0f} flows/s"
    )
    print(f"end-to-end Scorer.score: {n / (features_s + compiled_s):,.0f} flows/s")

    scorer.threshold = float(np.quantile(scores, 0.999))
    started = time.perf_counter()
    out = scorer.predict_frame(test)
    frame_s = time.perf_counter() - started
    print(
        f"predict_frame (explain alerts: {int(out['is_alert'].sum()):,}): "
        f"{n / frame_s:,.0f} flows/s; fit matrix {x_fit.shape}"
    )


def _end_to_end(flows: Any, trees: int) -> None:
    from nids.data import write_flows
    from nids.settings import Settings
    from nids.training import train as run_training

    with tempfile.TemporaryDirectory() as tmp:
        data = str(Path(tmp) / "flows.parquet")
        write_flows(flows, data)
        store = Settings(
            n_estimators=trees,
            mlflow_tracking_uri=f"sqlite:///{tmp}/mlflow.db",
            artifact_root=f"{tmp}/artifacts",
        )
        started, cpu = time.perf_counter(), time.process_time()
        result = run_training(store, data, progress=False)
        total, cpu = time.perf_counter() - started, time.process_time() - cpu
        print(
            f"train() end to end on {len(flows):,} flows: {total:.1f} s wall, {cpu:.1f} s CPU "
            f"(training_time_s {result.metrics['training_time_s']:.1f}, "
            f"logged throughput {result.metrics['throughput_flows_per_s']:,.0f} flows/s)"
        )


if __name__ == "__main__":
    main()
