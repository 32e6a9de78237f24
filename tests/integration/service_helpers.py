"""Helpers for service integration tests: a real registry, uvicorn in a thread, a webhook."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pandas as pd

from nids.settings import Settings
from support import free_port

MODEL = "nids-isoforest"


def registry_settings(root: Path, **overrides: Any) -> Settings:
    """Settings on an embedded SQLite registry under ``root`` (absolute paths)."""
    values: dict[str, Any] = {
        "mlflow_tracking_uri": f"sqlite:///{(root / 'mlflow.db').resolve()}",
        "artifact_root": str((root / "artifacts").resolve()),
        "n_estimators": 25,
        "max_samples": 128,
        "seed": 0,
        "prediction_log_dir": None,
        "feedback_db_url": f"sqlite:///{(root / 'feedback.db').resolve()}",
    }
    return Settings(**{**values, **overrides})


def register_version(settings: Settings, pipeline: Any, threshold: float, example: Any) -> int:
    """Log ``pipeline`` as a NIDS pyfunc in a new run and register it; return the version."""
    import mlflow

    from nids.features import FEATURE_SET_VERSION
    from nids.model.pyfunc import log_nids_model
    from nids.registry import register_model_version
    from nids.registry.store import ensure_experiment

    with mlflow.start_run(experiment_id=ensure_experiment(settings)) as run:
        log_nids_model(
            pipeline,
            threshold,
            input_example=example,
            reference_profile=None,
            home_networks=settings.home_networks,
            feature_set_version=FEATURE_SET_VERSION,
            detector="isoforest",
        )
    return register_model_version(settings, run.info.run_id).version


def set_alias(settings: Settings, version: int, alias: str = "production") -> None:
    """Move a registry alias (what `nids models promote` does after its gate)."""
    from nids.registry.store import configure_mlflow

    configure_mlflow(settings).set_registered_model_alias(MODEL, alias, str(version))


def tamper(settings: Settings, version: int) -> Path:
    """Change one byte of a registered version's model_config.json; return the file."""
    from nids.registry.store import configure_mlflow

    source = configure_mlflow(settings).get_model_version(MODEL, str(version)).source
    model_id = source.rsplit("/", 1)[-1]
    path = next(Path(settings.artifact_root).rglob(f"{model_id}/**/model_config.json"))
    path.write_text(path.read_text() + " ")  # still valid JSON; no longer the registered bytes
    return path


#: How long a test waits for the service's graceful shutdown (output flushes included).
STOP_TIMEOUT_S = 120


@contextmanager
def running_service(app: Any, port: int) -> Iterator[str]:
    """Run ``app`` under uvicorn in a thread on loopback; yield its base URL."""
    import httpx
    import uvicorn

    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    else:
        raise RuntimeError("service did not start")
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(STOP_TIMEOUT_S)
    if thread.is_alive():  # a test must not read outputs a shutdown is still writing
        raise RuntimeError(f"service did not stop within {STOP_TIMEOUT_S} s")


class WebhookReceiver:
    """A local HTTP endpoint recording POST bodies; fails the first ``fail_first`` posts."""

    def __init__(self, fail_first: int = 1) -> None:
        self.bodies: list[bytes] = []
        self.attempts = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                receiver.attempts += 1
                if receiver.attempts <= fail_first:
                    self.send_response(503)
                else:
                    receiver.bodies.append(body)
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def records(self) -> list[dict[str, Any]]:
        """Every received alert line, parsed."""
        return [json.loads(line) for body in self.bodies for line in body.splitlines() if line]

    def close(self) -> None:
        """Stop the server."""
        self.server.shutdown()
        self.server.server_close()


def json_flows(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Canonical flows as JSON objects (what a client posts)."""
    inputs = df.drop(columns=[c for c in ("label", "attack_type") if c in df.columns])
    records: list[dict[str, Any]] = json.loads(
        inputs.to_json(orient="records", date_format="iso", date_unit="us")
    )
    return records


def train_week_model(settings: Settings, start: Any) -> int:
    """Train and register a small model (30 trees) on a generated week from ``start``.

    The monitoring tests' model: cheap to fit, with its reference profile. Returns the
    registered version.
    """
    from nids.data.generator import generate_flows
    from nids.training import train

    week = generate_flows(7000, days=7, attack_share=0.02, seed=5, start=start)
    trained = train(
        settings, "generated", frame=week, register=True, progress=False,
        n_estimators=30, max_samples=128,
    )  # fmt: skip
    return int(trained.registered.version)
