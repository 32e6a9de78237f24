"""Addresses relative to the home (monitored) networks.

Direction is the single most informative fact a NIDS has about a flow: an
*inbound* connection attempt from the Internet to a port the network does not serve
is what a scan or an exploitation attempt looks like, while the same volumes
*outbound* are users browsing. Membership is computed once per distinct address
(pandas factorisation), so millions of flows cost as much as their distinct hosts.
"""

from __future__ import annotations

import ipaddress
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
    member = np.zeros(len(uniques) + 1, dtype=bool)  # last slot: null address
    for i, text in enumerate(uniques):
        try:
            addr = ipaddress.ip_address(str(text).strip())
        except ValueError:
            continue
        member[i] = any(addr.version == net.version and addr in net for net in nets)
    return member[np.where(codes < 0, len(uniques), codes)]


def direction_codes(src_ip: np.ndarray, dst_ip: np.ndarray, nets: Sequence[Network]) -> np.ndarray:
    """Per flow: INBOUND, OUTBOUND, INTERNAL or EXTERNAL (int8)."""
    src_home = in_networks(src_ip, nets)
    dst_home = in_networks(dst_ip, nets)
    out = np.full(len(src_ip), EXTERNAL, dtype=np.int8)
    out[~src_home & dst_home] = INBOUND
    out[src_home & ~dst_home] = OUTBOUND
    out[src_home & dst_home] = INTERNAL
    return out
