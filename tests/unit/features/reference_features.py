"""The per-flow groups as plain numpy steps: the implementation before the compiled
pass (``nids.features.flow``), kept only as the tests' reference.

``reference_columns`` gives every per-flow feature (groups volume .. rarity) of a
fitted transformer as ``{name: column}``; the compiled pass must equal it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nids.data.schema import ACK, FIN, RST, SYN
from nids.features.columns import FlowView
from nids.features.network import INBOUND, INTERNAL, OUTBOUND, direction_codes
from nids.features.rarity import port_keys, service_keys

Columns = dict[str, np.ndarray]

_ESTABLISHED = {"sf", "s1", "s2", "s3", "rsto", "rstr"}
_HALF_OPEN = {"s0", "rstos0"}
_MIDSTREAM = {"oth", "sh", "shr", "rstrh"}
_RESET = {"rsto", "rstr", "rstos0", "rstrh"}
WELL_KNOWN_MAX = 1023
REGISTERED_MAX = 49151
_SERVICES = ("dns", "http", "ssl", "ssh")


def _log(x: np.ndarray) -> np.ndarray:
    return np.log1p(np.maximum(x, 0.0))


def volume_features(v: FlowView) -> Columns:
    sb, db = v.numeric("src_bytes"), v.numeric("dst_bytes")
    sp, dp = v.numeric("src_pkts"), v.numeric("dst_pkts")
    return {
        "log_src_bytes": _log(sb),
        "log_dst_bytes": _log(db),
        "log_src_pkts": _log(sp),
        "log_dst_pkts": _log(dp),
        "src_bytes_per_pkt": _log(sb / np.maximum(sp, 1.0)),
        "dst_bytes_per_pkt": _log(db / np.maximum(dp, 1.0)),
        "byte_asymmetry": (sb - db) / (sb + db + 1.0),
        "pkt_asymmetry": (sp - dp) / (sp + dp + 1.0),
    }


def rate_features(v: FlowView) -> Columns:
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
    dport = v.numeric("dst_port")
    sport = v.numeric("src_port")
    ported = v.isin("proto", ["tcp", "udp", "sctp"])
    return {
        "dst_port_well_known": (ported & (dport <= WELL_KNOWN_MAX)).astype(np.float64),
        "dst_port_registered": (
            ported & (dport > WELL_KNOWN_MAX) & (dport <= REGISTERED_MAX)
        ).astype(np.float64),
        "dst_port_ephemeral": (ported & (dport > REGISTERED_MAX)).astype(np.float64),
        "src_port_low": (ported & (sport <= WELL_KNOWN_MAX)).astype(np.float64),
    }


def service_features(v: FlowView) -> Columns:
    codes, uniques = v.factorized("service")
    out: Columns = {}
    for name in _SERVICES:
        hit = np.array([name in str(u).split(",") for u in uniques], dtype=np.float64)
        out[f"service_{name}"] = hit[codes]
    return out


def protocol_features(v: FlowView) -> Columns:
    icmp = v.isin("proto", ["icmp", "ipv6-icmp"])
    tcp, udp = v.equals("proto", "tcp"), v.equals("proto", "udp")
    return {
        "proto_udp": udp.astype(np.float64),
        "proto_icmp": icmp.astype(np.float64),
        "proto_other": (~(tcp | udp | icmp)).astype(np.float64),
    }


def state_masks(v: FlowView) -> dict[str, np.ndarray]:
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
    return masks["half_open"] | masks["rejected"] | (masks["no_reply"] & ~masks["established"])


def dns_mask(v: FlowView) -> np.ndarray:
    """The context kernel's DNS flag: a recognised DNS service or UDP to port 53."""
    return (service_features(v)["service_dns"] > 0) | (
        v.equals("proto", "udp") & (v.numeric("dst_port") == 53)
    )


def time_features(v: FlowView) -> Columns:
    seconds = v.epoch_seconds
    angle = 2.0 * np.pi * (np.mod(seconds, 86400.0) / 86400.0)
    return {"hour_sin": np.sin(angle), "hour_cos": np.cos(angle)}


def seconds(ns: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """``nids.features.columns._seconds`` as numpy steps (before its compiled loop)."""
    whole, residual = np.divmod(ns, 10**9)
    values = whole + residual / 10**9
    on_whole = (residual != 0) & ((values == whole) | (values == whole + 1.0))
    if on_whole.any():
        nudged = np.where(values == whole, np.nextafter(values, values + 1.0), values)
        nudged = np.where(nudged == whole + 1.0, np.nextafter(nudged, nudged - 1.0), nudged)
        values = np.where(on_whole, nudged, values)
    values[missing] = np.nan
    return values


def rarity(keys: np.ndarray, table_keys: np.ndarray, table_counts: np.ndarray) -> np.ndarray:
    total = float(table_counts.sum())
    counts = np.zeros(len(keys), dtype=np.float64)
    if len(table_keys):
        pos = np.searchsorted(table_keys, keys)
        pos_c = np.minimum(pos, len(table_keys) - 1)
        hit = table_keys[pos_c] == keys
        counts[hit] = table_counts[pos_c[hit]]
    return np.log((total + 1.0) / (counts + 1.0))


def reference_columns(transformer: Any, v: FlowView) -> Columns:
    """All per-flow features (groups volume .. rarity) of a fitted transformer.

    numpy warns where hostile volumes overflow (to inf, as the compiled pass does
    silently); the values are what count here.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        return _reference_columns(transformer, v)


def _reference_columns(transformer: Any, v: FlowView) -> Columns:
    directions = direction_codes(
        v.factorized("src_ip"), v.factorized("dst_ip"), transformer._nets()
    )
    cols: Columns = {}
    cols.update(volume_features(v))
    cols.update(rate_features(v))
    cols.update(port_features(v))
    cols.update(service_features(v))
    cols.update(protocol_features(v))
    cols.update({f"state_{k}": m.astype(np.float64) for k, m in state_masks(v).items()})
    cols["dir_inbound"] = (directions == INBOUND).astype(np.float64)
    cols["dir_outbound"] = (directions == OUTBOUND).astype(np.float64)
    cols["dir_internal"] = (directions == INTERNAL).astype(np.float64)
    cols.update(time_features(v))
    pkeys = port_keys(v.factorized("proto"), v.numeric("dst_port"), directions)
    skeys, inverse = service_keys(v.factorized("service"), directions)
    cols["port_rarity"] = rarity(
        pkeys, transformer.port_table_keys_, transformer.port_table_counts_
    )
    cols["service_rarity"] = rarity(
        skeys, transformer.service_table_keys_, transformer.service_table_counts_
    )[inverse]
    return cols
