"""Stream flows from a file through a running service and summarise what it said.

``nids serve replay`` uses it: the demo's "traffic through the service" stage, and a
smoke test for a deployment (Arrow IPC bodies, the bulk format).
"""

from __future__ import annotations

import collections
import re
from dataclasses import dataclass, field
from typing import Any

from nids.errors import ServiceUnavailableError
from nids.settings import Settings

_METRIC_LINE = re.compile(r"^(nids_[a-z_]+)(\{[^}]*\})? ([0-9.e+-]+)$")
SUMMARY_METRICS = (
    "nids_flows_scored_total",
    "nids_alerts_total",
    "nids_alerts_suppressed_total",
    "nids_alert_sink_sent_total",
    "nids_alert_sink_dropped_total",
    "nids_model_loads_total",
    "nids_request_duration_seconds_count",
    "nids_request_duration_seconds_sum",
)


@dataclass
class ReplaySummary:
    """What the service answered for the replayed flows."""

    flows: int = 0
    requests: int = 0
    alerts: int = 0
    suppressed: int = 0
    model: str = ""
    top_reasons: collections.Counter[str] = field(default_factory=collections.Counter)
    alerts_by_attack: collections.Counter[str] = field(default_factory=collections.Counter)
    metrics: dict[str, float] = field(default_factory=dict)


def replay(
    settings: Settings, url: str, data: str, *, batch_size: int = 1000, limit: int | None = None
) -> ReplaySummary:
    """POST the flows of ``data`` to ``url`` in Arrow IPC batches; summarise the answers."""
    import httpx
    import pyarrow as pa

    from nids.data import read_flows
    from nids.data.io import to_table

    df = read_flows(data)
    if limit is not None:
        df = df.head(limit)
    headers = {"content-type": "application/vnd.apache.arrow.stream"}
    if settings.api_token is not None:
        headers["authorization"] = f"Bearer {settings.api_token.get_secret_value()}"
    summary = ReplaySummary()
    base = url.rstrip("/")
    with httpx.Client(timeout=120, headers=headers) as client:
        for start in range(0, len(df), batch_size):
            part = df.iloc[start : start + batch_size]
            table = to_table(part).drop_columns(["label", "attack_type"])
            sink = pa.BufferOutputStream()
            with pa.ipc.new_stream(sink, table.schema) as writer:
                writer.write_table(table)
            try:
                response = client.post(f"{base}/v1/score", content=sink.getvalue().to_pybytes())
            except httpx.HTTPError as exc:
                raise ServiceUnavailableError(f"service at {base} unreachable: {exc}") from exc
            if response.status_code != 200:
                raise ServiceUnavailableError(
                    f"service at {base} answered {response.status_code}: {response.text[:300]}"
                )
            _tally(summary, response.json(), part)
        summary.metrics = _metrics(client, base)
    return summary


def _tally(summary: ReplaySummary, body: dict[str, Any], part: Any) -> None:
    summary.requests += 1
    summary.flows += body["n_flows"]
    model = body["model"]
    summary.model = f"{model['name']} v{model['version']} ({model['semver']})"
    attack = part["attack_type"].fillna("benign").astype(str).tolist()
    for result, kind in zip(body["results"], attack, strict=True):
        if not result["is_alert"]:
            continue
        if result["suppressed"]:
            summary.suppressed += 1
            continue
        summary.alerts += 1
        summary.alerts_by_attack[kind] += 1
        if result["top_features"]:
            summary.top_reasons[result["top_features"][0]["feature"]] += 1


def _metrics(client: Any, base: str) -> dict[str, float]:
    totals: dict[str, float] = collections.defaultdict(float)
    text = client.get(f"{base}/metrics").text
    for line in text.splitlines():
        match = _METRIC_LINE.match(line)
        if match and match.group(1) in SUMMARY_METRICS:
            totals[match.group(1)] += float(match.group(3))
    return dict(totals)


def print_summary(summary: ReplaySummary) -> None:
    """Render a replay summary as rich tables."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(
        f"[bold]{summary.flows:,}[/] flows in {summary.requests} requests scored by "
        f"{summary.model}: [bold red]{summary.alerts:,}[/] alerts sent, "
        f"{summary.suppressed:,} suppressed by the allow-list"
    )
    by_attack = Table("flow ground truth", "alerts")
    for kind, count in summary.alerts_by_attack.most_common():
        by_attack.add_row(kind, f"{count:,}")
    console.print(by_attack)
    reasons = Table("top feature behind the alert", "alerts")
    for name, count in summary.top_reasons.most_common(8):
        reasons.add_row(name, f"{count:,}")
    console.print(reasons)
    metrics = Table("service metric", "value")
    for name in SUMMARY_METRICS:
        if name in summary.metrics:
            metrics.add_row(name, f"{summary.metrics[name]:,.3f}".rstrip("0").rstrip("."))
    console.print(metrics)
