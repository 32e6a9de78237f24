"""Per-flow features: what one flow record says on its own, in network terms.

Every function here is vectorised over the whole frame and returns finite float64
columns. Groups (the unit of ``--ablation``) and their features are listed in
``docs/features.md``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nids.data.schema import ACK, FIN, RST, SYN
from nids.features.columns import FlowView
from nids.features.network import INBOUND, INTERNAL, OUTBOUND, Network

Columns = dict[str, np.ndarray]

# Zeek connection states by what they mean for the connection attempt.
_ESTABLISHED = {"sf", "s1", "s2", "s3", "rsto", "rstr"}
_HALF_OPEN = {"s0", "rstos0"}  # SYN sent, nothing came back
_MIDSTREAM = {"oth", "sh", "shr", "rstrh"}  # no handshake seen by the sensor
_RESET = {"rsto", "rstr", "rstos0", "rstrh"}

WELL_KNOWN_MAX = 1023
REGISTERED_MAX = 49151


def _log(x: np.ndarray) -> np.ndarray:
    return np.log1p(np.maximum(x, 0.0))


def volume_features(v: FlowView) -> Columns:
    """Log-scaled volumes, bytes per packet and the in/out asymmetry."""
    sb, db = v.numeric("src_bytes"), v.numeric("dst_bytes")
    sp, dp = v.numeric("src_pkts"), v.numeric("dst_pkts")
    return {
        "log_src_bytes": _log(sb),
        "log_dst_bytes": _log(db),
        "log_src_pkts": _log(sp),
        "log_dst_pkts": _log(dp),
        "src_bytes_per_pkt": _log(sb / np.maximum(sp, 1.0)),
        "dst_bytes_per_pkt": _log(db / np.maximum(dp, 1.0)),
        # +1 keeps empty flows at 0 rather than undefined.
        "byte_asymmetry": (sb - db) / (sb + db + 1.0),
        "pkt_asymmetry": (sp - dp) / (sp + dp + 1.0),
    }


def rate_features(v: FlowView) -> Columns:
    """Duration and rates over it (a floor of 1 ms keeps instant flows finite)."""
    dur = v.numeric("duration")
    span = np.maximum(dur, 1e-3)
    total_bytes = v.numeric("src_bytes") + v.numeric("dst_bytes")
    total_pkts = v.numeric("src_pkts") + v.numeric("dst_pkts")
    return {
        "log_duration": _log(dur),
        "log_bytes_per_s": _log(total_bytes / span),
        "log_pkts_per_s": _log(total_pkts / span),
    }


def port_features(v: FlowView) -> Columns:
    """IANA port classes of the responder port, and whether the originator used a low port."""
    dport = v.numeric("dst_port")
    sport = v.numeric("src_port")
    ported = v.isin("proto", ["tcp", "udp", "sctp"])
    return {
        "dst_port_well_known": (ported & (dport <= WELL_KNOWN_MAX)).astype(np.float64),
        "dst_port_registered": (
            ported & (dport > WELL_KNOWN_MAX) & (dport <= REGISTERED_MAX)
        ).astype(np.float64),
        "dst_port_ephemeral": (ported & (dport > REGISTERED_MAX)).astype(np.float64),
        # Clients use ephemeral source ports; a low one is a server talking or a crafted packet.
        "src_port_low": (ported & (sport <= WELL_KNOWN_MAX)).astype(np.float64),
    }


_SERVICES = ("dns", "http", "ssl", "ssh")


def service_features(v: FlowView) -> Columns:
    """Application protocol recognised by the sensor (null = none recognised)."""
    codes, uniques = v.factorized("service")
    # No "service recognised" flag: a connection that never completes carries no payload to
    # recognise, so the flag would count every failed attempt a second time.
    out: Columns = {}
    for name in _SERVICES:
        # Zeek reports multi-detections comma-separated ("ssl,http"); decide per distinct value.
        hit = np.array([name in str(u).split(",") for u in uniques], dtype=np.float64)
        out[f"service_{name}"] = hit[codes]
    return out


def protocol_features(v: FlowView) -> Columns:
    """One-hot transport protocol, TCP as the reference level."""
    icmp = v.isin("proto", ["icmp", "ipv6-icmp"])
    tcp, udp = v.equals("proto", "tcp"), v.equals("proto", "udp")
    return {  # TCP is the reference level (all zero)
        "proto_udp": udp.astype(np.float64),
        "proto_icmp": icmp.astype(np.float64),
        "proto_other": (~(tcp | udp | icmp)).astype(np.float64),
    }


def state_masks(v: FlowView) -> dict[str, np.ndarray]:
    """Boolean connection-outcome masks from ``conn_state``, else from TCP flags/packets.

    Zeek's state is used when present; for sources without it (NetFlow) the
    cumulative TCP flags and the responder's packet count give the same facts.
    """
    state_codes, states = v.factorized("conn_state")
    flags, flags_known = v.tcp_flags
    dpkts = v.numeric("dst_pkts")
    tcp = v.equals("proto", "tcp")
    has_state = (states != "")[state_codes]
    derive = ~has_state & flags_known & tcp
    syn, ack = (flags & SYN) > 0, (flags & ACK) > 0
    rst, fin = (flags & RST) > 0, (flags & FIN) > 0
    no_reply = dpkts <= 0
    half_open = v.isin("conn_state", list(_HALF_OPEN)) | (derive & syn & ~ack & no_reply)
    # A SYN answered only by RST(+ACK): the port is closed.
    rejected = v.equals("conn_state", "rej") | (derive & syn & rst & ~fin & (dpkts <= 1))
    established = v.isin("conn_state", list(_ESTABLISHED)) | (
        derive & syn & ack & ~no_reply & ~rejected
    )
    reset = v.isin("conn_state", list(_RESET)) | (derive & rst & ~rejected)
    midstream = v.isin("conn_state", list(_MIDSTREAM)) | (derive & ~syn & ack)
    return {
        "half_open": half_open,
        "rejected": rejected,
        "no_reply": no_reply,
        "established": established,
        "reset": reset,
        "midstream": midstream,
        "completed": v.equals("conn_state", "sf") | (derive & syn & ack & fin & ~rst & ~no_reply),
    }


def failed_mask(masks: dict[str, np.ndarray]) -> np.ndarray:
    """Connection attempts that got nowhere: half-open, rejected, or unanswered."""
    return masks["half_open"] | masks["rejected"] | (masks["no_reply"] & ~masks["established"])


def state_features(masks: dict[str, np.ndarray]) -> Columns:
    """Connection-state / TCP-flag encodings."""
    return {f"state_{k}": v.astype(np.float64) for k, v in masks.items()}


def direction_features(directions: np.ndarray) -> Columns:
    """One-hot direction relative to the home networks (external: the all-zero reference)."""
    return {
        "dir_inbound": (directions == INBOUND).astype(np.float64),
        "dir_outbound": (directions == OUTBOUND).astype(np.float64),
        "dir_internal": (directions == INTERNAL).astype(np.float64),
    }


def time_features(v: FlowView) -> Columns:
    """Hour of day (UTC) on the unit circle, so 23:59 is next to 00:00."""
    seconds = v.epoch_seconds
    angle = 2.0 * np.pi * (np.mod(seconds, 86400.0) / 86400.0)
    return {"hour_sin": np.sin(angle), "hour_cos": np.cos(angle)}


def ip_networks_repr(nets: Sequence[Network]) -> str:
    """Short text of the home networks, for explanations and logs."""
    return ", ".join(str(n) for n in nets)
