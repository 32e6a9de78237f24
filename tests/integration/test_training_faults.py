"""A tracking server that is down or answers with errors: a clear message, exit code 4,
within seconds (no minutes of retries), and no run left behind."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from flow_samples import make_flows
from nids.cli import main
from nids.errors import EXIT_SERVICE
from support import free_port

pytestmark = pytest.mark.integration


class _Failing(BaseHTTPRequestHandler):
    """Answers every request with HTTP 500 and an MLflow-style error body."""

    def _fail(self) -> None:
        body = b'{"error_code": "INTERNAL_ERROR", "message": "database is on fire"}'
        self.send_response(500)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._fail()

    def do_POST(self) -> None:
        self._fail()

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        return


@pytest.fixture
def failing_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Failing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _train(uri: str) -> int:
    make_flows(300, seed=1).to_parquet("flows.parquet")
    return main(["train", "--data", "flows.parquet", "--tracking-uri", uri, "--register"])


def test_tracking_server_down(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    uri = f"http://127.0.0.1:{free_port()}"
    assert _train(uri) == EXIT_SERVICE
    err = " ".join(capsys.readouterr().err.split())
    assert f"MLflow tracking store {uri}" in err
    assert "Traceback" not in err


def test_tracking_server_answering_errors(
    workdir: Path, capsys: pytest.CaptureFixture[str], failing_server: str
) -> None:
    assert _train(failing_server) == EXIT_SERVICE
    err = " ".join(capsys.readouterr().err.split())
    assert f"MLflow tracking store {failing_server}" in err
    assert "Traceback" not in err
