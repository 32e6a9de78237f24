"""CPU time of the A/B router's scoring call per request, in process (no HTTP).

Run from the repo root: .venv/bin/python benchmarks/ab_route_bench.py [--call frame|single]

Builds an 80/20 experiment (two routed variants, 100 trees, no shadow, no sinks) and
times ``ExperimentRouter.score`` with ``time.thread_time`` (CPU of this thread only,
so other load on the machine barely moves it) for requests of 1 and 100 JSON flows,
each parsed as the service parses it; the median of ``--repeats`` calls. ``--call
frame`` passes the request's canonical DataFrame instead of the FlowBatch (what the
endpoint did before the router took batches), its construction inside the timing;
``--call single`` times the single-model path (``score_request`` with the control).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import orjson

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests" / "integration"), str(REPO / "tests")]  # test helpers

URIS = {"control": "models:/m/1", "candidate": "models:/m/2"}


def _router() -> tuple[Any, Any]:
    from ab_helpers import loader_for

    from nids.abtest.config import ExperimentConfig
    from nids.abtest.router import build_router
    from nids.data.generator import generate_flows
    from nids.model.pipeline import build_pipeline
    from nids.model.scorer import Scorer
    from nids.serving.alerts import AllowList
    from nids.serving.metrics import ServiceMetrics
    from nids.serving.scoring import ScoringContext
    from nids.settings import Settings

    pipeline = build_pipeline(Settings(n_estimators=100, max_samples=256, seed=0))
    pipeline.fit(generate_flows(5000, days=1, attack_share=0.0, seed=1))
    scores = Scorer(pipeline, 0.5).score(generate_flows(5000, days=1, attack_share=0.03, seed=2))
    thresholds = {URIS["control"]: float(np.quantile(scores, 0.97))}
    thresholds[URIS["candidate"]] = float(np.quantile(scores, 0.99))
    config = ExperimentConfig(
        name="bench",
        variants=[
            {"name": "control", "model_uri": URIS["control"], "weight": 0.8},
            {"name": "candidate", "model_uri": URIS["candidate"], "weight": 0.2},
        ],
    )
    settings = Settings(
        model_uri="models:/unused/9", reload_interval_s=0, drift_monitor_interval_s=0
    )
    metrics = ServiceMetrics.create()
    loader = loader_for(pipeline, thresholds, {})
    router = build_router(config, settings, None, metrics=metrics, loader=loader, probe=None)
    for runtime in router.variants.values():
        runtime.holder.load("initial")
    return router, ScoringContext(metrics, AllowList(), None, "ecs")


def main() -> None:
    """Print the median CPU microseconds of ``router.score`` per request size."""
    from nids.data.generator import generate_flows
    from nids.serving.batch import FlowBatch
    from nids.serving.parsing import parse_flows
    from nids.serving.scoring import score_request

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--call", choices=["batch", "frame", "single"], default="batch")
    parser.add_argument("--repeats", type=int, default=300)
    args = parser.parse_args()
    router, ctx = _router()
    control = router.variants["control"].holder.current

    def call(batch: FlowBatch, body: bytes) -> bytes:
        if args.call == "single":
            return score_request(batch, control, ctx)
        flows = batch.frame() if args.call == "frame" else batch
        return bytes(router.score(flows, ctx, body=body, content_type="application/json"))

    flows = generate_flows(2000, days=1, attack_share=0.03, seed=3)
    flows = flows.drop(columns=["label", "attack_type"])
    records = orjson.loads(flows.to_json(orient="records", date_format="iso", date_unit="us"))
    print(f"{'flows':>5} {'median us':>9} {'p90 us':>8}  ({args.call})")
    for size in (1, 100):
        body = orjson.dumps({"flows": records[:size]})
        columns = parse_flows(body, "application/json", max_flows=size).columns
        times = []
        for i in range(args.repeats + 20):
            batch = FlowBatch(dict(columns))  # fresh: no cached frame, as parsed
            t0 = time.thread_time()
            call(batch, body)
            if i >= 20:  # the first calls warm caches and numba paths
                times.append(time.thread_time() - t0)
        p90 = statistics.quantiles(times, n=10)[-1]
        print(f"{size:>5} {1e6 * statistics.median(times):>9.0f} {1e6 * p90:>8.0f}")


if __name__ == "__main__":
    main()
