"""Per-source sliding-window context: what the originator has been doing around a flow.

One implementation serves batch and online use. :class:`HostContextState` holds
bounded per-source and per-(source, destination) state; batch transformation runs a
*fresh* state over the ts-sorted frame, the service keeps one state across requests.
Feeding the same flows in request-sized chunks gives the same features as one batch
pass, as long as no live state had to be evicted (see "Memory" below).

Per source (``src_ip``) a ring of its last ``ring_size`` flows is kept; the features
count the ring entries no older than ``window_s`` (so counts saturate at
``ring_size``, which is far beyond normal hosts: 64 distinct ports a minute is already
a scan). Per (source, destination) pair the inter-arrival times are tracked for
beaconing (regular intervals), forgotten after ``pair_ttl_s`` of silence.

Memory: a source slot takes ``ring_size * 29 + 40`` bytes (64 entries: ~1.9 KB), a
pair slot ~56 bytes; the defaults (16,384 sources, 65,536 pairs) cap the state at
about 32 MB + 4 MB. When a table is full, slots idle for longer than their horizon
(``window_s`` for sources, ``pair_ttl_s`` for pairs) are freed, which changes no
feature; only if every slot is live is the least recently seen eighth evicted
(counted in ``stats``). Eviction happens inside the per-flow loop, so batch and
chunked online runs over the same flows stay identical even then.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numba
import numpy as np

CONTEXT_FEATURES: tuple[str, ...] = (
    "ctx_flows",
    "ctx_distinct_dst_ports",
    "ctx_distinct_dst_hosts",
    "ctx_failed_share",
    "ctx_bytes_out",
    "ctx_out_in_ratio",
    "ctx_dns_queries",
    "ctx_pair_flows",
    "ctx_pair_regularity",
)
N_CONTEXT = len(CONTEXT_FEATURES)

# Intervals shorter than this are bursts (parallel connections), not beacon periods.
_MIN_BEACON_INTERVAL_S = 1.0
# Intervals needed before a pair's regularity is reported.
_MIN_INTERVALS = 3


@dataclass
class ContextStats:
    """Counters of a state's life, for the service's metrics."""

    flows: int = 0
    hosts_evicted_live: int = 0
    pairs_evicted_live: int = 0


class _SlotTable:
    """Arrays of a bounded key -> slot map (open addressing), driven by numba code."""

    def __init__(self, capacity: int) -> None:
        size = 1
        while size < 2 * capacity:
            size *= 2
        self.index_keys = np.zeros(size, dtype=np.uint64)
        self.index_slots = np.full(size, -1, dtype=np.int64)
        self.slot_keys = np.zeros(capacity, dtype=np.uint64)
        self.used = np.zeros(capacity, dtype=np.bool_)
        self.last_seen = np.full(capacity, -np.inf)
        self.free = np.arange(capacity - 1, -1, -1, dtype=np.int64)  # a stack
        # [free stack height, live slots evicted]
        self.counters = np.array([capacity, 0], dtype=np.int64)

    @property
    def capacity(self) -> int:
        return len(self.slot_keys)

    def arrays(self) -> tuple[np.ndarray, ...]:
        return (
            self.index_keys,
            self.index_slots,
            self.slot_keys,
            self.used,
            self.last_seen,
            self.free,
            self.counters,
        )


class HostContextState:
    """Bounded per-source window state; one instance per scoring stream.

    Calls are serialised by an internal lock, so one state may be shared by the
    request handlers of one process.
    """

    def __init__(
        self,
        *,
        window_s: float = 60.0,
        ring_size: int = 64,
        max_hosts: int = 16_384,
        max_pairs: int = 65_536,
        pair_ttl_s: float = 3600.0,
    ) -> None:
        if window_s <= 0 or pair_ttl_s <= 0 or ring_size < 1 or max_hosts < 2 or max_pairs < 2:
            raise ValueError("context state sizes and horizons must be positive")
        self.window_s = float(window_s)
        self.ring_size = int(ring_size)
        self.pair_ttl_s = float(pair_ttl_s)
        self._flows = 0
        self._hosts = _SlotTable(int(max_hosts))
        self._pairs = _SlotTable(int(max_pairs))
        r = self.ring_size
        self._ring_ts = np.zeros((max_hosts, r), dtype=np.float64)
        self._ring_dst = np.zeros((max_hosts, r), dtype=np.uint64)
        self._ring_port = np.zeros((max_hosts, r), dtype=np.int32)
        self._ring_flags = np.zeros((max_hosts, r), dtype=np.uint8)  # bit0 failed, bit1 dns
        self._ring_out = np.zeros((max_hosts, r), dtype=np.float32)
        self._ring_in = np.zeros((max_hosts, r), dtype=np.float32)
        self._ring_len = np.zeros(max_hosts, dtype=np.int32)
        self._ring_head = np.zeros(max_hosts, dtype=np.int32)
        self._ring_unsorted = np.zeros(max_hosts, dtype=np.bool_)
        self._pair_n = np.zeros(max_pairs, dtype=np.int64)
        self._pair_k = np.zeros(max_pairs, dtype=np.int64)
        self._pair_mean = np.zeros(max_pairs, dtype=np.float64)
        self._pair_m2 = np.zeros(max_pairs, dtype=np.float64)
        self._lock = threading.Lock()

    @property
    def max_hosts(self) -> int:
        """Capacity of the per-source table."""
        return self._hosts.capacity

    @property
    def n_hosts(self) -> int:
        """Sources currently holding a slot."""
        return int(self._hosts.used.sum())

    @property
    def stats(self) -> ContextStats:
        """Flows seen and live slots evicted so far."""
        return ContextStats(
            flows=self._flows,
            hosts_evicted_live=int(self._hosts.counters[1]),
            pairs_evicted_live=int(self._pairs.counters[1]),
        )

    def update(
        self,
        ts: np.ndarray,
        src_ip: np.ndarray,
        dst_ip: np.ndarray,
        dst_port: np.ndarray,
        failed: np.ndarray,
        dns: np.ndarray,
        bytes_out: np.ndarray,
        bytes_in: np.ndarray,
    ) -> np.ndarray:
        """Advance the state over flows given in time order; context features (n, 9).

        ``src_ip``/``dst_ip`` are stable 64-bit hashes of the addresses (the same
        value in every call and process, e.g. ``pandas.util.hash_array``).
        """
        flags = failed.astype(np.uint8) | (dns.astype(np.uint8) << 1)
        return self.update_flags(ts, src_ip, dst_ip, dst_port, flags, bytes_out, bytes_in)

    def update_flags(
        self,
        ts: np.ndarray,
        src_ip: np.ndarray,
        dst_ip: np.ndarray,
        dst_port: np.ndarray,
        flags: np.ndarray,
        bytes_out: np.ndarray,
        bytes_in: np.ndarray,
    ) -> np.ndarray:
        """:meth:`update` with failed/DNS packed as ``flags`` (uint8: bit 0 failed,
        bit 1 DNS), as the per-flow feature pass produces them."""
        n = len(ts)
        out = np.zeros((n, N_CONTEXT), dtype=np.float64)
        if n == 0:
            return out
        src_h = np.ascontiguousarray(src_ip, dtype=np.uint64)
        dst_h = np.ascontiguousarray(dst_ip, dtype=np.uint64)
        pair_h = (src_h * np.uint64(0x9E3779B97F4A7C15)) ^ dst_h
        with self._lock:
            _context_kernel(
                np.ascontiguousarray(ts, dtype=np.float64),
                src_h,
                pair_h,
                dst_h,
                np.ascontiguousarray(dst_port, dtype=np.int32),
                np.ascontiguousarray(flags),
                np.ascontiguousarray(bytes_out, dtype=np.float32),
                np.ascontiguousarray(bytes_in, dtype=np.float32),
                self.window_s,
                self.pair_ttl_s,
                self._hosts.arrays(),
                self._pairs.arrays(),
                self._ring_ts,
                self._ring_dst,
                self._ring_port,
                self._ring_flags,
                self._ring_out,
                self._ring_in,
                self._ring_len,
                self._ring_head,
                self._ring_unsorted,
                self._pair_n,
                self._pair_k,
                self._pair_mean,
                self._pair_m2,
                out,
            )
            self._flows += n
        return out


@numba.njit(cache=True, nogil=True)
def _rebuild_index(table: tuple) -> None:
    index_keys, index_slots, slot_keys, used, _last, _free, _counters = table
    index_slots[:] = -1
    mask = len(index_slots) - 1
    for slot in range(len(slot_keys)):
        if used[slot]:
            pos = np.int64(slot_keys[slot] & np.uint64(mask))
            while index_slots[pos] >= 0:
                pos = (pos + 1) & mask
            index_keys[pos] = slot_keys[slot]
            index_slots[pos] = slot


@numba.njit(cache=True, nogil=True)
def _sweep(table: tuple, now: float, horizon: float) -> None:
    """Free idle slots (lossless); if none is idle, the least recently seen eighth."""
    _keys, _slots, _slot_keys, used, last_seen, free, counters = table
    capacity = len(used)
    top = 0
    for slot in range(capacity):
        if used[slot] and now - last_seen[slot] > horizon:
            used[slot] = False
    if not used.all():
        for slot in range(capacity - 1, -1, -1):
            if not used[slot]:
                free[top] = slot
                top += 1
    else:
        order = np.argsort(last_seen, kind="mergesort")
        for j in range(max(1, capacity // 8)):
            slot = order[j]
            used[slot] = False
            counters[1] += 1
        for slot in range(capacity - 1, -1, -1):
            if not used[slot]:
                free[top] = slot
                top += 1
    counters[0] = top
    _rebuild_index(table)


@numba.njit(cache=True, nogil=True)
def _slot_of(table: tuple, key: np.uint64, now: float, horizon: float) -> tuple[int, bool]:
    """Slot of ``key`` (allocating one if new) and whether it is new."""
    index_keys, index_slots, slot_keys, used, last_seen, free, counters = table
    mask = len(index_slots) - 1
    pos = np.int64(key & np.uint64(mask))
    while index_slots[pos] >= 0:
        if index_keys[pos] == key:
            return index_slots[pos], False
        pos = (pos + 1) & mask
    if counters[0] == 0:
        _sweep(table, now, horizon)
        pos = np.int64(key & np.uint64(mask))
        while index_slots[pos] >= 0:
            pos = (pos + 1) & mask
    counters[0] -= 1
    slot = free[counters[0]]
    used[slot] = True
    slot_keys[slot] = key
    last_seen[slot] = now
    index_keys[pos] = key
    index_slots[pos] = slot
    return slot, True


@numba.njit(cache=True, nogil=True)
def _context_kernel(
    ts: np.ndarray,
    src_h: np.ndarray,
    pair_h: np.ndarray,
    dst_h: np.ndarray,
    dst_port: np.ndarray,
    flags: np.ndarray,
    b_out: np.ndarray,
    b_in: np.ndarray,
    window: float,
    pair_ttl: float,
    hosts: tuple,
    pairs: tuple,
    ring_ts: np.ndarray,
    ring_dst: np.ndarray,
    ring_port: np.ndarray,
    ring_flags: np.ndarray,
    ring_out: np.ndarray,
    ring_in: np.ndarray,
    ring_len: np.ndarray,
    ring_head: np.ndarray,
    ring_unsorted: np.ndarray,
    pair_n: np.ndarray,
    pair_k: np.ndarray,
    pair_mean: np.ndarray,
    pair_m2: np.ndarray,
    out: np.ndarray,
) -> None:
    r = ring_ts.shape[1]
    size = 1
    while size < 2 * r:
        size *= 2
    mask = size - 1
    port_keys = np.zeros(size, dtype=np.int64)
    port_stamp = np.full(size, -1, dtype=np.int64)
    host_keys = np.zeros(size, dtype=np.uint64)
    host_stamp = np.full(size, -1, dtype=np.int64)
    host_last = hosts[4]
    pair_last = pairs[4]
    for i in range(ts.shape[0]):
        t = ts[i]
        h, new_host = _slot_of(hosts, src_h[i], t, window)
        if new_host:
            ring_len[h] = 0
            ring_head[h] = 0
            ring_unsorted[h] = False
        pos = ring_head[h]
        if ring_len[h] > 0 and t < ring_ts[h, (pos - 1) % r]:
            ring_unsorted[h] = True  # late flow: scan this host's whole ring from now on
        ring_ts[h, pos] = t
        ring_dst[h, pos] = dst_h[i]
        ring_port[h, pos] = dst_port[i]
        ring_flags[h, pos] = flags[i]
        ring_out[h, pos] = b_out[i]
        ring_in[h, pos] = b_in[i]
        ring_head[h] = (pos + 1) % r
        if ring_len[h] < r:
            ring_len[h] += 1
        host_last[h] = max(host_last[h], t)
        count = 0
        failed = 0
        dns = 0
        n_ports = 0
        n_hosts = 0
        sum_out = 0.0
        sum_in = 0.0
        for back in range(ring_len[h]):
            j = (pos - back) % r  # newest first
            if t - ring_ts[h, j] > window:
                if ring_unsorted[h]:
                    continue
                break  # in time order, everything older is outside the window too
            count += 1
            f = ring_flags[h, j]
            failed += f & 1
            dns += (f >> 1) & 1
            sum_out += ring_out[h, j]
            sum_in += ring_in[h, j]
            # distinct ports / hosts: open addressing, stamped with the flow index
            key = np.int64(ring_port[h, j])
            slot = (key * 2654435761) & mask
            while port_stamp[slot] == i and port_keys[slot] != key:
                slot = (slot + 1) & mask
            if port_stamp[slot] != i:
                port_stamp[slot] = i
                port_keys[slot] = key
                n_ports += 1
            hk = ring_dst[h, j]
            slot = np.int64(hk & np.uint64(mask))
            while host_stamp[slot] == i and host_keys[slot] != hk:
                slot = (slot + 1) & mask
            if host_stamp[slot] != i:
                host_stamp[slot] = i
                host_keys[slot] = hk
                n_hosts += 1
        out[i, 0] = math.log1p(count)
        out[i, 1] = math.log1p(n_ports)
        out[i, 2] = math.log1p(n_hosts)
        out[i, 3] = failed / count
        out[i, 4] = math.log1p(sum_out)
        out[i, 5] = math.log1p(sum_out) - math.log1p(sum_in)
        out[i, 6] = math.log1p(dns)
        # beaconing: running mean/variance of a pair's inter-arrival times
        p, new_pair = _slot_of(pairs, pair_h[i], t, pair_ttl)
        if new_pair or t - pair_last[p] > pair_ttl:
            pair_n[p] = 0
            pair_k[p] = 0
            pair_mean[p] = 0.0
            pair_m2[p] = 0.0
        elif pair_n[p] > 0:
            dt = t - pair_last[p]
            if dt >= _MIN_BEACON_INTERVAL_S:
                pair_k[p] += 1
                delta = dt - pair_mean[p]
                pair_mean[p] += delta / pair_k[p]
                pair_m2[p] += delta * (dt - pair_mean[p])
        pair_n[p] += 1
        pair_last[p] = t if pair_n[p] == 1 else max(pair_last[p], t)
        out[i, 7] = math.log1p(pair_n[p])
        k = pair_k[p]
        if k >= _MIN_INTERVALS and pair_mean[p] > 0:
            cv = math.sqrt(max(pair_m2[p] / k, 0.0)) / pair_mean[p]
            out[i, 8] = 1.0 / (1.0 + cv)
        else:
            out[i, 8] = 0.0
