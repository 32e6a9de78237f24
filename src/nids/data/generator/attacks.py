"""Labelled attack campaigns: an attacker, a time window and many flows with its signature.

The malicious share of all flows is split across the attack types by
:data:`ATTACK_SPLIT`; each type's flows are cut into campaigns (one attacker /
victim pair each) of a typical size, at least :data:`MIN_CAMPAIGNS` when there are
flows enough; a type's k campaigns start in the k successive k-ths of the time span
(at a random moment in each), so every part of the span sees every attack type.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from nids.data.generator.block import (
    REJ,
    RSTO,
    S0,
    SF,
    TCP,
    UDP,
    FlowBlock,
    Shape,
    ephemeral_ports,
    make_block,
    shape_flows,
)
from nids.data.generator.network import Network, random_public_ips

ATTACK_TYPES: tuple[str, ...] = (
    "portscan",
    "ddos",
    "bruteforce_ssh",
    "bruteforce_rdp",
    "exfiltration",
    "c2_beaconing",
    "dns_tunnelling",
)
#: Share of the malicious flows each attack type gets (sums to 1).
ATTACK_SPLIT: dict[str, float] = {
    "portscan": 0.25,
    "ddos": 0.25,
    "bruteforce_ssh": 0.12,
    "bruteforce_rdp": 0.08,
    "exfiltration": 0.03,
    "c2_beaconing": 0.10,
    "dns_tunnelling": 0.17,
}
MIN_CAMPAIGNS = 4
US = 1_000_000
HOUR = 3600 * US
DAY = 24 * HOUR
# Ports a scanner probes: the first 1024 plus popular higher services.
SCAN_PORTS = np.array(
    [*range(1, 1025), 1433, 1521, 2049, 2375, 3306, 3389, 5432, 5900, 5985, 6379,
     8000, 8080, 8443, 8888, 9000, 9090, 9200, 11211, 27017],
    dtype=np.int32,
)  # fmt: skip


@dataclass(frozen=True)
class Window:
    """The generated time span, in µs since the epoch."""

    start: int
    end: int

    def slot(self, i: int, k: int) -> Window:
        """The ``i``-th of ``k`` equal parts: campaigns of one type spread over the span."""
        width = (self.end - self.start) // k
        return Window(self.start + i * width, self.start + (i + 1) * width)

    def fit(self, block: FlowBlock) -> FlowBlock:
        """Move a campaign that runs past either end back inside; squeeze it if too long.

        Shifting and uniform squeezing keep the campaign's rhythm (a beacon stays
        periodic), unlike clipping, which would pile flows up at the edge. (Jitter can
        put a campaign's first flow just before the start as well as past the end.)
        """
        first, last = int(block.ts.min()), int(block.ts.max())
        if first >= self.start and last < self.end:
            return block
        length = self.end - 1 - self.start
        if last - first > length:
            block.ts = self.start + ((block.ts - first) * (length / (last - first))).astype(
                np.int64
            )
        elif first < self.start:
            block.ts = block.ts + (self.start - first)
        else:
            block.ts = block.ts - (last - (self.end - 1))
        return block

    def place(self, rng: np.random.Generator, length: int) -> int:
        """Random start of a campaign lasting ``length`` µs (clipped to the window)."""
        slack = max(0, self.end - self.start - length)
        return self.start + int(rng.integers(0, slack + 1))


def allocate(total: int, shares: dict[str, float]) -> dict[str, int]:
    """Split ``total`` by ``shares`` exactly (largest remainder); every type gets one
    flow at least when there are enough flows to go round."""
    names = list(shares)
    raw = np.array([shares[k] for k in names]) * total
    counts = np.floor(raw).astype(np.int64)
    order = np.argsort(-(raw - counts), kind="stable")
    counts[order[: total - counts.sum()]] += 1
    if total >= len(names):
        for i in np.flatnonzero(counts == 0):
            counts[np.argmax(counts)] -= 1
            counts[i] = 1
    return dict(zip(names, counts.tolist(), strict=True))


def campaign_sizes(rng: np.random.Generator, n: int, typical: int, minimum: int) -> list[int]:
    """Cut ``n`` flows into campaigns of about ``typical`` flows, none below ``minimum``."""
    if n <= 0:
        return []
    # At least a few campaigns when there are flows enough, so that every period of
    # the span (e.g. a temporal test split) sees each attack type.
    k = max(1, min(max(round(n / typical), MIN_CAMPAIGNS), n // max(1, minimum)))
    extra = rng.multinomial(n - k * min(minimum, n // k), rng.dirichlet(np.full(k, 4.0)))
    return [int(e) + min(minimum, n // k) for e in extra]


def _arrivals(rng: np.random.Generator, n: int, mean_gap_s: float) -> np.ndarray:
    """Offsets (µs) of ``n`` events with exponential gaps, starting at 0."""
    gaps = rng.exponential(mean_gap_s * US, n)
    gaps[0] = 0.0
    return np.cumsum(gaps).astype(np.int64)


def _fixed(n: int, **values: float) -> Shape:
    """A shape with the same small counters for every flow (scan/flood probes)."""
    return Shape(
        src_pkts=np.full(n, int(values.get("src_pkts", 1)), dtype=np.int64),
        dst_pkts=np.full(n, int(values.get("dst_pkts", 0)), dtype=np.int64),
        src_bytes=np.full(n, int(values.get("src_bytes", 0)), dtype=np.int64),
        dst_bytes=np.full(n, int(values.get("dst_bytes", 0)), dtype=np.int64),
        tcp_flags=np.full(n, int(values.get("tcp_flags", -1)), dtype=np.int16),
        duration=np.full(n, float(values.get("duration", 0.0))),
    )


def portscan(rng: np.random.Generator, n: int, net: Network, win: Window, code: int) -> FlowBlock:
    """One scanner probing many ports on a few hosts: lone SYNs (S0) or RSTs (REJ)."""
    external = rng.random() < 0.7
    attacker = (
        random_public_ips(rng, 1)[0] if external else net.pool("workstation").sample(rng, 1)[0]
    )
    targets = (
        np.concatenate([net.pool("web").ips, net.pool("mail").ips])
        if external
        else rng.choice(net.internal, size=int(rng.integers(1, 30)), replace=False)
    )
    rate = rng.uniform(5, 200)  # probes per second
    ts = win.place(rng, int(n / rate * US)) + _arrivals(rng, n, 1 / rate)
    ports = rng.permutation(SCAN_PORTS)[np.arange(n) % len(SCAN_PORTS)]
    # SYN scanners reuse one source port; connect() scans take a fresh one each time.
    sport = (
        np.full(n, rng.integers(32768, 61000), dtype=np.int32)
        if rng.random() < 0.8
        else ephemeral_ports(rng, n, windows=False)
    )
    state = np.where(rng.random(n) < (0.85 if external else 0.3), S0, REJ).astype(np.int8)
    shape = _fixed(n, src_pkts=1, src_bytes=44, tcp_flags=2)
    rej = state == REJ
    shape.dst_pkts[rej] = 1
    shape.dst_bytes[rej] = 40
    shape.tcp_flags[rej] = 22
    shape.duration[rej] = rng.lognormal(np.log(0.002), 0.8, int(rej.sum()))
    return make_block(
        ts=ts, src_ip=attacker, src_port=sport, dst_ip=rng.choice(targets, n),
        dst_port=ports, proto=TCP, state=state, shape=shape, attack=code,
    )  # fmt: skip


def ddos(rng: np.random.Generator, n: int, net: Network, win: Window, code: int) -> FlowBlock:
    """SYN flood: spoofed sources hammer one web server with unanswered SYNs."""
    victim = net.pool("web").sample(rng, 1)[0]
    rate = rng.uniform(200, 2000)
    ts = win.place(rng, int(n / rate * US)) + _arrivals(rng, n, 1 / rate)
    shape = _fixed(n, src_pkts=1, src_bytes=rng.choice([40, 44, 60]), tcp_flags=2)
    return make_block(
        ts=ts, src_ip=random_public_ips(rng, n), src_port=rng.integers(1024, 65536, n),
        dst_ip=victim, dst_port=int(rng.choice([80, 443])), proto=TCP,
        state=np.full(n, S0), shape=shape, attack=code,
    )  # fmt: skip


def _bruteforce(
    rng: np.random.Generator,
    n: int,
    net: Network,
    win: Window,
    code: int,
    *,
    port: int,
    targets: str,
    sizes: tuple[float, float, int, int],
) -> FlowBlock:
    """One source, one target, many short logins of near-identical size."""
    external = rng.random() < 0.8
    attacker = (
        random_public_ips(rng, 1)[0] if external else net.pool("workstation").sample(rng, 1)[0]
    )
    victim = net.pool(targets).sample(rng, 1)[0]
    period = rng.uniform(1.0, 4.0)
    ts = win.place(rng, int(n * period * US)) + np.cumsum(
        period * US * rng.lognormal(0.0, 0.3, n)
    ).astype(np.int64)
    src_bytes, dst_bytes, src_pkts, dst_pkts = sizes
    state = np.where(rng.random(n) < 0.85, SF, RSTO).astype(np.int8)
    shape = Shape(
        src_pkts=src_pkts + rng.integers(0, 3, n),
        dst_pkts=dst_pkts + rng.integers(0, 3, n),
        src_bytes=rng.normal(src_bytes, src_bytes * 0.03, n).astype(np.int64),
        dst_bytes=rng.normal(dst_bytes, dst_bytes * 0.03, n).astype(np.int64),
        tcp_flags=np.where(state == SF, 27, 30).astype(np.int16),
        duration=rng.uniform(0.5, 3.0, n),
    )
    # Tools open connections back to back: the OS hands out consecutive ports.
    base = int(rng.integers(49152, 60000))
    sport = (base + np.arange(n) % 5000).astype(np.int32)
    return make_block(
        ts=ts, src_ip=attacker, src_port=sport, dst_ip=victim, dst_port=port,
        proto=TCP, state=state, shape=shape, attack=code,
    )  # fmt: skip


def bruteforce_ssh(
    rng: np.random.Generator, n: int, net: Network, win: Window, code: int
) -> FlowBlock:
    """Password guessing against SSH on one server."""
    return _bruteforce(rng, n, net, win, code, port=22, targets="any_server",
                       sizes=(2200.0, 3100.0, 14, 12))  # fmt: skip


def bruteforce_rdp(
    rng: np.random.Generator, n: int, net: Network, win: Window, code: int
) -> FlowBlock:
    """Password guessing against RDP on one Windows host."""
    return _bruteforce(rng, n, net, win, code, port=3389, targets="windows_server",
                       sizes=(3500.0, 7000.0, 20, 18))  # fmt: skip


def exfiltration(
    rng: np.random.Generator, n: int, net: Network, win: Window, code: int
) -> FlowBlock:
    """An internal host uploads huge volumes to a never-seen external host at night."""
    source = net.pool(str(rng.choice(["workstation", "file", "db"]))).sample(rng, 1)[0]
    dest = random_public_ips(rng, 1)[0]
    port = int(rng.choice([443, 443, 22, 8443]))
    gap = rng.uniform(120, 600)
    length = int(n * gap * US)
    # Start between 01:00 and 04:00 on a random day when the window allows it.
    days = np.arange(win.start // DAY, win.end // DAY + 1) * DAY + HOUR
    days = days[(days >= win.start) & (days + length <= win.end)]
    start = (
        int(rng.choice(days) + rng.integers(0, 3 * HOUR)) if len(days) else win.place(rng, length)
    )
    ts = start + _arrivals(rng, n, gap)
    req = rng.lognormal(np.log(2e8), 0.8, n)
    throughput = rng.uniform(2e6, 2e7, n)
    shape = shape_flows(
        rng, TCP, np.full(n, SF, dtype=np.int8), req, rng.uniform(2e3, 2e4, n), req / throughput
    )
    return make_block(
        ts=ts, src_ip=source, src_port=ephemeral_ports(rng, n), dst_ip=dest, dst_port=port,
        proto=TCP, state=np.full(n, SF), shape=shape, attack=code,
    )  # fmt: skip


def c2_beaconing(
    rng: np.random.Generator, n: int, net: Network, win: Window, code: int
) -> FlowBlock:
    """An implant calls home to one external IP at a fixed period (±8 % jitter)."""
    source = net.pool("workstation").sample(rng, 1)[0]
    dest = random_public_ips(rng, 1)[0]
    period = min(float(rng.choice([30, 60, 120, 300])), (win.end - win.start) / US / (n + 1))
    k = np.arange(n)
    jitter = rng.uniform(-0.08, 0.08, n)
    ts = win.place(rng, int(n * period * US)) + ((k + jitter) * period * US).astype(np.int64)
    req, resp = rng.uniform(250, 450), rng.uniform(150, 400)
    shape = shape_flows(
        rng, TCP, np.full(n, SF, dtype=np.int8),
        req + rng.integers(-8, 9, n), resp + rng.integers(-8, 9, n), rng.uniform(0.1, 0.4, n),
    )  # fmt: skip
    return make_block(
        ts=ts, src_ip=source, src_port=ephemeral_ports(rng, n), dst_ip=dest,
        dst_port=int(rng.choice([443, 443, 443, 80])), proto=TCP,
        state=np.full(n, SF), shape=shape, attack=code,
    )  # fmt: skip


def dns_tunnelling(
    rng: np.random.Generator, n: int, net: Network, win: Window, code: int
) -> FlowBlock:
    """Data smuggled in long DNS query names and TXT answers, several queries a second."""
    source = net.pool("workstation").sample(rng, 1)[0]
    resolver = (
        net.pool("dns").sample(rng, 1)[0] if rng.random() < 0.7 else random_public_ips(rng, 1)[0]
    )
    gap = rng.uniform(0.1, 1.0)
    ts = win.place(rng, int(n * gap * US)) + _arrivals(rng, n, gap)
    shape = shape_flows(
        rng, UDP, np.full(n, SF, dtype=np.int8),
        rng.uniform(120, 250, n), rng.uniform(150, 480, n), rng.uniform(0.01, 0.2, n),
    )  # fmt: skip
    return make_block(
        ts=ts, src_ip=source, src_port=ephemeral_ports(rng, n), dst_ip=resolver,
        dst_port=53, proto=UDP, state=np.full(n, SF), shape=shape, attack=code,
    )  # fmt: skip


Campaign = Callable[[np.random.Generator, int, Network, Window, int], FlowBlock]
#: Campaign function, typical and minimum flows per campaign for each attack type.
CAMPAIGNS: dict[str, tuple[Campaign, int, int]] = {
    "portscan": (portscan, 800, 120),
    "ddos": (ddos, 3000, 200),
    "bruteforce_ssh": (bruteforce_ssh, 600, 50),
    "bruteforce_rdp": (bruteforce_rdp, 600, 50),
    "exfiltration": (exfiltration, 15, 3),
    "c2_beaconing": (c2_beaconing, 400, 30),
    "dns_tunnelling": (dns_tunnelling, 2000, 100),
}


def generate_attacks(
    rng: np.random.Generator, n: int, net: Network, win: Window
) -> list[FlowBlock]:
    """``n`` malicious flows split across :data:`ATTACK_TYPES` by :data:`ATTACK_SPLIT`."""
    blocks: list[FlowBlock] = []
    for name, count in allocate(n, ATTACK_SPLIT).items():
        func, typical, minimum = CAMPAIGNS[name]
        code = ATTACK_TYPES.index(name)
        sizes = campaign_sizes(rng, count, typical, minimum)
        for i, size in enumerate(sizes):
            slot = win.slot(i, len(sizes))
            blocks.append(slot.fit(func(rng, size, net, slot, code)))
    return blocks
