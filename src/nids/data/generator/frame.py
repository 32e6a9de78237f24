"""Turn a :class:`FlowBlock` into a canonical flow DataFrame, Community IDs included.

The per-flow Python cost of :func:`nids.data.community_id.community_ids` (~19 s per
million unique flows here) would dominate generation, so IPv4 TCP/UDP flows are
hashed here with the message bytes built by numpy: only the SHA-1 call runs per
flow. Other protocols (ICMP, rare) go through the reference implementation, and a
unit test checks both agree.
"""

from __future__ import annotations

import base64
import hashlib

import numpy as np
import pyarrow as pa

from nids.data.community_id import community_ids
from nids.data.generator.block import CONN_STATES, PROTOS, SERVICES, FlowBlock
from nids.data.generator.network import ipv4_strings
from nids.data.schema import FLOW_SCHEMA, LABEL_BENIGN, LABEL_MALICIOUS, PROTO_NUMBERS

_MESSAGE = np.dtype(
    [
        ("seed", ">u2"),
        ("saddr", ">u4"),
        ("daddr", ">u4"),
        ("proto", "u1"),
        ("pad", "u1"),
        ("sport", ">u2"),
        ("dport", ">u2"),
    ]
)


def ipv4_community_ids(
    src_ip: np.ndarray, dst_ip: np.ndarray, src_port: np.ndarray, dst_port: np.ndarray, proto: int
) -> np.ndarray:
    """Community ID v1 (seed 0) of IPv4 flows of one ported protocol (TCP/UDP/SCTP), as bytes."""
    n = len(src_ip)
    # The spec orders endpoints so both directions hash the same.
    swap = (src_ip > dst_ip) | ((src_ip == dst_ip) & (src_port > dst_port))
    msg = np.zeros(n, dtype=_MESSAGE)
    msg["saddr"] = np.where(swap, dst_ip, src_ip)
    msg["daddr"] = np.where(swap, src_ip, dst_ip)
    msg["proto"] = proto
    msg["sport"] = np.where(swap, dst_port, src_port)
    msg["dport"] = np.where(swap, src_port, dst_port)
    raw = memoryview(msg.tobytes())
    size = _MESSAGE.itemsize
    sha1 = hashlib.sha1
    # A zero byte after each 20-byte digest makes 21-byte records: base64 then maps
    # each record to exactly 28 characters, the last being the '=' padding position.
    blob = b"".join([sha1(raw[i : i + size]).digest() + b"\0" for i in range(0, n * size, size)])
    chars = np.frombuffer(base64.b64encode(blob), dtype="S1").reshape(n, 28).copy()
    chars[:, 27] = b"="
    out = np.empty((n, 30), dtype="S1")
    out[:, 0], out[:, 1] = b"1", b":"
    out[:, 2:] = chars
    return out.view("S30").ravel()


def _community_ids(block: FlowBlock) -> pa.Array:
    """Community IDs of every flow as an Arrow string array (all IDs are 30 ASCII chars)."""
    out = np.empty(len(block), dtype="S30")
    for code, name in enumerate(PROTOS):
        rows = np.flatnonzero(block.proto == code)
        if not len(rows):
            continue
        if name in ("tcp", "udp"):
            out[rows] = ipv4_community_ids(
                block.src_ip[rows],
                block.dst_ip[rows],
                block.src_port[rows],
                block.dst_port[rows],
                PROTO_NUMBERS[name],
            )
        else:
            src, src_idx = ipv4_strings(block.src_ip[rows])
            dst, dst_idx = ipv4_strings(block.dst_ip[rows])
            out[rows] = community_ids(
                src[src_idx],
                dst[dst_idx],
                block.src_port[rows].tolist(),
                block.dst_port[rows].tolist(),
                [name] * len(rows),
            )
    offsets = np.arange(0, 30 * (len(out) + 1), 30, dtype=np.int32)
    return pa.StringArray.from_buffers(len(out), pa.py_buffer(offsets), pa.py_buffer(out.tobytes()))


def _coded(codes: np.ndarray, names: tuple[str, ...] | list[str]) -> pa.Array:
    """Dense string array from small integer codes (negative = null)."""
    indices = pa.array(codes.astype(np.int32), mask=codes < 0)
    return pa.DictionaryArray.from_arrays(indices, pa.array(names, pa.string())).cast(pa.string())


def _ips(ips: np.ndarray) -> pa.Array:
    names, idx = ipv4_strings(ips)
    return pa.DictionaryArray.from_arrays(pa.array(idx), pa.array(names, pa.string())).cast(
        pa.string()
    )


def to_table(block: FlowBlock, attack_types: tuple[str, ...]) -> pa.Table:
    """The flows as an Arrow table with exactly ``FLOW_SCHEMA``."""
    malicious = block.attack >= 0
    columns = {
        "ts": pa.array(block.ts, type=FLOW_SCHEMA.field("ts").type),
        "duration": pa.array(block.duration, pa.float64()),
        "src_ip": _ips(block.src_ip),
        "src_port": pa.array(block.src_port, pa.int32()),
        "dst_ip": _ips(block.dst_ip),
        "dst_port": pa.array(block.dst_port, pa.int32()),
        "proto": _coded(block.proto, PROTOS),
        "src_bytes": pa.array(block.src_bytes, pa.int64()),
        "dst_bytes": pa.array(block.dst_bytes, pa.int64()),
        "src_pkts": pa.array(block.src_pkts, pa.int64()),
        "dst_pkts": pa.array(block.dst_pkts, pa.int64()),
        "tcp_flags": pa.array(block.tcp_flags, pa.int16(), mask=block.tcp_flags < 0),
        "conn_state": _coded(block.conn_state, CONN_STATES),
        "service": _coded(block.service, SERVICES),
        "label": _coded(malicious.astype(np.int8), [LABEL_BENIGN, LABEL_MALICIOUS]),
        "attack_type": _coded(block.attack, attack_types),
        "community_id": _community_ids(block),
    }
    return pa.table(columns, schema=FLOW_SCHEMA)
