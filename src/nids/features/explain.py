"""Analyst-readable reasons: one sentence per feature value, in network terms."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

Flow = Mapping[str, Any]


def _get(flow: Flow, key: str, default: str = "?") -> str:
    value = flow.get(key)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return default
    return str(value)


def _src(flow: Flow) -> str:
    return _get(flow, "src_ip")


def _dst(flow: Flow) -> str:
    return f"{_get(flow, 'dst_ip')}:{_get(flow, 'dst_port')}/{_get(flow, 'proto')}"


def _count(value: float) -> str:
    """Undo log1p scaling for display."""
    return f"{math.expm1(max(value, 0.0)):,.0f}"


def _flag(text: str) -> Callable[[float, Flow], str]:
    def render(value: float, flow: Flow) -> str:
        prefix = "" if value >= 0.5 else "not "
        return f"{prefix}{text.format(src=_src(flow), dst=_dst(flow))}"

    return render


_TEMPLATES: dict[str, Callable[[float, Flow], str]] = {
    "log_src_bytes": lambda v, f: f"{_count(v)} bytes sent by {_src(f)} to {_dst(f)}",
    "log_dst_bytes": lambda v, f: f"{_count(v)} bytes received by {_src(f)} from {_dst(f)}",
    "log_src_pkts": lambda v, f: f"{_count(v)} packets sent by {_src(f)} to {_dst(f)}",
    "log_dst_pkts": lambda v, f: f"{_count(v)} packets answered by {_dst(f)}",
    "src_bytes_per_pkt": lambda v, f: f"{_count(v)} bytes per packet from {_src(f)}",
    "dst_bytes_per_pkt": lambda v, f: f"{_count(v)} bytes per packet from {_dst(f)}",
    "byte_asymmetry": lambda v, f: (
        f"{(v + 1) * 50:.0f}% of the bytes flow outward from {_src(f)} to {_dst(f)}"
    ),
    "pkt_asymmetry": lambda v, f: f"{(v + 1) * 50:.0f}% of the packets sent by {_src(f)}",
    "log_duration": lambda v, f: f"flow lasted {math.expm1(max(v, 0.0)):,.1f} s",
    "log_bytes_per_s": lambda v, f: f"{_count(v)} bytes/s between {_src(f)} and {_dst(f)}",
    "log_pkts_per_s": lambda v, f: f"{_count(v)} packets/s between {_src(f)} and {_dst(f)}",
    "dst_port_well_known": _flag("to a well-known port (0-1023): {dst}"),
    "dst_port_registered": _flag("to a registered port (1024-49151): {dst}"),
    "dst_port_ephemeral": _flag("to an ephemeral port (49152-65535): {dst}"),
    "src_port_low": _flag("{src} used a privileged source port"),
    "service_dns": _flag("DNS recognised on {dst}"),
    "service_http": _flag("HTTP recognised on {dst}"),
    "service_ssl": _flag("TLS recognised on {dst}"),
    "service_ssh": _flag("SSH recognised on {dst}"),
    "proto_udp": _flag("UDP"),
    "proto_icmp": _flag("ICMP"),
    "proto_other": _flag("an unusual transport protocol ({dst})"),
    "state_half_open": _flag("half-open: {src} sent SYN to {dst} and got no answer"),
    "state_rejected": _flag("rejected: {dst} answered {src}'s SYN with a reset"),
    "state_no_reply": _flag("no reply from {dst} to {src}"),
    "state_established": _flag("connection {src} -> {dst} established"),
    "state_reset": _flag("connection {src} -> {dst} torn down by a reset"),
    "state_midstream": _flag("no handshake seen for {src} -> {dst}"),
    "state_completed": _flag("connection {src} -> {dst} completed normally"),
    "dir_inbound": _flag("inbound from outside the home networks: {src} -> {dst}"),
    "dir_outbound": _flag("outbound to outside the home networks: {src} -> {dst}"),
    "dir_internal": _flag("internal: {src} -> {dst}"),
    "hour_sin": lambda v, f: f"at {_get(f, 'ts')} (unusual hour)",
    "hour_cos": lambda v, f: f"at {_get(f, 'ts')} (unusual hour)",
    "port_rarity": lambda v, f: (
        f"port {_dst(f)} rarely used in this direction in training "
        f"(about 1 in {math.exp(v):,.0f} flows)"
    ),
    "service_rarity": lambda v, f: (
        f"service '{_get(f, 'service', 'none')}' rare in this direction in training "
        f"(about 1 in {math.exp(v):,.0f} flows)"
    ),
    "ctx_flows": lambda v, f: f"{_count(v)} flows from {_src(f)} in the last window",
    "ctx_distinct_dst_ports": lambda v, f: (
        f"{_count(v)} distinct destination ports in the last window from {_src(f)}"
    ),
    "ctx_distinct_dst_hosts": lambda v, f: (
        f"{_count(v)} distinct destination hosts in the last window from {_src(f)}"
    ),
    "ctx_failed_share": lambda v, f: (
        f"{v * 100:.0f}% of {_src(f)}'s recent connections failed (rejected/unanswered)"
    ),
    "ctx_out_in_ratio": lambda v, f: (
        f"{_src(f)} recently sent {math.exp(abs(v)):,.0f}x "
        f"{'more' if v >= 0 else 'less'} than it received"
    ),
    "ctx_bytes_out": lambda v, f: f"{_count(v)} bytes sent by {_src(f)} in the last window",
    "ctx_pair_regularity": lambda v, f: (
        f"{_src(f)} -> {_get(f, 'dst_ip')} repeats at regular intervals "
        f"(regularity {v:.2f}, beacon-like)"
    ),
    "ctx_pair_flows": lambda v, f: f"{_count(v)} recent flows {_src(f)} -> {_get(f, 'dst_ip')}",
    "ctx_dns_queries": lambda v, f: f"{_count(v)} DNS queries from {_src(f)} in the last window",
}


def describe_feature(name: str, value: float, flow: Flow) -> str:
    """One readable sentence for a feature's value on a flow (e.g. for an alert's reasons)."""
    template = _TEMPLATES.get(name)
    if template is None:
        return f"{name} = {value:.3g} for {_src(flow)} -> {_dst(flow)}"
    try:
        return template(float(value), flow)
    except (ValueError, OverflowError):
        return f"{name} = {value} for {_src(flow)} -> {_dst(flow)}"
