"""Alert records (ECS, EVE), the allow-list, and the file sink/dispatcher."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import orjson
import pytest

from nids.errors import ConfigError
from nids.serving.alerts import Alert, AllowList, ModelRef, dumps, ecs_alert, eve_alert, risk_score
from nids.serving.sinks import AlertDispatcher, FileSink

FLOW: dict[str, Any] = {
    "ts": "2025-11-03T02:07:05.444Z",
    "duration": 1.5,
    "src_ip": "203.0.113.7",
    "src_port": 51515,
    "dst_ip": "10.0.1.31",
    "dst_port": 22,
    "proto": "tcp",
    "src_bytes": 100,
    "dst_bytes": 0,
    "src_pkts": 2,
    "dst_pkts": 0,
    "service": None,
    "community_id": "1:abc=",
}
TOP = [{"feature": "ctx_distinct_dst_ports", "value": 42.0, "contribution": 0.4, "reason": "r1"}]
MODEL = ModelRef("nids-isoforest", "7", "1.2.0")
ALERT = Alert(FLOW, 0.8, 0.6, TOP, MODEL)


def test_ecs_alert_fields() -> None:
    doc = orjson.loads(dumps(ecs_alert(ALERT)))
    assert doc["event"]["kind"] == "alert"
    assert doc["source"] == {"ip": "203.0.113.7", "port": 51515, "bytes": 100, "packets": 2}
    assert doc["destination"]["ip"] == "10.0.1.31" and doc["destination"]["port"] == 22
    assert doc["network"] == {"transport": "tcp", "protocol": None, "community_id": "1:abc="}
    assert doc["rule"]["name"] == "nids-isoforest" and doc["rule"]["version"] == "7"
    assert doc["event"]["risk_score"] == 75.0
    assert doc["event"]["duration"] == 1_500_000_000
    assert doc["nids"]["top_features"] == TOP and doc["event"]["reason"] == "r1"


def test_eve_variant() -> None:
    doc = eve_alert(ALERT)
    assert doc["event_type"] == "alert"
    assert (doc["src_ip"], doc["dest_ip"], doc["dest_port"], doc["proto"]) == (
        "203.0.113.7",
        "10.0.1.31",
        22,
        "TCP",
    )
    assert doc["community_id"] == "1:abc="
    assert doc["alert"]["metadata"]["model_version"] == ["7"]
    assert doc["alert"]["signature"] == "NIDS anomaly: r1"


@pytest.mark.parametrize(
    ("score", "threshold", "expected"),
    [(0.6, 0.6, 50.0), (1.0, 0.6, 100.0), (0.3, 0.6, 25.0), (0.8, 0.6, 75.0), (0.0, 0.0, 0.0)],
)
def test_risk_score(score: float, threshold: float, expected: float) -> None:
    assert risk_score(score, threshold) == expected


def test_allowlist(tmp_path: Path) -> None:
    path = tmp_path / "allow.yaml"
    path.write_text("cidrs: [10.9.0.0/16]\nports: [53]\nscanners: [203.0.113.7]\n")
    allow = AllowList.load(path)
    assert allow.reason("203.0.113.7", "10.0.1.31", 22) == "scanner"
    assert allow.reason("10.0.1.31", "203.0.113.7", 22) is None  # scanner only as source
    assert allow.reason("192.0.2.1", "10.9.3.4", 443) == "cidr"
    assert allow.reason("10.9.3.4", "192.0.2.1", 443) == "cidr"
    assert allow.reason("192.0.2.1", "192.0.2.2", 53) == "port"
    assert allow.reason("192.0.2.1", "192.0.2.2", 80) is None
    assert not AllowList()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("cidrs: [not-a-net]", "cidrs: 'not-a-net' is not an IP network"),
        ("ports: [70000]", "70000 is not a port number"),
        ("hosts: []", "unknown key 'hosts'"),
        ("- 1\n- 2", "expected a mapping"),
        ("cidrs: [", "not valid YAML"),
    ],
)
def test_allowlist_errors_name_file_and_entry(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "allow.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as info:
        AllowList.load(path)
    assert str(path) in str(info.value)
    with pytest.raises(ConfigError, match="cannot read"):
        AllowList.load(tmp_path / "absent.yaml")


def test_file_sink_rotates_without_splitting_lines(tmp_path: Path) -> None:
    sink = FileSink(tmp_path / "a" / "alerts.jsonl", max_bytes=1024)
    line = dumps({"x": "y" * 90})  # ~100 bytes
    for _ in range(35):
        sink.write([line, line])
    sink.close()
    files = sorted((tmp_path / "a").iterdir())
    names = [f.name for f in files]
    assert names[0] == "alerts.jsonl" and "alerts.jsonl.1" in names
    assert len(names) <= 6  # live file + ROTATE_KEEP rotated
    for f in files:
        assert f.stat().st_size <= 1024
        assert all(orjson.loads(x) == {"x": "y" * 90} for x in f.read_bytes().splitlines())


class _BlockingSink:
    """A sink that waits until released, to fill the dispatcher's queue."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.lines: list[bytes] = []

    def write(self, lines: list[bytes]) -> None:
        self.release.wait(10)
        self.lines.extend(lines)

    def close(self) -> None:
        pass


def test_dispatcher_counts_drops_when_full() -> None:
    sink = _BlockingSink()
    sent: list[int] = []
    dropped: list[int] = []
    dispatcher = AlertDispatcher(
        sink,  # type: ignore[arg-type]
        queue_size=2,
        on_sent=sent.append,
        on_dropped=dropped.append,
    )
    for i in range(10):
        dispatcher.submit([f"{i}\n".encode()])
    sink.release.set()
    dispatcher.close()
    assert dispatcher.stats["sent"] + dispatcher.stats["dropped"] == 10
    assert dispatcher.stats["dropped"] >= 7  # one in the writer, two queued
    assert sum(sent) == len(sink.lines) == dispatcher.stats["sent"]
    assert sum(dropped) == dispatcher.stats["dropped"]


class _FailingSink(_BlockingSink):
    def write(self, lines: list[bytes]) -> None:
        raise OSError("disk full")


def test_dispatcher_counts_failed_deliveries() -> None:
    dispatcher = AlertDispatcher(_FailingSink(), queue_size=10)  # type: ignore[arg-type]
    dispatcher.submit([b"1\n", b"2\n"])
    dispatcher.close()
    assert dispatcher.stats == {"sent": 0, "dropped": 2}
