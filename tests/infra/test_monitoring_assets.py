"""Dashboard and alert rules query metrics the code really defines, and cover the spec."""

from __future__ import annotations

import ast
import json
from functools import cache
from typing import Any

import yaml
from infra_helpers import K8S, PROMQL_METRIC, find, render

from support import REPO_ROOT

MONITORING = K8S / "components" / "monitoring"
METRIC_TYPES = {"Counter", "Gauge", "Histogram", "Summary", "Info", "Enum"}
# Series a metric family exposes (prometheus_client naming).
SUFFIXES = {
    "Counter": ("_total", "_created"),
    "Gauge": ("",),
    "Histogram": ("_bucket", "_count", "_sum", "_created"),
    "Summary": ("_count", "_sum", "_created", ""),
    "Info": ("_info",),
    "Enum": ("",),
}


@cache
def defined_series() -> frozenset[str]:
    """Every series name the package's prometheus_client metrics expose.

    Read from the source so no module has to be imported and no metric registered: the
    first positional string of a call to Counter/Gauge/... or to a local helper whose
    name contains the type (``gauge(...)``, ``_histogram(...)``), and the string keys of
    a dict named after the type (``_GAUGE_DOCS = {"nids_x": ...}`` fed to ``Gauge``).
    """
    names: set[str] = set()
    for path in (REPO_ROOT / "src" / "nids").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict):
                target = " ".join(getattr(t, "id", "") for t in node.targets).lower()
                kind = next((t for t in METRIC_TYPES if t.lower() in target), None)
                for key in node.value.keys if kind else []:
                    if isinstance(key, ast.Constant) and str(key.value).startswith("nids_"):
                        names.update(str(key.value) + suffix for suffix in SUFFIXES[kind])
                continue
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            fname = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            kind = next((t for t in METRIC_TYPES if t.lower() in fname.lower()), None)
            first = node.args[0]
            if (
                kind
                and isinstance(first, ast.Constant)
                and isinstance(first.value, str)
                and first.value.startswith("nids_")
            ):
                base = first.value.removesuffix("_total") if kind == "Counter" else first.value
                names.update(base + suffix for suffix in SUFFIXES[kind])
    return frozenset(names)


def _dashboard() -> dict[str, Any]:
    return json.loads((MONITORING / "nids-dashboard.json").read_text())


def _panels() -> list[dict[str, Any]]:
    return [p for p in _dashboard()["panels"] if p["type"] != "row"]


def _rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load((MONITORING / "prometheusrule.yaml").read_text())
    return [rule for group in doc["spec"]["groups"] for rule in group["rules"]]


def _queries() -> list[str]:
    exprs = [t["expr"] for p in _panels() for t in p["targets"]]
    return exprs + [r["expr"] for r in _rules()]


def test_every_queried_metric_is_defined_in_the_code() -> None:
    used = {name for expr in _queries() for name in PROMQL_METRIC.findall(expr)}
    assert used, "no nids_ metric is queried"
    undefined = sorted(used - defined_series())
    assert undefined == [], f"queried but not defined in src/nids: {undefined}"


def test_queries_are_well_formed() -> None:
    """Brackets and quotes balance in every expression (no promtool here)."""
    pairs = {")": "(", "]": "[", "}": "{"}
    for expr in _queries():
        stack: list[str] = []
        for char in expr:
            if char in "([{":
                stack.append(char)
            elif char in pairs:
                assert stack and stack.pop() == pairs[char], expr
        assert stack == [], expr
        assert expr.count('"') % 2 == 0, expr


def test_metric_scan_finds_known_definitions() -> None:
    """The source scan sees the drift gauges and the feedback counter."""
    series = defined_series()
    assert "nids_drift_detected" in series
    assert "nids_feedback_verdicts_total" in series
    assert "nids_feedback_verdicts" not in series


def test_alert_rules_cover_the_required_conditions() -> None:
    rules = {r["alert"]: r for r in _rules()}
    assert set(rules) >= {
        "NidsHighErrorRate",
        "NidsHighLatencyP99",
        "NidsDriftDetected",
        "NidsNoModelLoaded",
    }
    assert "histogram_quantile(0.99" in rules["NidsHighLatencyP99"]["expr"]
    for rule in rules.values():
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"]


def test_dashboard_has_the_required_panels() -> None:
    dashboard = _dashboard()
    assert dashboard["uid"] and dashboard["title"]
    titles = " | ".join(p["title"].lower() for p in _panels())
    for needed in ("latency", "error rate", "distribution", "alert rate", "drift", "per variant"):
        assert needed in titles, f"no panel about {needed!r}"
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in _panels():
        assert panel["targets"], panel["title"]


def test_per_variant_panels_split_by_variant_labels() -> None:
    variant = [p for p in _panels() if "per variant" in p["title"].lower()]
    assert len(variant) >= 3
    for panel in variant:
        assert any("version" in t["expr"] for t in panel["targets"]), panel["title"]


def test_servicemonitor_scrapes_the_service_port() -> None:
    objs = render("prod")
    monitor = find(objs, "ServiceMonitor", "nids")
    service = find(objs, "Service", "nids-service")
    labels = service["metadata"]["labels"]
    assert all(labels.get(k) == v for k, v in monitor["spec"]["selector"]["matchLabels"].items())
    ports = {p["name"] for p in service["spec"]["ports"]}
    for endpoint in monitor["spec"]["endpoints"]:
        assert endpoint["port"] in ports
        assert endpoint["path"] == "/metrics"
    assert "version" in monitor["spec"]["podTargetLabels"]
    dashboard = find(objs, "ConfigMap", "nids-grafana-dashboard")
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(dashboard["data"]["nids-dashboard.json"]) == _dashboard()
