"""nids-inference vs `mlflow models serve` on the same registered model, same load.

Run from the repo root: PATH=.venv/bin:$PATH .venv/bin/python benchmarks/serve_bench.py

Registers a model (100 trees) in a temporary SQLite registry, starts both servers on
127.0.0.1, drives each with single-flow and 1,000-flow requests at concurrency 1, 8
and 16 (bounded by a request count and a time budget per scenario) and prints p50/p99
latency, requests/s and flows/s for each, and the ratios. The load generator runs on
the same (2-core) machine, so absolute figures are pessimistic; the ratios count.
Our service runs with its default outputs (a 10 % sampled prediction log, ECS alerts
on stdout); ``--lean`` turns both off. ``--floor`` adds a third server, a bare ASGI
app that only reads, decodes and answers (``serve_floor.py``): the lowest latency any
Python service can reach here, hence the highest ratio against MLflow it could show.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests" / "integration"), str(REPO / "tests")]  # test helpers

SCENARIOS = [  # (name, flows per request, concurrency, max requests, our body format)
    ("1 flow, c=1", 1, 1, 400, "json"),
    ("1 flow, c=8", 1, 8, 1600, "json"),
    ("1 flow, c=16", 1, 16, 3200, "json"),
    ("1000 flows, c=1", 1000, 1, 60, "json"),
    ("1000 flows, c=8", 1000, 8, 120, "json"),
    # Bulk clients may send Arrow IPC (MLflow's server takes JSON or CSV only: it gets
    # the same flows as JSON). Reported separately; the JSON rows compare like for like.
    ("1000 flows, c=1, Arrow", 1000, 1, 60, "arrow"),
]
ARROW_STREAM = "application/vnd.apache.arrow.stream"


@dataclass
class Result:
    """Latencies of one scenario against one server."""

    latencies: list[float]
    wall_s: float
    errors: int
    flows_per_request: int

    def row(self) -> tuple[float, float, float, float]:
        """p50 ms, p99 ms, requests/s, flows/s."""
        lat = np.asarray(self.latencies) * 1e3
        rps = len(self.latencies) / self.wall_s
        return (
            float(np.percentile(lat, 50)),
            float(np.percentile(lat, 99)),
            rps,
            rps * self.flows_per_request,
        )


def _drive(
    url: str,
    body: bytes,
    headers: dict[str, str],
    concurrency: int,
    total: int,
    budget_s: float,
    flows: int,
) -> Result:
    """``concurrency`` keep-alive connections posting ``body`` until ``total`` or the budget.

    The load generator is the standard library's http.client with keep-alive (~0.2 ms
    of CPU a request here), so on a 2-core machine it leaves the servers about a core.
    """
    parsed = urlsplit(url)
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    counter = [0]
    deadline = time.monotonic() + budget_s

    def worker() -> None:
        conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=120)
        try:
            while True:
                with lock:
                    if counter[0] >= total or time.monotonic() > deadline:
                        return
                    counter[0] += 1
                start = time.perf_counter()
                conn.request("POST", parsed.path, body, headers)
                response = conn.getresponse()
                response.read()
                elapsed = time.perf_counter() - start
                with lock:
                    latencies.append(elapsed)
                    if response.status != 200:
                        errors[0] += 1
        finally:
            conn.close()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return Result(latencies, time.perf_counter() - start, errors[0], flows)


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used so far by ``pid`` and its live descendants."""
    tick = os.sysconf("SC_CLK_TCK")
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return total


def _wait(url: str, timeout: float = 900) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} never became ready")


def _setup(root: Path, n_trees: int) -> tuple[Any, list[dict[str, Any]], Any]:
    from service_helpers import json_flows, register_version, registry_settings, set_alias

    from nids.data.generator import generate_flows
    from nids.model.pipeline import build_pipeline
    from nids.model.scorer import Scorer

    settings = registry_settings(root, n_estimators=n_trees, max_samples=256)
    flows = generate_flows(20_000, days=2, attack_share=0.02, seed=11)
    pipeline = build_pipeline(settings)
    pipeline.fit(flows)
    threshold = float(np.quantile(Scorer(pipeline, 0.5).score(flows), 0.99))
    example = flows[flows["tcp_flags"].notna()].head(5)
    version = register_version(settings, pipeline, threshold, example)
    set_alias(settings, version)
    # Flows with TCP flags: MLflow cannot take nulls in an integer column (its own schema
    # enforcement), and both servers must receive the same requests.
    return settings, json_flows(flows[flows["tcp_flags"].notna()].tail(1000)), version


def main() -> None:
    """Start both servers, run every scenario against each, print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trees", type=int, default=100)
    parser.add_argument("--budget-s", type=float, default=15.0, help="per scenario and server")
    parser.add_argument(
        "--cpu-only",
        action="store_true",
        help="only the in-process CPU-time breakdown of one request (no servers)",
    )
    parser.add_argument("--only", choices=["ours", "mlflow"], help="drive one server (no ratios)")
    parser.add_argument(
        "--lean",
        action="store_true",
        help="no prediction log and no alert sink (default: the service's defaults, "
        "a 10%% sampled prediction log and ECS alerts on stdout)",
    )
    parser.add_argument(
        "--floor",
        action="store_true",
        help="also drive a bare ASGI app under the same uvicorn that only reads, decodes "
        "and answers (serve_floor.py): the floor for any Python service here",
    )
    args = parser.parse_args()
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="nids-serve-bench-") as tmp:
        root = Path(tmp)
        print("registering a model ...", flush=True)
        settings, flows, version = _setup(root, args.trees)
        _cpu_breakdown(settings, flows)
        if args.cpu_only:
            return
        env.update(
            MLFLOW_TRACKING_URI=settings.mlflow_tracking_uri,
            NIDS_ALERT_SINK="none" if args.lean else "stdout",
            NIDS_PREDICTION_LOG_DIR="" if args.lean else str(root / "prediction-log"),
            NIDS_FEEDBACK_DB_URL=settings.feedback_db_url,
            NIDS_RELOAD_INTERVAL_S="0",
        )
        ours_port, mlflow_port, floor_port = 18181, 18182, 18183
        mlflow_cmd = [
            str(bin_dir / "mlflow"),
            "models",
            "serve",
            "-m",
            f"models:/nids-isoforest/{version}",
            "--env-manager",
            "local",
            "-h",
            "127.0.0.1",
            "-p",
            str(mlflow_port),
            "--workers",
            "1",
        ]
        commands = {
            "ours": [str(bin_dir / "nids"), "serve", "--port", str(ours_port)],
            "mlflow": mlflow_cmd,
        }
        if args.floor:
            commands["floor"] = [
                *(str(bin_dir / "uvicorn"), "--app-dir", str(REPO / "benchmarks")),
                *("serve_floor:app", "--host", "127.0.0.1", "--port", str(floor_port)),
                *("--no-access-log", "--log-level", "warning"),
            ]
        pids: dict[str, int] = {}
        try:
            for server, command in commands.items():
                if args.only not in (None, server) and server != "floor":
                    continue
                proc = subprocess.Popen(
                    command,
                    env=env,
                    cwd=tmp,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                procs.append(proc)
                pids[server] = proc.pid
            if "ours" in pids:
                _wait(f"http://127.0.0.1:{ours_port}/readyz")
            if "mlflow" in pids:
                _wait(f"http://127.0.0.1:{mlflow_port}/ping")
            if "floor" in pids:
                _wait(f"http://127.0.0.1:{floor_port}/")
            print(f"load before: {_load()}")
            ports = {"ours": ours_port, "mlflow": mlflow_port, "floor": floor_port}
            _run(ports, flows, args.budget_s, pids)
            print(f"load after: {_load()}")
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(30)


def _load() -> str:
    return "load average " + " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _cpu_breakdown(settings: Any, flows: list[dict[str, Any]]) -> None:
    """CPU time (thread time, immune to other processes' load) per stage of one request."""
    import orjson

    from nids.registry import load_model
    from nids.serving.alerts import AllowList
    from nids.serving.holder import build_served_model
    from nids.serving.metrics import ServiceMetrics
    from nids.serving.scoring import ScoringContext

    served = build_served_model(load_model("models:/nids-isoforest@production", settings))
    ctx = ScoringContext(ServiceMetrics.create(), AllowList(), None, "ecs")
    print("\nCPU ms per request, in process (median of repeats; thread time)")
    print(
        f"{'flows':>10}{'parse':>9}{'features':>10}{'forest':>9}{'explain+frame':>15}{'whole':>9}"
    )
    for n, repeats, fmt in ((1, 300, "json"), (1000, 20, "json"), (1000, 20, "arrow")):
        body = orjson.dumps({"flows": flows[:n]})
        kind = ARROW_STREAM if fmt == "arrow" else None
        cpu = _cpu_stages(_arrow_body(body) if kind else body, kind, served, ctx, repeats)
        rest = cpu["predict"] - cpu["features"] - cpu["forest"]
        label = f"{n} {fmt}"
        print(
            f"{label:>10}{cpu['parse']:9.2f}{cpu['features']:10.2f}{cpu['forest']:9.3f}"
            f"{rest:15.2f}{cpu['whole']:9.2f}"
        )
    print()


def _cpu_stages(
    body: bytes, kind: str | None, served: Any, ctx: Any, repeats: int
) -> dict[str, float]:
    from nids.serving.parsing import parse_flows
    from nids.serving.scoring import score_request

    scorer = served.scorer
    columns = parse_flows(body, kind, max_flows=10_000).columns
    x = scorer.features(columns)
    stages = {
        "parse": lambda: parse_flows(body, kind, max_flows=10_000),
        "features": lambda: scorer.features(columns, state=served.context),
        "forest": lambda: scorer.score_features(x),
        "predict": lambda: scorer.predict(columns, state=served.context),
        "whole": lambda: score_request(parse_flows(body, kind, max_flows=10_000), served, ctx),
    }
    cpu = {}
    for name, fn in stages.items():
        fn()
        samples = []
        for _ in range(repeats):
            start = time.thread_time()
            fn()
            samples.append((time.thread_time() - start) * 1e3)
        cpu[name] = float(np.median(samples))
    return cpu


def _arrow_body(body: bytes) -> bytes:
    """The flows of a JSON request body as an Arrow IPC stream (canonical types)."""
    import pyarrow as pa

    from nids.data.io import to_table
    from nids.serving.parsing import parse_body

    table = to_table(parse_body(body, None, max_flows=10_000))
    table = table.drop_columns(["label", "attack_type"])
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue())


def _bodies(flows: list[dict[str, Any]], n: int, fmt: str = "json") -> tuple[bytes, bytes]:
    import orjson

    batch = flows[:n]
    ours = orjson.dumps({"flows": batch})
    if fmt == "arrow":
        ours = _arrow_body(ours)
    columns = list(batch[0])
    # MLflow's datetime schema type wants naive timestamps (the model reads them as UTC).
    rows = [[r[c].removesuffix("Z") if c == "ts" else r[c] for c in columns] for r in batch]
    theirs = json.dumps({"dataframe_split": {"columns": columns, "data": rows}}).encode()
    return ours, theirs


def _run(
    ports: dict[str, int],
    flows: list[dict[str, Any]],
    budget: float,
    pids: dict[str, int],
) -> None:
    json_headers = {"content-type": "application/json"}
    paths = {"ours": "/v1/score", "mlflow": "/invocations", "floor": "/v1/score"}
    urls = {name: f"http://127.0.0.1:{ports[name]}{paths[name]}" for name in pids}
    for server, url in urls.items():
        body = _bodies(flows, 1)[1 if server == "mlflow" else 0]
        check = httpx.post(url, content=body, headers=json_headers, timeout=120)
        check.raise_for_status()  # every server answers before anything is timed
    header = (
        f"{'scenario':24}{'server':8}{'p50 ms':>9}{'p99 ms':>9}{'req/s':>9}{'flows/s':>10}"
        f"{'errors':>7}{'CPU ms/req':>11}"
    )
    print(header)
    table: dict[str, dict[str, tuple[float, float, float, float]]] = {}
    for name, n, concurrency, total, fmt in SCENARIOS:
        ours_body, mlflow_body = _bodies(flows, n, fmt)
        ours_headers = {"content-type": ARROW_STREAM} if fmt == "arrow" else json_headers
        rows = table.setdefault(name, {})
        for server, url in urls.items():
            # MLflow's server reads JSON or CSV only: it gets the flows as JSON.
            body, headers = (
                (mlflow_body, json_headers) if server == "mlflow" else (ours_body, ours_headers)
            )
            # Warm up: every worker's first requests (connections, caches) are not timed.
            _drive(url, body, headers, concurrency, concurrency * 3, budget, n)
            cpu_before = _cpu_s(pids[server])
            result = _drive(url, body, headers, concurrency, total, budget, n)
            # Server CPU per request (its whole process tree): unlike wall-clock figures,
            # hardly affected by other jobs on the machine.
            cpu_ms = (_cpu_s(pids[server]) - cpu_before) * 1e3 / max(len(result.latencies), 1)
            rows[server] = result.row()
            p50, p99, rps, fps = rows[server]
            print(
                f"{name:24}{server:8}{p50:9.2f}{p99:9.2f}{rps:9.0f}{fps:10.0f}"
                f"{result.errors:7d}{cpu_ms:11.3f}",
                flush=True,
            )
    _print_ratios(table)


def _print_ratios(table: dict[str, dict[str, tuple[float, float, float, float]]]) -> None:
    if all({"ours", "mlflow"} <= set(rows) for rows in table.values()):
        print("\nratios (mlflow / ours): p50 latency, requests/s (ours / mlflow)")
        for name, rows in table.items():
            latency_ratio = rows["mlflow"][0] / rows["ours"][0]
            rps_ratio = rows["ours"][2] / rows["mlflow"][2]
            print(f"  {name:24} p50 {latency_ratio:6.1f}x lower   req/s {rps_ratio:6.1f}x higher")
    if not all("floor" in rows for rows in table.values()):
        return
    print("\nfloor (a bare ASGI app: read, decode, answer; see serve_floor.py)")
    for name, rows in table.items():
        line = f"  {name:24} floor p50 {rows['floor'][0]:6.2f} ms"
        if "ours" in rows:
            line += f"   ours above it {rows['ours'][0] - rows['floor'][0]:6.2f} ms"
        if "mlflow" in rows:
            line += f"   mlflow / floor {rows['mlflow'][0] / rows['floor'][0]:6.1f}x (the most any"
            line += " Python service could show here)"
        print(line)


if __name__ == "__main__":
    main()
