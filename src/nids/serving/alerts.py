"""Alert records in the formats SOCs ingest (ECS, Suricata EVE) and the allow-list.

An alert carries the flow's 5-tuple and Community ID (so it joins back to the sensor's
logs), the anomaly score as ``event.risk_score`` (0-100), the model name/version as
the rule, and the explanation (top contributing features with analyst reasons).
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nids.errors import ConfigError

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class ModelRef:
    """The model that raised an alert."""

    name: str
    version: str
    semver: str | None = None


@dataclass(frozen=True)
class Alert:
    """A flow the model flagged, with its score, threshold, explanation and model."""

    flow: Mapping[str, Any]
    score: float
    threshold: float
    top_features: list[dict[str, Any]]
    model: ModelRef
    variant: str | None = None  # the A/B variant that scored the flow


def risk_score(score: float, threshold: float) -> float:
    """Map an anomaly score to ECS ``event.risk_score`` (0-100; 50 at the threshold).

    IsolationForest scores lie in (0, 1]; the threshold maps to 50 and 1.0 to 100.
    """
    if score <= threshold:
        value = 50.0 * score / threshold if threshold > 0 else 0.0
    else:
        value = 50.0 + 50.0 * (score - threshold) / max(1.0 - threshold, 1e-9)
    return round(min(max(value, 0.0), 100.0), 2)


def _ts(value: Any) -> str:
    if isinstance(value, datetime):
        stamp = value if value.tzinfo else value.replace(tzinfo=UTC)
        return stamp.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return str(value)


def ecs_alert(alert: Alert) -> dict[str, Any]:
    """One alert as an Elastic Common Schema document."""
    flow, score, threshold, model = alert.flow, alert.score, alert.threshold, alert.model
    top_features = alert.top_features
    reasons = "; ".join(str(f.get("reason", f.get("feature"))) for f in top_features)
    return {
        "@timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "event": {
            "kind": "alert",
            "category": ["network"],
            "type": ["connection"],
            "module": "nids",
            "dataset": "nids.alert",
            "start": _ts(flow.get("ts")),
            "duration": int(float(flow.get("duration") or 0.0) * 1e9),
            "risk_score": risk_score(score, threshold),
            "severity": 3 if score > threshold else 1,
            "reason": reasons,
        },
        "source": {
            "ip": flow.get("src_ip"),
            "port": int(flow.get("src_port") or 0),
            "bytes": int(flow.get("src_bytes") or 0),
            "packets": int(flow.get("src_pkts") or 0),
        },
        "destination": {
            "ip": flow.get("dst_ip"),
            "port": int(flow.get("dst_port") or 0),
            "bytes": int(flow.get("dst_bytes") or 0),
            "packets": int(flow.get("dst_pkts") or 0),
        },
        "network": {
            "transport": flow.get("proto"),
            "protocol": flow.get("service") or None,
            "community_id": flow.get("community_id"),
        },
        "rule": {
            "name": model.name,
            "version": model.version,
            "ruleset": "nids-anomaly",
            "description": "Anomalous flow (unsupervised model)",
        },
        "nids": {
            "score": score,
            "threshold": threshold,
            "model": {"name": model.name, "version": model.version, "semver": model.semver},
            "variant": alert.variant,
            "top_features": top_features,
        },
    }


def eve_alert(alert: Alert) -> dict[str, Any]:
    """One alert in the style of a Suricata EVE JSON ``alert`` event."""
    flow, score, threshold, model = alert.flow, alert.score, alert.threshold, alert.model
    top_features = alert.top_features
    signature = "; ".join(str(f.get("reason", f.get("feature"))) for f in top_features)
    return {
        "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "flow_start": _ts(flow.get("ts")),
        "event_type": "alert",
        "src_ip": flow.get("src_ip"),
        "src_port": int(flow.get("src_port") or 0),
        "dest_ip": flow.get("dst_ip"),
        "dest_port": int(flow.get("dst_port") or 0),
        "proto": str(flow.get("proto") or "").upper(),
        "app_proto": flow.get("service") or None,
        "community_id": flow.get("community_id"),
        "alert": {
            "action": "allowed",
            "gid": 1,
            "signature_id": 0,
            "rev": model.version,
            "signature": f"NIDS anomaly: {signature}" if signature else "NIDS anomaly",
            "category": "Anomalous network flow",
            "severity": 2,
            "metadata": {
                "model": [model.name],
                "model_version": [model.version],
                "score": [f"{score:.6f}"],
                "threshold": [f"{threshold:.6f}"],
                "risk_score": [str(risk_score(score, threshold))],
                "variant": [alert.variant or "default"],
            },
        },
        "nids": {"top_features": top_features, "variant": alert.variant},
    }


FORMATTERS = {"ecs": ecs_alert, "eve": eve_alert}


@dataclass(frozen=True)
class AllowList:
    """Alerts to suppress: networks (either end), destination ports, scanner sources.

    File format (YAML or JSON)::

        cidrs: [10.1.0.0/16]          # any flow touching these networks
        ports: [53, 123]              # destination ports
        scanners: [198.51.100.7/32]   # known scanner sources (e.g. the SOC's own)
    """

    cidrs: tuple[IPNetwork, ...] = ()
    ports: frozenset[int] = field(default_factory=frozenset)
    scanners: tuple[IPNetwork, ...] = ()

    @classmethod
    def load(cls, path: str | Path) -> AllowList:
        """Read an allow-list file; a bad entry names the file and the entry."""
        source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{source}: cannot read allow-list: {exc.strerror}") from None
        try:
            import yaml

            doc = yaml.safe_load(text) if text.strip() else {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{source}: not valid YAML/JSON: {exc}") from None
        if not isinstance(doc, dict):
            raise ConfigError(f"{source}: expected a mapping with cidrs/ports/scanners")
        unknown = sorted(set(doc) - {"cidrs", "ports", "scanners"})
        if unknown:
            raise ConfigError(f"{source}: unknown key {unknown[0]!r} (cidrs, ports, scanners)")
        return cls(
            cidrs=_networks(doc.get("cidrs") or [], source, "cidrs"),
            ports=frozenset(_ports(doc.get("ports") or [], source)),
            scanners=_networks(doc.get("scanners") or [], source, "scanners"),
        )

    def reason(self, src_ip: str, dst_ip: str, dst_port: int) -> str | None:
        """Why an alert on this flow is suppressed (``cidr``, ``port``, ``scanner``), or None."""
        if dst_port in self.ports:
            return "port"
        if not (self.cidrs or self.scanners):
            return None
        src, dst = ipaddress.ip_address(src_ip), ipaddress.ip_address(dst_ip)
        if any(src in net for net in self.scanners):
            return "scanner"
        if any(src in net or dst in net for net in self.cidrs):
            return "cidr"
        return None

    def __bool__(self) -> bool:
        return bool(self.cidrs or self.ports or self.scanners)


def _networks(items: Iterable[Any], source: str, key: str) -> tuple[IPNetwork, ...]:
    out = []
    for item in items:
        try:
            out.append(ipaddress.ip_network(str(item), strict=False))
        except ValueError:
            raise ConfigError(f"{source}: {key}: {item!r} is not an IP network") from None
    return tuple(out)


def _ports(items: Iterable[Any], source: str) -> list[int]:
    out = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, int) or not 0 <= item <= 65535:
            raise ConfigError(f"{source}: ports: {item!r} is not a port number")
        out.append(item)
    return out


def dumps(record: Mapping[str, Any]) -> bytes:
    """One JSON line (orjson when available; datetimes and numpy scalars handled)."""
    import orjson

    try:
        return orjson.dumps(record, option=orjson.OPT_SERIALIZE_NUMPY) + b"\n"
    except TypeError:
        return (json.dumps(record, default=str) + "\n").encode()
