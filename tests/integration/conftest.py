"""Real MLflow tracking servers on loopback for integration tests.

``mlflow_server`` is a running ``mlflow server`` (``.url``, ``.backend``); it is
parametrised by backend store, ``sqlite`` and ``postgresql``, so a test using it runs
against both. Pick one with
``@pytest.mark.parametrize("mlflow_server", ["sqlite"], indirect=True)``.
Servers are started once per session (PostgreSQL's first start runs migrations for
~10 s) and shared: use unique experiment and model names in each test.

The PostgreSQL backend gets its own uniquely named database on 127.0.0.1:5432
(user postgres, trust auth), created here and dropped at the end of the session.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from support import free_port

POSTGRES_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
SERVER_START_TIMEOUT_S = 180.0  # generous: the machine is shared and migrations are slow
BACKENDS = ("sqlite", "postgresql")


@dataclass
class MlflowServer:
    """A running ``mlflow server`` process."""

    url: str
    backend: str
    backend_uri: str
    artifacts_dir: Path
    log_path: Path
    process: subprocess.Popen[bytes]


def _server_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "NIDS_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def _wait_healthy(server: MlflowServer) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            tail = server.log_path.read_text(errors="replace")[-3000:]
            pytest.fail(f"mlflow server ({server.backend}) exited early:\n{tail}")
        try:
            if httpx.get(f"{server.url}/health", timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    tail = server.log_path.read_text(errors="replace")[-3000:]
    pytest.fail(f"mlflow server ({server.backend}) not healthy in time:\n{tail}")


def start_mlflow_server(backend: str, backend_uri: str, root: Path) -> MlflowServer:
    """Start ``mlflow server`` with the given backend store; wait for /health."""
    port = free_port()
    artifacts = root / "artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    log_path = root / "server.log"
    cmd = [
        str(Path(sys.executable).parent / "mlflow"),
        "server",
        "--backend-store-uri",
        backend_uri,
        "--artifacts-destination",
        str(artifacts),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, env=_server_env(), start_new_session=True
        )
    server = MlflowServer(
        url=f"http://127.0.0.1:{port}",
        backend=backend,
        backend_uri=backend_uri,
        artifacts_dir=artifacts,
        log_path=log_path,
        process=process,
    )
    try:
        _wait_healthy(server)
    except BaseException:
        stop_mlflow_server(server)
        raise
    return server


def stop_mlflow_server(server: MlflowServer) -> None:
    """Stop the server and the workers it spawned (its own process group)."""
    if server.process.poll() is None:
        os.killpg(server.process.pid, signal.SIGTERM)
        try:
            server.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait(timeout=10)


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """SQLAlchemy URL of a fresh PostgreSQL database, dropped after the session."""
    import psycopg2

    name = f"nids_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg2.connect(POSTGRES_ADMIN_DSN, connect_timeout=5)
    except psycopg2.OperationalError as exc:
        pytest.fail(f"PostgreSQL on 127.0.0.1:5432 is required for this test: {exc}")
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        yield f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(scope="session")
def _mlflow_servers(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[dict[str, MlflowServer]]:
    """Lazily started servers, one per backend, stopped at the end of the session."""
    servers: dict[str, MlflowServer] = {}
    yield servers
    for server in servers.values():
        stop_mlflow_server(server)


@pytest.fixture(params=BACKENDS)
def mlflow_server(
    request: pytest.FixtureRequest,
    _mlflow_servers: dict[str, MlflowServer],
    tmp_path_factory: pytest.TempPathFactory,
) -> MlflowServer:
    """A running MLflow tracking server with the parametrised backend store."""
    backend = str(request.param)
    if backend not in BACKENDS:
        raise ValueError(f"unknown MLflow backend {backend!r}; choose from {BACKENDS}")
    server = _mlflow_servers.get(backend)
    if server is None or server.process.poll() is not None:
        root = tmp_path_factory.mktemp(f"mlflow-{backend}")
        if backend == "sqlite":
            uri = f"sqlite:///{root / 'mlflow.db'}"
        else:
            uri = request.getfixturevalue("postgres_database")
        server = start_mlflow_server(backend, uri, root)
        _mlflow_servers[backend] = server
    return server


@dataclass
class S3Server:
    """A moto S3 server on loopback and the standard AWS variables that reach it."""

    url: str

    def env(self) -> dict[str, str]:
        """AWS_* variables for a client (endpoint and dummy credentials)."""
        return {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def client(self) -> object:
        """A boto3 S3 client for this server."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        )


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """One moto S3 server for the session (ThreadedMotoServer on a free loopback port)."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield S3Server(f"http://127.0.0.1:{port}")
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh, uniquely named bucket; the AWS_* variables point at the server."""
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    client = s3_server.client()
    name = f"test-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)  # type: ignore[attr-defined]
    yield name
    paginator = client.get_paginator("list_objects_v2")  # type: ignore[attr-defined]
    for page in paginator.paginate(Bucket=name):
        for obj in page.get("Contents", []):
            client.delete_object(Bucket=name, Key=obj["Key"])  # type: ignore[attr-defined]
    client.delete_bucket(Bucket=name)  # type: ignore[attr-defined]
