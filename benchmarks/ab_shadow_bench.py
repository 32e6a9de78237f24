"""Latency cost of a shadow variant on the request path of nids-inference.

Run from the repo root: .venv/bin/python benchmarks/ab_shadow_bench.py

Starts two services on 127.0.0.1, each in its own forked process (own GIL), with the
same 80/20 experiment (models built in the parent, 100 trees): one without and one
with a shadow variant scoring every flow (in the shadow process it spawns, nice 19).
Requests of 1, 100 and 1,000 JSON flows go to the two services alternately (so machine
load hits both alike), one at a time, and the script prints p50/p99 latency per
scenario, the p50 overhead of the shadow, the serving process's CPU time per request
(from /proc, load-independent; the shadow process is not in it) and the shadow's
counters. ``--handoff`` first measures the request path's share alone: the CPU time
of ``ShadowScorer.submit`` (request thread) and of the whole handing-over process
(feeder and monitor threads included) per batch.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests" / "integration"), str(REPO / "tests")]  # test helpers

URIS = ["models:/m/1", "models:/m/2", "models:/m/3"]
SCENARIOS = [(1, 300), (100, 200), (1000, 60)]  # (flows per request, requests per service)


def _cpu_s(pid: int) -> float:
    """User+system CPU seconds of process ``pid`` (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _handoff(pipeline: Any, thresholds: dict[str, float], records: list[dict[str, Any]]) -> None:
    """CPU cost of handing request bodies to a running shadow process, per batch."""
    import orjson
    from ab_helpers import loader_for

    from nids.abtest.metrics import ABMetrics
    from nids.abtest.shadow import ShadowScorer, ShadowTarget
    from nids.serving.metrics import ServiceMetrics
    from nids.settings import Settings

    metrics = ServiceMetrics.create()
    target = ShadowTarget("shadow", 1.0, Settings(model_uri="models:/m/3", reload_interval_s=0))
    shadow = ShadowScorer(
        "bench", [target], service_metrics=metrics, ab_metrics=ABMetrics.create(metrics.registry),
        loader=loader_for(pipeline, thresholds, {}), probe=None, queue_size=64,
    )  # fmt: skip
    shadow.start()
    shadow.wait_ready(300)
    threads = {t.name: t for t in threading.enumerate()}
    monitor = time.pthread_getcpuclockid(threads["nids-ab-shadow"].ident or 0)
    print(
        f"{'flows/batch':>11} {'body KiB':>8} {'submit us':>9} {'feeder us':>9} {'monitor us':>10}"
    )
    for size in (1, 100, 1000):
        body = orjson.dumps({"flows": records[:size]})
        n = 300 if size < 1000 else 60
        shadow.submit(body, "application/json", size)  # starts the queue's feeder thread
        shadow.flush(120)
        feeder = next(t for t in threading.enumerate() if t.name == "QueueFeederThread")
        feeder_clock = time.pthread_getcpuclockid(feeder.ident or 0)
        f0, m0, submit = time.clock_gettime(feeder_clock), time.clock_gettime(monitor), 0.0
        for _ in range(n):
            t0 = time.thread_time()
            shadow.submit(body, "application/json", size)
            submit += time.thread_time() - t0
            shadow.flush(120)  # one at a time, like the service's requests
        feeder_s = time.clock_gettime(feeder_clock) - f0
        monitor_s = time.clock_gettime(monitor) - m0
        print(
            f"{size:>11} {len(body) / 1024:>8.1f} {1e6 * submit / n:>9.1f}"
            f" {1e6 * feeder_s / n:>9.1f} {1e6 * monitor_s / n:>10.1f}"
        )
    print(f"handoff shadow counters: {shadow.snapshot()}")
    shadow.close()


def _models(trees: int) -> tuple[Any, dict[str, float]]:
    """The pipeline and per-URI thresholds (deterministic: every process builds the same)."""
    from nids.data.generator import generate_flows
    from nids.model.pipeline import build_pipeline
    from nids.model.scorer import Scorer
    from nids.settings import Settings

    pipeline = build_pipeline(Settings(n_estimators=trees, max_samples=256, seed=0))
    pipeline.fit(generate_flows(5000, days=1, attack_share=0.0, seed=1))
    scores = Scorer(pipeline, 0.5).score(generate_flows(20_000, days=1, attack_share=0.03, seed=2))
    quantiles = dict(zip(URIS, (0.97, 0.99, 0.9), strict=True))
    return pipeline, {u: float(np.quantile(scores, q)) for u, q in quantiles.items()}


@contextmanager
def _forked_service(experiment: Path, trees: int, port: int) -> Iterator[tuple[str, int]]:
    """Serve an experiment from a forked child process; yield its URL and pid once ready.

    The child builds the models itself: forking after the parent used OpenMP (the
    forest's threads) is unsafe, so the parent forks before it scores anything.
    """
    ctx = multiprocessing.get_context("fork")
    # not a daemon: the service spawns its shadow process (terminated in the finally below)
    child = ctx.Process(target=_serve_forever, args=(experiment, trees, port))
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
        yield url, int(child.pid or 0)
    finally:
        child.terminate()
        child.join(10)


def _serve_forever(experiment: Path, trees: int, port: int) -> None:
    from ab_helpers import loader_for
    from service_helpers import running_service

    from nids.serving.app import create_app
    from nids.settings import Settings

    # SIGTERM -> SystemExit: the app's lifespan shutdown runs (it stops the shadow process)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    pipeline, thresholds = _models(trees)
    settings = Settings(
        ab_config=experiment, model_uri="models:/x/9", reload_interval_s=0, alert_sink="none",
        prediction_log_dir=None, feedback_db_url=f"sqlite:///{experiment.with_suffix('.db')}",
    )  # fmt: skip
    app = create_app(settings, model_loader=loader_for(pipeline, thresholds, {}))
    with running_service(app, port):
        while True:
            time.sleep(3600)


def main() -> None:
    """Run the scenarios and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trees", type=int, default=100)
    parser.add_argument("--scale", type=float, default=1.0, help="Multiply request counts.")
    parser.add_argument("--handoff", action="store_true", help="Also measure submit() alone.")
    args = parser.parse_args()

    from ab_helpers import write_experiment
    from rich.progress import track
    from service_helpers import free_port, json_flows

    from nids.data.generator import generate_flows

    records = json_flows(generate_flows(20_000, days=1, attack_share=0.03, seed=2))
    variants = [
        {"name": "control", "model_uri": URIS[0], "weight": 0.8},
        {"name": "candidate", "model_uri": URIS[1], "weight": 0.2},
    ]
    shadow = {"name": "shadow", "model_uri": URIS[2], "shadow": True}
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        urls, pids = {}, {}
        for name, extra in (("no shadow", []), ("shadow", [shadow])):
            path = write_experiment(
                Path(tmp) / f"{len(extra)}.yaml", {"name": "bench", "variants": variants + extra}
            )
            urls[name], pids[name] = stack.enter_context(
                _forked_service(path, args.trees, free_port())
            )
        if args.handoff:  # after the forks: it scores (OpenMP) in this process
            _handoff(*_models(args.trees), records)
        client = stack.enter_context(httpx.Client(timeout=120))
        _wait_for_shadow(client, urls["shadow"], lambda s: s["alive"] and s["scored"] >= 0)
        while not all(
            v["model_version"]
            for v in client.get(f"{urls['shadow']}/v1/experiment").json()["variants"]
        ):
            time.sleep(0.5)  # the shadow process has loaded its model
        rng = np.random.default_rng(0)
        print(f"load average before: {os.getloadavg()}")
        header = (
            f"{'flows/req':>9} {'service':>10} {'p50 ms':>8} {'p99 ms':>8} {'p50 overhead':>13}"
        )
        print(f"{header} {'CPU ms/req':>10}")
        for size, base_count in SCENARIOS:
            count = max(10, int(base_count * args.scale))
            times: dict[str, list[float]] = {name: [] for name in urls}
            cpu0 = {name: _cpu_s(pid) for name, pid in pids.items()}
            for i in track(range(count), description=f"{size} flows/request", transient=True):
                start = int(rng.integers(0, len(records) - size))
                body = {"flows": records[start : start + size]}
                order = list(urls) if i % 2 == 0 else list(urls)[::-1]
                for name in order:
                    t0 = time.perf_counter()
                    answer = client.post(f"{urls[name]}/v1/score", json=body)
                    times[name].append(time.perf_counter() - t0)
                    answer.raise_for_status()
            cpu = {n: 1000 * (_cpu_s(pid) - cpu0[n]) / count for n, pid in pids.items()}
            p50 = {n: float(np.median(t)) * 1000 for n, t in times.items()}
            for name, t in times.items():
                overhead = (
                    f"{100 * (p50[name] / p50['no shadow'] - 1):+.1f}%" if name == "shadow" else ""
                )
                p99 = np.quantile(t, 0.99) * 1000
                print(
                    f"{size:>9} {name:>10} {p50[name]:>8.2f} {p99:>8.2f} {overhead:>13} {cpu[name]:>10.2f}"
                )
        print(f"load average after: {os.getloadavg()}")
        shadow = _wait_for_shadow(client, urls["shadow"], lambda s: s["queued_flows"] == 0)
        print(f"shadow flows: {shadow}")


def _wait_for_shadow(client: Any, url: str, done: Any, timeout: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        shadow: dict[str, Any] = client.get(f"{url}/v1/experiment").json()["shadow"]
        if done(shadow) or time.monotonic() > deadline:
            return shadow
        time.sleep(0.5)


if __name__ == "__main__":
    main()
