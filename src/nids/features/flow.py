"""Per-flow features: what one flow record says on its own, in network terms.

Every function here is vectorised over the whole frame and returns finite float64
columns. Groups (the unit of ``--ablation``) and their features are listed in
``docs/features.md``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from nids.data.schema import ACK, FIN, RST, SYN
from nids.features.columns import epoch_seconds, numeric, tcp_flags, text
from nids.features.network import EXTERNAL, INBOUND, INTERNAL, OUTBOUND, Network

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


def volume_features(df: pd.DataFrame) -> Columns:
    """Log-scaled volumes, bytes per packet and the in/out asymmetry."""
    sb, db = numeric(df, "src_bytes"), numeric(df, "dst_bytes")
    sp, dp = numeric(df, "src_pkts"), numeric(df, "dst_pkts")
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


def rate_features(df: pd.DataFrame) -> Columns:
    """Duration and rates over it (a floor of 1 ms keeps instant flows finite)."""
    dur = numeric(df, "duration")
    span = np.maximum(dur, 1e-3)
    total_bytes = numeric(df, "src_bytes") + numeric(df, "dst_bytes")
    total_pkts = numeric(df, "src_pkts") + numeric(df, "dst_pkts")
    return {
        "log_duration": _log(dur),
        "log_bytes_per_s": _log(total_bytes / span),
        "log_pkts_per_s": _log(total_pkts / span),
    }


def port_features(df: pd.DataFrame) -> Columns:
    """IANA port classes of the responder port, and whether the originator used a low port."""
    dport = numeric(df, "dst_port")
    sport = numeric(df, "src_port")
    proto = text(df, "proto")
    ported = np.isin(proto, ["tcp", "udp", "sctp"])
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


def service_features(df: pd.DataFrame) -> Columns:
    """Application protocol recognised by the sensor (null = none recognised)."""
    service = text(df, "service")
    codes, uniques = pd.factorize(service)
    out: Columns = {"service_known": (service != "").astype(np.float64)}
    for name in _SERVICES:
        # Zeek reports multi-detections comma-separated ("ssl,http"); decide per distinct value.
        hit = np.array([name in str(u).split(",") for u in uniques] + [False], dtype=np.float64)
        out[f"service_{name}"] = hit[np.where(codes < 0, len(uniques), codes)]
    return out


def protocol_features(df: pd.DataFrame) -> Columns:
    """One-hot transport protocol."""
    proto = text(df, "proto")
    icmp = np.isin(proto, ["icmp", "ipv6-icmp"])
    tcp, udp = proto == "tcp", proto == "udp"
    return {
        "proto_tcp": tcp.astype(np.float64),
        "proto_udp": udp.astype(np.float64),
        "proto_icmp": icmp.astype(np.float64),
        "proto_other": (~(tcp | udp | icmp)).astype(np.float64),
    }


def state_masks(df: pd.DataFrame) -> dict[str, np.ndarray]:
    """Boolean connection-outcome masks from ``conn_state``, else from TCP flags/packets.

    Zeek's state is used when present; for sources without it (NetFlow) the
    cumulative TCP flags and the responder's packet count give the same facts.
    """
    state = text(df, "conn_state")
    flags, flags_known = tcp_flags(df)
    proto = text(df, "proto")
    dpkts = numeric(df, "dst_pkts")
    tcp = proto == "tcp"
    has_state = state != ""
    derive = ~has_state & flags_known & tcp
    syn, ack = (flags & SYN) > 0, (flags & ACK) > 0
    rst, fin = (flags & RST) > 0, (flags & FIN) > 0
    no_reply = dpkts <= 0
    half_open = np.isin(state, list(_HALF_OPEN)) | (derive & syn & ~ack & no_reply)
    # A SYN answered only by RST(+ACK): the port is closed.
    rejected = (state == "rej") | (derive & syn & rst & ~fin & (dpkts <= 1))
    established = np.isin(state, list(_ESTABLISHED)) | (derive & syn & ack & ~no_reply & ~rejected)
    reset = np.isin(state, list(_RESET)) | (derive & rst & ~rejected)
    midstream = np.isin(state, list(_MIDSTREAM)) | (derive & ~syn & ack)
    return {
        "half_open": half_open,
        "rejected": rejected,
        "no_reply": no_reply,
        "established": established,
        "reset": reset,
        "midstream": midstream,
        "completed": (state == "sf") | (derive & syn & ack & fin & ~rst & ~no_reply),
    }


def failed_mask(masks: dict[str, np.ndarray]) -> np.ndarray:
    """Connection attempts that got nowhere: half-open, rejected, or unanswered."""
    return masks["half_open"] | masks["rejected"] | (masks["no_reply"] & ~masks["established"])


def state_features(masks: dict[str, np.ndarray]) -> Columns:
    """Connection-state / TCP-flag encodings."""
    return {f"state_{k}": v.astype(np.float64) for k, v in masks.items()}


def direction_features(directions: np.ndarray) -> Columns:
    """One-hot direction relative to the home networks."""
    return {
        "dir_inbound": (directions == INBOUND).astype(np.float64),
        "dir_outbound": (directions == OUTBOUND).astype(np.float64),
        "dir_internal": (directions == INTERNAL).astype(np.float64),
        "dir_external": (directions == EXTERNAL).astype(np.float64),
    }


def time_features(df: pd.DataFrame) -> Columns:
    """Hour of day (UTC) on the unit circle, so 23:59 is next to 00:00."""
    seconds = epoch_seconds(df)
    angle = 2.0 * np.pi * (np.mod(seconds, 86400.0) / 86400.0)
    return {"hour_sin": np.sin(angle), "hour_cos": np.cos(angle)}


def ip_networks_repr(nets: Sequence[Network]) -> str:
    """Short text of the home networks, for explanations and logs."""
    return ", ".join(str(n) for n in nets)
