"""Addresses relative to the home (monitored) networks.

Direction is the single most informative fact a NIDS has about a flow: an
*inbound* connection attempt from the Internet to a port the network does not serve
is what a scan or an exploitation attempt looks like, while the same volumes
*outbound* are users browsing. Membership is computed once per distinct address
(pandas factorisation), so millions of flows cost as much as their distinct hosts.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence

import numpy as np
import pandas as pd

from nids.errors import ConfigError

# Direction codes (also the key of direction-aware rarity tables).
INBOUND, OUTBOUND, INTERNAL, EXTERNAL = 0, 1, 2, 3
DIRECTION_NAMES = ("inbound", "outbound", "internal", "external")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(cidrs: Sequence[str]) -> list[Network]:
    """Parse home-network CIDRs, raising :class:`ConfigError` on a bad one."""
    nets: list[Network] = []
    for cidr in cidrs:
        try:
            nets.append(ipaddress.ip_network(str(cidr).strip(), strict=False))
        except ValueError as exc:
            raise ConfigError(
                f"home network {cidr!r} is not a CIDR", hint="e.g. 192.168.0.0/16"
            ) from exc
    return nets


def in_networks(addresses: np.ndarray, nets: Sequence[Network]) -> np.ndarray:
    """Boolean mask: which addresses fall inside any of ``nets`` (unparsable -> False)."""
    codes, uniques = pd.factorize(pd.Series(addresses, dtype=object), use_na_sentinel=True)
    member = np.append(member_of(np.asarray(uniques, dtype=object), nets), False)
    return member[np.where(codes < 0, len(uniques), codes)]


# Online scoring sees the same addresses request after request: remember membership
# per network list (bounded; cleared when full, which only costs re-parsing).
_MEMBER_CACHE: dict[tuple[Network, ...], dict[str, bool]] = {}
_MEMBER_CACHE_MAX = 200_000


def member_of(uniques: np.ndarray, nets: Sequence[Network]) -> np.ndarray:
    """Membership of distinct address strings in ``nets``."""
    if not len(uniques) or not nets:
        return np.zeros(len(uniques), dtype=bool)
    # Keyed by the network objects (hashable, equal by value): str() of each network
    # costs more than the whole lookup for a single-flow request.
    cache = _MEMBER_CACHE.setdefault(tuple(nets), {})
    # Plain lists: a request's one or two addresses cost less than numpy's fixed costs.
    keys = [str(u) for u in uniques]
    known = [cache.get(k) for k in keys]
    todo = [i for i, member in enumerate(known) if member is None]
    if todo:
        found = _member(np.asarray(uniques, dtype=object)[todo], nets).tolist()
        if len(cache) + len(todo) > _MEMBER_CACHE_MAX:
            cache.clear()
        for i, member in zip(todo, found, strict=True):
            cache[keys[i]] = known[i] = member
    return np.array(known, dtype=bool)


def _member(uniques: np.ndarray, nets: Sequence[Network]) -> np.ndarray:
    """Membership of distinct address strings (C-level parsing, ~0.5 µs an address)."""
    v4 = [(int(n.network_address), int(n.netmask)) for n in nets if n.version == 4]
    v6 = [(int(n.network_address), int(n.netmask)) for n in nets if n.version == 6]
    out = np.zeros(len(uniques), dtype=bool)
    for i, text in enumerate(uniques):
        value, version = _parse(str(text))
        if version == 4:
            out[i] = any(value & mask == net for net, mask in v4)
        elif version == 6:
            out[i] = any(value & mask == net for net, mask in v6)
    return out


def _parse(text: str) -> tuple[int, int]:
    """(address as int, IP version), version 0 when the text is not an address."""
    try:
        return int.from_bytes(socket.inet_pton(socket.AF_INET, text), "big"), 4
    except OSError:
        pass
    try:
        return int.from_bytes(
            socket.inet_pton(socket.AF_INET6, text.split("%", maxsplit=1)[0]), "big"
        ), 6
    except OSError:
        return 0, 0


def direction_codes(
    src: tuple[np.ndarray, np.ndarray], dst: tuple[np.ndarray, np.ndarray], nets: Sequence[Network]
) -> np.ndarray:
    """Per flow: INBOUND, OUTBOUND, INTERNAL or EXTERNAL (int8).

    ``src``/``dst`` are factorised addresses (codes, uniques), see ``FlowView.factorized``.
    """
    src_home = member_of(src[1], nets)[src[0]]
    dst_home = member_of(dst[1], nets)[dst[0]]
    out = np.full(len(src_home), EXTERNAL, dtype=np.int8)
    out[~src_home & dst_home] = INBOUND
    out[src_home & ~dst_home] = OUTBOUND
    out[src_home & dst_home] = INTERNAL
    return out


def home_coverage(src_ip: np.ndarray, dst_ip: np.ndarray, nets: Sequence[Network]) -> float:
    """Share of flows with at least one endpoint inside ``nets``."""
    if len(src_ip) == 0:
        return 0.0
    return float((in_networks(src_ip, nets) | in_networks(dst_ip, nets)).mean())


def infer_home_networks(
    src_ip: np.ndarray,
    dst_ip: np.ndarray,
    *,
    coverage: float = 0.9,
    max_networks: int = 256,
    prefix_v4: int = 16,
    prefix_v6: int = 48,
) -> list[str]:
    """The fewest busiest address blocks that take part in ``coverage`` of the flows.

    A sensor sees the traffic of the network it monitors, so the monitored hosts are
    the addresses present in (nearly) every flow. Addresses are grouped into the
    blocks a site is typically allocated (IPv4 /16, IPv6 /48) because hosts are
    renumbered inside their site (DHCP): a single /32 would turn the same workstation
    into an "external" host the day its lease changes. Used when the configured home
    networks match little of the training traffic.
    """
    n = len(src_ip)
    if n == 0:
        return []
    both = pd.Series(np.concatenate([src_ip, dst_ip]), dtype=object)
    addr_codes, addresses = pd.factorize(both, use_na_sentinel=True)
    blocks = np.array([_block(str(a), prefix_v4, prefix_v6) for a in addresses], dtype=object)
    block_of_addr, uniques = pd.factorize(pd.Series(blocks, dtype=object), use_na_sentinel=True)
    none = len(uniques)
    block_of_addr = np.append(np.where(block_of_addr < 0, none, block_of_addr), none)
    codes = block_of_addr[np.where(addr_codes < 0, len(addresses), addr_codes)]
    src_b, dst_b = codes[:n], codes[n:]
    # A flow counts once for a block even when both ends are inside it.
    counts = np.bincount(src_b, minlength=none + 1) + np.bincount(
        dst_b[dst_b != src_b], minlength=none + 1
    )
    counts[none] = 0
    ranking = np.argsort(-counts[:none], kind="stable")  # busiest first
    rank_of = np.full(none + 1, np.iinfo(np.int64).max, dtype=np.int64)
    rank_of[ranking] = np.arange(none)
    # A flow is covered by the top-k set iff its better-ranked endpoint is below k.
    best = np.minimum(rank_of[src_b], rank_of[dst_b])
    covered = np.bincount(best[best < none], minlength=none).cumsum() / n
    if not len(covered):
        return []
    k = min(int(np.searchsorted(covered, coverage) + 1), max_networks, none)
    return [str(uniques[i]) for i in ranking[:k]]


def _block(text: str, prefix_v4: int, prefix_v6: int) -> str | None:
    try:
        addr = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    prefix = prefix_v4 if addr.version == 4 else prefix_v6
    return str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False))
