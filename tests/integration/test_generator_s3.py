"""`nids generate --out s3://...` writes to an S3-compatible server (moto on loopback)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
import typer

import nids.cli
from nids.cli import main
from nids.data.schema import FLOW_SCHEMA

pytestmark = pytest.mark.integration


@pytest.fixture
def s3_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A moto S3 server on a free loopback port with bucket ``flows``; AWS_* env set."""
    import boto3
    from moto.server import ThreadedMotoServer

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    boto3.client("s3", endpoint_url=url).create_bucket(Bucket="flows")
    try:
        yield url
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def _only_generate(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run `main` with just the generate command, so others' modules cannot interfere."""
    app = typer.Typer(pretty_exceptions_enable=False)
    app.callback()(lambda: None)
    monkeypatch.setattr(nids.cli, "app", app)
    monkeypatch.setattr(nids.cli, "_COMMAND_MODULES", ["generate"])
    monkeypatch.setattr(nids.cli, "_registered", False)


def test_generate_writes_to_s3(s3_endpoint: str) -> None:
    out = "s3://flows/synthetic/week1.parquet"
    assert main(["generate", "--out", out, "--flows", "3000", "--days", "1", "--seed", "3"]) == 0
    fs = pafs.S3FileSystem(endpoint_override=s3_endpoint, region="us-east-1")
    table = pq.read_table("flows/synthetic/week1.parquet", filesystem=fs)
    assert table.schema.equals(FLOW_SCHEMA, check_metadata=False)
    assert table.num_rows == 3000


def test_unreachable_s3_is_a_service_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # fail fast: no botocore retries
    assert main(["generate", "--out", "s3://flows/x.parquet", "--flows", "100"]) == 4
    err = capsys.readouterr().err.replace("\n", "")
    assert "cannot write s3://flows/x.parquet" in err
    assert "internal error" not in err
