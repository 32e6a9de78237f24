"""Latency cost of a shadow variant on the request path of nids-inference.

Run from the repo root: .venv/bin/python benchmarks/ab_shadow_bench.py

Starts two services on 127.0.0.1, each in its own forked process (own GIL), with the
same 80/20 experiment (models built in the parent, 100 trees): one without and one
with a shadow variant scoring every flow. Requests of
1, 100 and 1,000 JSON flows go to the two services alternately (so machine load hits
both alike), one at a time, and the script prints p50/p99 latency per scenario, the
p50 overhead of the shadow and the shadow's scored/dropped flow counts.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests" / "integration"), str(REPO / "tests")]  # test helpers

SCENARIOS = [(1, 300), (100, 200), (1000, 60)]  # (flows per request, requests per service)


@contextmanager
def _forked_service(app: Any, running_service: Any, port: int) -> Iterator[str]:
    """Serve ``app`` from a forked child process; yield its URL once ready."""
    ctx = multiprocessing.get_context("fork")
    child = ctx.Process(target=_serve_forever, args=(app, running_service, port), daemon=True)
    child.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    try:
        yield url
    finally:
        child.terminate()
        child.join(10)


def _serve_forever(app: Any, running_service: Any, port: int) -> None:
    with running_service(app, port):
        while True:
            time.sleep(3600)


def main() -> None:
    """Run the scenarios and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trees", type=int, default=100)
    parser.add_argument("--scale", type=float, default=1.0, help="Multiply request counts.")
    args = parser.parse_args()

    from ab_helpers import loader_for, write_experiment
    from rich.progress import track
    from service_helpers import free_port, json_flows, running_service

    from nids.data.generator import generate_flows
    from nids.model.pipeline import build_pipeline
    from nids.model.scorer import Scorer
    from nids.serving.app import create_app
    from nids.settings import Settings

    pipeline = build_pipeline(Settings(n_estimators=args.trees, max_samples=256, seed=0))
    pipeline.fit(generate_flows(5000, days=1, attack_share=0.0, seed=1))
    flows = generate_flows(20_000, days=1, attack_share=0.03, seed=2)
    scores = Scorer(pipeline, 0.5).score(flows)
    uris = ["models:/m/1", "models:/m/2", "models:/m/3"]
    thresholds = {
        u: float(np.quantile(scores, q)) for u, q in zip(uris, (0.97, 0.99, 0.9), strict=True)
    }
    records = json_flows(flows)
    variants = [
        {"name": "control", "model_uri": uris[0], "weight": 0.8},
        {"name": "candidate", "model_uri": uris[1], "weight": 0.2},
    ]
    shadow = {"name": "shadow", "model_uri": uris[2], "shadow": True}
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        urls = {}
        for name, extra in (("no shadow", []), ("shadow", [shadow])):
            path = write_experiment(
                Path(tmp) / f"{len(extra)}.yaml", {"name": "bench", "variants": variants + extra}
            )
            settings = Settings(
                ab_config=path, model_uri="models:/x/9", reload_interval_s=0, alert_sink="none",
                prediction_log_dir=None, feedback_db_url=f"sqlite:///{tmp}/{len(extra)}.db",
            )  # fmt: skip
            app = create_app(settings, model_loader=loader_for(pipeline, thresholds, {}))
            urls[name] = stack.enter_context(_forked_service(app, running_service, free_port()))
        client = stack.enter_context(httpx.Client(timeout=120))
        rng = np.random.default_rng(0)
        print(f"{'flows/req':>9} {'service':>10} {'p50 ms':>8} {'p99 ms':>8} {'p50 overhead':>13}")
        for size, base_count in SCENARIOS:
            count = max(10, int(base_count * args.scale))
            times: dict[str, list[float]] = {name: [] for name in urls}
            for i in track(range(count), description=f"{size} flows/request", transient=True):
                start = int(rng.integers(0, len(records) - size))
                body = {"flows": records[start : start + size]}
                order = list(urls) if i % 2 == 0 else list(urls)[::-1]
                for name in order:
                    t0 = time.perf_counter()
                    answer = client.post(f"{urls[name]}/v1/score", json=body)
                    times[name].append(time.perf_counter() - t0)
                    answer.raise_for_status()
            p50 = {n: float(np.median(t)) * 1000 for n, t in times.items()}
            for name, t in times.items():
                overhead = (
                    f"{100 * (p50[name] / p50['no shadow'] - 1):+.1f}%" if name == "shadow" else ""
                )
                print(
                    f"{size:>9} {name:>10} {p50[name]:>8.2f} {np.quantile(t, 0.99) * 1000:>8.2f} {overhead:>13}"
                )
        time.sleep(2)  # let the shadow drain its queue
        shadow_url = urls["shadow"]
        print(f"shadow flows: {client.get(f'{shadow_url}/v1/experiment').json()['shadow']}")


if __name__ == "__main__":
    main()
