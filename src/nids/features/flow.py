"""Per-flow features: what one flow record says on its own, in network terms.

All per-flow groups (volume, rate, port, service, protocol, state, direction, time,
rarity; see ``docs/features.md``) are computed by one compiled pass over the flows,
:func:`flow_features`, which writes the transformer's feature-major matrix rows
directly. Text columns enter as factorised codes with small per-distinct-value tables
(protocol class, recognised services, Zeek state class, home-network membership), so
the pass never touches a string. Training, evaluation, batch scoring and the service
all go through it.

The transcendental functions (``log1p``, ``log``, ``sin``, ``cos``) are applied
afterwards with numpy over whole matrix rows: numpy's SIMD ``log1p``/``log`` differ
from the C library's (which compiled code calls) in the last bit for a few percent of
inputs, and keeping numpy's keeps the features bit-identical to the earlier numpy
implementation and to every model trained on it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numba
import numpy as np

from nids.data.schema import ACK, FIN, RST, SYN
from nids.features.columns import FlowView
from nids.features.network import EXTERNAL, INBOUND, INTERNAL, OUTBOUND, Network, member_of
from nids.features.rarity import proto_code, service_ratios

# Zeek connection states by what they mean for the connection attempt.
_ESTABLISHED = {"sf", "s1", "s2", "s3", "rsto", "rstr"}
_HALF_OPEN = {"s0", "rstos0"}  # SYN sent, nothing came back
_MIDSTREAM = {"oth", "sh", "shr", "rstrh"}  # no handshake seen by the sensor
_RESET = {"rsto", "rstr", "rstos0", "rstrh"}

WELL_KNOWN_MAX = 1023
REGISTERED_MAX = 49151

_SERVICES = ("dns", "http", "ssl", "ssh")

#: The per-flow feature groups (each the unit of an ablation) in matrix order, as the
#: compiled pass computes them; the transformer's ``FEATURE_GROUPS`` adds the context.
FLOW_GROUPS: dict[str, tuple[str, ...]] = {
    "volume": (
        "log_src_bytes",
        "log_dst_bytes",
        "log_src_pkts",
        "log_dst_pkts",
        "src_bytes_per_pkt",
        "dst_bytes_per_pkt",
        "byte_asymmetry",  # +1 in the denominator keeps empty flows at 0, not undefined
        "pkt_asymmetry",
    ),
    # A floor of 1 ms keeps instant flows finite.
    "rate": ("log_duration", "log_bytes_per_s", "log_pkts_per_s"),
    # IANA class of the responder port; a low originator port is a server talking or a
    # crafted packet (clients use ephemeral ones).
    "port": ("dst_port_well_known", "dst_port_registered", "dst_port_ephemeral", "src_port_low"),
    # The application protocol the sensor recognised. No "recognised" flag: a connection
    # that never completes carries no payload, so it would count every failed attempt twice.
    "service": ("service_dns", "service_http", "service_ssl", "service_ssh"),
    # One-hot groups drop their reference level (TCP; neither end at home): complementary
    # columns would state one fact twice, and an isolation forest, which picks split
    # features uniformly, would weigh that fact double.
    "protocol": ("proto_udp", "proto_icmp", "proto_other"),
    # Zeek's conn_state, else derived from TCP flags and the responder's packets.
    "state": (
        "state_half_open",
        "state_rejected",
        "state_no_reply",
        "state_established",
        "state_reset",
        "state_midstream",
        "state_completed",
    ),
    "direction": ("dir_inbound", "dir_outbound", "dir_internal"),
    # Hour of day (UTC) on the unit circle, so 23:59 is next to 00:00.
    "time": ("hour_sin", "hour_cos"),
    # log((N + 1) / (count + 1)) of the (direction, protocol, port) and (direction,
    # service) seen at fit.
    "rarity": ("port_rarity", "service_rarity"),
}
#: The per-flow features in the compiled pass's order.
FLOW_FEATURES: tuple[str, ...] = tuple(n for names in FLOW_GROUPS.values() for n in names)
N_FLOW_FEATURES = len(FLOW_FEATURES)
_INDEX = {name: i for i, name in enumerate(FLOW_FEATURES)}

# Which transcendental numpy applies to a feature's row after the compiled pass.
_LOG1P = frozenset(FLOW_FEATURES[:6]) | {"log_duration", "log_bytes_per_s", "log_pkts_per_s"}
_AFTER: tuple[tuple[str, np.ufunc, frozenset[str]], ...] = (
    ("log1p", np.log1p, _LOG1P),
    ("log", np.log, frozenset({"port_rarity", "service_rarity"})),
    ("sin", np.sin, frozenset({"hour_sin"})),
    ("cos", np.cos, frozenset({"hour_cos"})),
)

# Bits of the per-distinct-value tables.
_TCP, _UDP, _ICMP, _PORTED = 1, 2, 4, 8
_S_KNOWN, _S_HALF_OPEN, _S_REJ, _S_EST, _S_RESET, _S_MID, _S_SF = 1, 2, 4, 8, 16, 32, 64
#: Bits of the context kernel's per-flow flags (see ``HostContextState``).
CTX_FAILED, CTX_DNS = 1, 2


class FlowLayout:
    """Where the compiled pass writes: each per-flow feature's matrix row (or -1),
    and the row ranges numpy's transcendentals then run over."""

    def __init__(self, feature_names: Sequence[str]) -> None:
        position = {name: j for j, name in enumerate(feature_names)}
        self.rows = np.array([position.get(name, -1) for name in FLOW_FEATURES], dtype=np.int64)
        self.after: list[tuple[np.ufunc, int, int]] = []
        for _label, ufunc, names in _AFTER:
            rows = sorted(position[n] for n in names if n in position)
            for start, stop in _runs(rows):
                self.after.append((ufunc, start, stop))


def _runs(rows: list[int]) -> list[tuple[int, int]]:
    """Contiguous [start, stop) ranges of sorted row numbers."""
    runs: list[tuple[int, int]] = []
    for r in rows:
        if runs and runs[-1][1] == r:
            runs[-1] = (runs[-1][0], r + 1)
        else:
            runs.append((r, r + 1))
    return runs


# The per-distinct-value tables of the values requests repeat (a few protocols, states
# and services), by the tuple of distinct values; bounded, cleared when full.
_TABLES: dict[tuple[str, tuple[str, ...]], Any] = {}
_TABLES_MAX = 4096
_TABLE_VALUES_MAX = 32  # longer lists of distinct values are computed, not remembered


def _remembered(kind: str, uniques: np.ndarray, build: Callable[[np.ndarray], Any]) -> Any:
    if len(uniques) > _TABLE_VALUES_MAX:
        return build(uniques)
    key = (kind, tuple(uniques.tolist()))
    table = _TABLES.get(key)
    if table is None:
        if len(_TABLES) >= _TABLES_MAX:
            _TABLES.clear()
        table = _TABLES[key] = build(uniques)
    return table


def proto_table(uniques: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per distinct (normalised) protocol: class bits and protocol number for rarity."""
    bits = np.zeros(len(uniques), dtype=np.int64)
    numbers = np.zeros(len(uniques), dtype=np.int64)
    for k, u in enumerate(uniques):
        text = str(u)
        b = 0
        if text == "tcp":
            b |= _TCP
        elif text == "udp":
            b |= _UDP
        elif text in ("icmp", "ipv6-icmp"):
            b |= _ICMP
        if text in ("tcp", "udp", "sctp"):
            b |= _PORTED
        bits[k] = b
        numbers[k] = proto_code(text)
    return bits, numbers


def service_table(uniques: np.ndarray) -> np.ndarray:
    """Per distinct service value: bit j set when ``_SERVICES[j]`` was recognised.

    Zeek reports multi-detections comma-separated ("ssl,http").
    """
    bits = np.zeros(len(uniques), dtype=np.int64)
    for k, u in enumerate(uniques):
        parts = str(u).split(",")
        bits[k] = sum(1 << j for j, name in enumerate(_SERVICES) if name in parts)
    return bits


def state_table(uniques: np.ndarray) -> np.ndarray:
    """Per distinct Zeek ``conn_state``: what it says about the connection attempt."""
    bits = np.zeros(len(uniques), dtype=np.int64)
    for k, u in enumerate(uniques):
        text = str(u)
        b = _S_KNOWN if text != "" else 0
        if text in _HALF_OPEN:
            b |= _S_HALF_OPEN
        if text == "rej":
            b |= _S_REJ
        if text in _ESTABLISHED:
            b |= _S_EST
        if text in _RESET:
            b |= _S_RESET
        if text in _MIDSTREAM:
            b |= _S_MID
        if text == "sf":
            b |= _S_SF
        bits[k] = b
    return bits


def flow_features(
    v: FlowView,
    nets: Sequence[Network],
    port_rarity: tuple[np.ndarray, np.ndarray],
    service_rarity: tuple[np.ndarray, np.ndarray],
    layout: FlowLayout,
    matrix: np.ndarray,
) -> np.ndarray:
    """Fill ``matrix`` (features x flows) with the per-flow features; the context
    kernel's per-flow flags (``CTX_FAILED``/``CTX_DNS`` bits) are returned.

    ``port_rarity`` and ``service_rarity`` are the fitted rarity tables (sorted keys,
    counts) of (direction, protocol, port) and "direction|service".
    """
    proto_codes, protos = v.factorized("proto")
    proto_bits, proto_numbers = _remembered("proto", protos, proto_table)
    service_codes, services = v.factorized("service")
    state_codes, states = v.factorized("conn_state")
    keys, counts = port_rarity
    table_keys, table_counts = service_rarity
    # The service ratios depend on the fitted table too: remembered per table object
    # (held by the key's entry, so its id cannot be reused meanwhile).
    _keys, _counts, service_ratio = _remembered(
        f"service_ratio:{id(table_keys)}:{id(table_counts)}",
        services,
        lambda u: (table_keys, table_counts, service_ratios(u, table_keys, table_counts)),
    )
    src_codes, src_uniques = v.factorized("src_ip")
    dst_codes, dst_uniques = v.factorized("dst_ip")
    flags, flags_known = v.tcp_flags
    ctx_flags = np.empty(len(v), dtype=np.uint8)
    _flow_kernel(
        v.numeric("src_bytes"),
        v.numeric("dst_bytes"),
        v.numeric("src_pkts"),
        v.numeric("dst_pkts"),
        v.numeric("duration"),
        v.numeric("dst_port"),
        v.numeric("src_port"),
        v.epoch_seconds,
        flags,
        flags_known,
        proto_codes,
        proto_bits,
        proto_numbers,
        service_codes,
        _remembered("service", services, service_table),
        state_codes,
        _remembered("state", states, state_table),
        src_codes,
        member_of(src_uniques, nets),
        dst_codes,
        member_of(dst_uniques, nets),
        keys,
        counts,
        float(counts.sum()),
        service_ratio,
        layout.rows,
        matrix,
        ctx_flags,
    )
    for ufunc, start, stop in layout.after:
        block = matrix[start:stop]
        ufunc(block, out=block)
    return ctx_flags


@numba.njit(cache=True, nogil=True)
def _nonneg(x: float) -> float:
    """``np.maximum(x, 0.0)`` (NaN stays NaN)."""
    return x if (x >= 0.0 or math.isnan(x)) else 0.0


@numba.njit(cache=True, nogil=True)
def _mod_day(s: float) -> float:
    """``np.mod(s, 86400.0)``: the remainder with the divisor's sign, as numpy computes it."""
    m = np.fmod(s, 86400.0)
    if m != 0.0:
        if m < 0.0:
            m += 86400.0
    else:
        m = 0.0
    return m


@numba.njit(cache=True, nogil=True)
def _flow_kernel(
    sb: np.ndarray,
    db: np.ndarray,
    sp: np.ndarray,
    dp: np.ndarray,
    dur: np.ndarray,
    dport: np.ndarray,
    sport: np.ndarray,
    seconds: np.ndarray,
    tcp_flags: np.ndarray,
    flags_known: np.ndarray,
    proto_codes: np.ndarray,
    proto_bits: np.ndarray,
    proto_numbers: np.ndarray,
    service_codes: np.ndarray,
    service_bits: np.ndarray,
    state_codes: np.ndarray,
    state_bits: np.ndarray,
    src_codes: np.ndarray,
    src_home: np.ndarray,
    dst_codes: np.ndarray,
    dst_home: np.ndarray,
    port_keys: np.ndarray,
    port_counts: np.ndarray,
    port_total: float,
    service_ratio: np.ndarray,
    rows: np.ndarray,
    out: np.ndarray,
    ctx_flags: np.ndarray,
) -> None:
    """One pass over the flows; the arguments are FlowView's clean columns (finite,
    non-negative floats), codes with their per-distinct-value tables, and the fitted
    rarity tables. log1p/log/sin/cos rows get their arguments (numpy finishes them)."""
    nf = rows.shape[0]
    vals = np.zeros(nf, dtype=np.float64)
    n_keys = port_keys.shape[0]
    two_pi = 2.0 * np.pi
    for i in range(sb.shape[0]):
        s_b, d_b, s_p, d_p = sb[i], db[i], sp[i], dp[i]
        # volume
        vals[0] = _nonneg(s_b)
        vals[1] = _nonneg(d_b)
        vals[2] = _nonneg(s_p)
        vals[3] = _nonneg(d_p)
        vals[4] = _nonneg(s_b / max(s_p, 1.0))
        vals[5] = _nonneg(d_b / max(d_p, 1.0))
        vals[6] = (s_b - d_b) / (s_b + d_b + 1.0)
        vals[7] = (s_p - d_p) / (s_p + d_p + 1.0)
        # rate
        d = dur[i]
        span = max(d, 1e-3)
        vals[8] = _nonneg(d)
        vals[9] = _nonneg((s_b + d_b) / span)
        vals[10] = _nonneg((s_p + d_p) / span)
        # port
        pc = proto_codes[i]
        pbits = proto_bits[pc]
        ported = (pbits & _PORTED) != 0
        dpt = dport[i]
        vals[11] = 1.0 if ported and dpt <= WELL_KNOWN_MAX else 0.0
        vals[12] = 1.0 if ported and dpt > WELL_KNOWN_MAX and dpt <= REGISTERED_MAX else 0.0
        vals[13] = 1.0 if ported and dpt > REGISTERED_MAX else 0.0
        vals[14] = 1.0 if ported and sport[i] <= WELL_KNOWN_MAX else 0.0
        # service
        sc = service_codes[i]
        sbits = service_bits[sc]
        for j in range(4):
            vals[15 + j] = 1.0 if (sbits >> j) & 1 else 0.0
        # protocol
        tcp = (pbits & _TCP) != 0
        udp = (pbits & _UDP) != 0
        icmp = (pbits & _ICMP) != 0
        vals[19] = 1.0 if udp else 0.0
        vals[20] = 1.0 if icmp else 0.0
        vals[21] = 0.0 if (tcp or udp or icmp) else 1.0
        # state
        st = state_bits[state_codes[i]]
        derive = (st & _S_KNOWN) == 0 and flags_known[i] and tcp
        fl = tcp_flags[i]
        syn = (fl & SYN) > 0
        ack = (fl & ACK) > 0
        rst = (fl & RST) > 0
        fin = (fl & FIN) > 0
        no_reply = d_p <= 0
        half_open = (st & _S_HALF_OPEN) != 0 or (derive and syn and not ack and no_reply)
        rejected = (st & _S_REJ) != 0 or (derive and syn and rst and not fin and d_p <= 1)
        established = (st & _S_EST) != 0 or (
            derive and syn and ack and not no_reply and not rejected
        )
        reset = (st & _S_RESET) != 0 or (derive and rst and not rejected)
        midstream = (st & _S_MID) != 0 or (derive and not syn and ack)
        completed = (st & _S_SF) != 0 or (
            derive and syn and ack and fin and not rst and not no_reply
        )
        vals[22] = 1.0 if half_open else 0.0
        vals[23] = 1.0 if rejected else 0.0
        vals[24] = 1.0 if no_reply else 0.0
        vals[25] = 1.0 if established else 0.0
        vals[26] = 1.0 if reset else 0.0
        vals[27] = 1.0 if midstream else 0.0
        vals[28] = 1.0 if completed else 0.0
        failed = half_open or rejected or (no_reply and not established)
        dns = (sbits & 1) != 0 or (udp and dpt == 53)
        ctx_flags[i] = (CTX_FAILED if failed else 0) | (CTX_DNS if dns else 0)
        # direction (network.direction_codes per flow)
        d_home = dst_home[dst_codes[i]]
        if src_home[src_codes[i]]:
            direction = INTERNAL if d_home else OUTBOUND
        else:
            direction = INBOUND if d_home else EXTERNAL
        vals[29] = 1.0 if direction == INBOUND else 0.0
        vals[30] = 1.0 if direction == OUTBOUND else 0.0
        vals[31] = 1.0 if direction == INTERNAL else 0.0
        # time: the angle (numpy takes sin and cos)
        angle = two_pi * (_mod_day(seconds[i]) / 86400.0)
        vals[32] = angle
        vals[33] = angle
        # rarity: the ratio (numpy takes the log)
        key = (
            (np.int64(direction) << 32)
            | (proto_numbers[pc] << 16)
            | np.int64(min(max(dpt, 0.0), 65535.0))
        )
        lo, hi = 0, n_keys
        while lo < hi:  # np.searchsorted(port_keys, key, side="left")
            mid = (lo + hi) >> 1
            if port_keys[mid] < key:
                lo = mid + 1
            else:
                hi = mid
        count = port_counts[lo] if lo < n_keys and port_keys[lo] == key else 0.0
        vals[34] = (port_total + 1.0) / (count + 1.0)
        vals[35] = service_ratio[direction, sc]
        for f in range(nf):
            r = rows[f]
            if r >= 0:
                out[r, i] = vals[f]
