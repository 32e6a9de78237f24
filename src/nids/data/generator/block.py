"""Columnar flow blocks and the packet/byte/flag shaping shared by benign and attack flows.

A :class:`FlowBlock` holds one numpy array per field; strings are small integer
codes into the tuples below (``-1`` = null) so millions of flows stay cheap until the
frame is built once at the end.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt

from nids.data.schema import ACK, FIN, PSH, RST, SYN

PROTOS = ("tcp", "udp", "icmp")
TCP, UDP, ICMP = 0, 1, 2
CONN_STATES = ("SF", "S0", "REJ", "RSTO", "RSTR", "SH", "OTH")
SF, S0, REJ, RSTO, RSTR, SH, OTH = range(len(CONN_STATES))
SERVICES = (
    "dns",
    "http",
    "ssl",
    "ssh",
    "rdp",
    "smb",
    "ntp",
    "ldap",
    "krb",
    "smtp",
    "postgresql",
    "mysql",
)
#: The application protocol a sensor (Zeek) reports for a well-known port once it has
#: seen payload; ports not listed stay unidentified (null service).
PORT_SERVICE: dict[int, str] = {
    53: "dns",
    80: "http",
    3128: "http",
    8080: "http",
    443: "ssl",
    993: "ssl",
    8443: "ssl",
    22: "ssh",
    3389: "rdp",
    445: "smb",
    123: "ntp",
    389: "ldap",
    88: "krb",
    25: "smtp",
    5432: "postgresql",
    3306: "mysql",
}
_SERVICE_CODE = {name: i for i, name in enumerate(SERVICES)}

# Cumulative TCP flags a sensor reports for each connection state.
STATE_FLAGS = np.array(
    [
        SYN | ACK | FIN | PSH,  # SF (PSH dropped below when no payload flowed)
        SYN,  # S0: SYN, no answer
        SYN | RST | ACK,  # REJ: SYN answered by RST/ACK
        SYN | ACK | PSH | RST,  # RSTO: originator aborted an established connection
        SYN | ACK | PSH | RST | FIN,  # RSTR: responder aborted
        SYN | FIN,  # SH: SYN then FIN, no SYN/ACK
        ACK | PSH,  # OTH: midstream, no handshake seen
    ],
    dtype=np.int16,
)
TCP_HEADER = 40  # IPv4 + TCP headers without options
UDP_HEADER = 28
SYN_BYTES = 60  # SYN with the usual options (MSS, SACK, timestamps, window scale)
MSS = 1448


@dataclass
class FlowBlock:
    """Flows as parallel arrays (see the module docstring for the encoding)."""

    ts: np.ndarray  # int64 microseconds since the epoch
    duration: np.ndarray  # float64 seconds
    src_ip: np.ndarray  # uint32
    src_port: np.ndarray  # int32
    dst_ip: np.ndarray  # uint32
    dst_port: np.ndarray  # int32
    proto: np.ndarray  # int8 code into PROTOS
    src_bytes: np.ndarray  # int64
    dst_bytes: np.ndarray
    src_pkts: np.ndarray
    dst_pkts: np.ndarray
    tcp_flags: np.ndarray  # int16, -1 = null
    conn_state: np.ndarray  # int8 code into CONN_STATES
    service: np.ndarray  # int8 code into SERVICES, -1 = null
    attack: np.ndarray  # int8 index into ATTACK_TYPES, -1 = benign

    def __len__(self) -> int:
        return len(self.ts)

    @classmethod
    def concat(cls, blocks: list[FlowBlock]) -> FlowBlock:
        """One block holding every flow of ``blocks`` in order."""
        return cls(
            **{f.name: np.concatenate([getattr(b, f.name) for b in blocks]) for f in fields(cls)}
        )

    def take(self, order: np.ndarray) -> FlowBlock:
        """The flows at positions ``order``."""
        return FlowBlock(**{f.name: getattr(self, f.name)[order] for f in fields(self)})


def service_codes(dst_port: np.ndarray, state: np.ndarray) -> np.ndarray:
    """Service the sensor reports: known port and payload seen (not S0/REJ/SH/OTH)."""
    lookup = np.full(65536, -1, dtype=np.int8)
    for port, name in PORT_SERVICE.items():
        lookup[port] = _SERVICE_CODE[name]
    codes = lookup[dst_port]
    no_payload = np.isin(state, (S0, REJ, SH, OTH))
    return np.where(no_payload, np.int8(-1), codes).astype(np.int8)


def ephemeral_ports(rng: np.random.Generator, n: int, windows: bool = True) -> np.ndarray:
    """Client source ports: Windows 49152-65535, Linux 32768-60999."""
    low, high = (49152, 65536) if windows else (32768, 61000)
    return rng.integers(low, high, size=n).astype(np.int32)


@dataclass
class Shape:
    """Packets, bytes (IP layer, headers included), flags and duration of flows."""

    src_pkts: np.ndarray
    dst_pkts: np.ndarray
    src_bytes: np.ndarray
    dst_bytes: np.ndarray
    tcp_flags: np.ndarray
    duration: np.ndarray


def shape_flows(
    rng: np.random.Generator,
    proto: int,
    state: np.ndarray,
    req: np.ndarray,
    resp: np.ndarray,
    duration: np.ndarray,
) -> Shape:
    """Turn payload sizes and connection states into sensor counters.

    ``req``/``resp`` are payload bytes each side wanted to send; ``state`` decides
    how much of it happened (an S0 flow is a lone SYN, a RST cut a transfer short).
    """
    n = len(state)
    req = np.asarray(req, dtype=np.float64)
    resp = np.asarray(resp, dtype=np.float64)
    if proto != TCP:
        header = UDP_HEADER
        answered = state != S0
        req_pay = np.maximum(req, 0).round()
        resp_pay = np.where(answered, np.maximum(resp, 0).round(), 0)
        src_pkts = np.maximum(1, np.ceil(req_pay / 1400))
        dst_pkts = np.where(answered, np.maximum(1, np.ceil(resp_pay / 1400)), 0)
        dur = np.where(answered, duration, 0.0)
        return Shape(
            src_pkts.astype(np.int64),
            dst_pkts.astype(np.int64),
            (req_pay + header * src_pkts).astype(np.int64),
            (resp_pay + header * dst_pkts).astype(np.int64),
            np.full(n, -1, dtype=np.int16),
            dur,
        )

    # Partial transfers for aborted connections; nothing for the handshake failures.
    cut = np.where(np.isin(state, (RSTO, RSTR, OTH)), rng.uniform(0.05, 1.0, n), 1.0)
    no_data = np.isin(state, (S0, REJ, SH))
    req_pay = np.where(no_data, 0, np.maximum(req, 0) * cut).round()
    resp_pay = np.where(no_data, 0, np.maximum(resp, 0) * cut).round()
    data_src = np.ceil(req_pay / MSS)
    data_dst = np.ceil(resp_pay / MSS)
    # Handshake + FIN/ACK overhead plus delayed ACKs for the other side's data.
    src_pkts = 3 + data_src + np.ceil(data_dst / 2)
    dst_pkts = 2 + data_dst + np.ceil(data_src / 2)
    src_bytes = req_pay + TCP_HEADER * src_pkts + (SYN_BYTES - TCP_HEADER)
    dst_bytes = resp_pay + TCP_HEADER * dst_pkts + (SYN_BYTES - TCP_HEADER)
    dur = duration.copy()

    s0 = state == S0
    retries = np.where(rng.random(n) < 0.3, rng.integers(2, 4, n), 1)
    src_pkts = np.where(s0, retries, src_pkts)
    dst_pkts = np.where(s0, 0, dst_pkts)
    src_bytes = np.where(s0, SYN_BYTES * retries, src_bytes)
    dst_bytes = np.where(s0, 0, dst_bytes)
    # SYN retransmissions back off 1 s, then 2 s.
    dur = np.where(s0, np.select([retries == 1, retries == 2], [0.0, 1.0], 3.0), dur)

    rej = state == REJ
    src_pkts = np.where(rej, 1, src_pkts)
    dst_pkts = np.where(rej, 1, dst_pkts)
    src_bytes = np.where(rej, SYN_BYTES, src_bytes)
    dst_bytes = np.where(rej, TCP_HEADER, dst_bytes)
    rtt = rng.lognormal(np.log(0.002), 1.0, n)
    dur = np.where(rej, rtt, dur)

    sh = state == SH
    src_pkts = np.where(sh, 2, src_pkts)
    dst_pkts = np.where(sh, 0, dst_pkts)
    src_bytes = np.where(sh, SYN_BYTES + TCP_HEADER, src_bytes)
    dst_bytes = np.where(sh, 0, dst_bytes)
    dur = np.where(sh, rtt, dur)

    oth = state == OTH  # no handshake seen: drop its packets
    src_pkts = np.where(oth, np.maximum(1, src_pkts - 3), src_pkts)
    dst_pkts = np.where(oth, np.maximum(1, dst_pkts - 2), dst_pkts)

    flags = STATE_FLAGS[state]
    flags = np.where((state == SF) & (req_pay + resp_pay == 0), flags & ~np.int16(PSH), flags)
    return Shape(
        src_pkts.astype(np.int64),
        dst_pkts.astype(np.int64),
        src_bytes.astype(np.int64),
        dst_bytes.astype(np.int64),
        flags.astype(np.int16),
        dur,
    )


def make_block(
    *,
    ts: np.ndarray,
    src_ip: npt.ArrayLike,
    src_port: npt.ArrayLike,
    dst_ip: npt.ArrayLike,
    dst_port: npt.ArrayLike,
    proto: int,
    state: npt.ArrayLike,
    shape: Shape,
    attack: int = -1,
    service: np.ndarray | None = None,
) -> FlowBlock:
    """Assemble a block; ``service`` defaults to what a sensor infers from port and state."""
    n = len(ts)
    dst_port = np.broadcast_to(np.asarray(dst_port, dtype=np.int32), (n,)).copy()
    state = np.broadcast_to(np.asarray(state, dtype=np.int8), (n,)).copy()
    return FlowBlock(
        ts=np.asarray(ts, dtype=np.int64),
        duration=np.round(np.maximum(shape.duration, 0.0), 6),
        src_ip=np.broadcast_to(np.asarray(src_ip, dtype=np.uint32), (n,)).copy(),
        src_port=np.broadcast_to(np.asarray(src_port, dtype=np.int32), (n,)).copy(),
        dst_ip=np.broadcast_to(np.asarray(dst_ip, dtype=np.uint32), (n,)).copy(),
        dst_port=dst_port,
        proto=np.full(n, proto, dtype=np.int8),
        src_bytes=shape.src_bytes,
        dst_bytes=shape.dst_bytes,
        src_pkts=shape.src_pkts,
        dst_pkts=shape.dst_pkts,
        tcp_flags=shape.tcp_flags,
        conn_state=state,
        service=service_codes(dst_port, state) if service is None else service,
        attack=np.full(n, attack, dtype=np.int8),
    )
