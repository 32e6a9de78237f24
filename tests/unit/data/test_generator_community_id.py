"""The generator's vectorised Community ID equals the reference implementation."""

from __future__ import annotations

import ipaddress

import numpy as np

from nids.data.community_id import community_id
from nids.data.generator.frame import ipv4_community_ids


def _ints(*ips: str) -> np.ndarray:
    return np.array([int(ipaddress.IPv4Address(ip)) for ip in ips], dtype=np.uint32)


def test_spec_test_vectors() -> None:
    # From the Community ID spec's baseline test vectors (seed 0).
    got = ipv4_community_ids(
        _ints("128.232.110.120", "66.35.250.204"),
        _ints("66.35.250.204", "128.232.110.120"),
        np.array([34855, 80]),
        np.array([80, 34855]),
        6,
    )
    assert [g.decode() for g in got] == ["1:LQU9qZlK+B5F3KDmev6m5PMibrg="] * 2


def test_random_flows_match_reference() -> None:
    rng = np.random.default_rng(0)
    n = 3_000
    src = rng.integers(0, 2**32, n, dtype=np.uint32)
    dst = rng.integers(0, 2**32, n, dtype=np.uint32)
    dst[:100] = src[:100]  # same address both sides: the ports decide the order
    sport = rng.integers(0, 65536, n)
    dport = rng.integers(0, 65536, n)
    for proto, name in ((6, "tcp"), (17, "udp")):
        got = ipv4_community_ids(src, dst, sport, dport, proto)
        for i in range(n):
            expected = community_id(
                str(ipaddress.IPv4Address(int(src[i]))),
                str(ipaddress.IPv4Address(int(dst[i]))),
                int(sport[i]),
                int(dport[i]),
                name,
            )
            assert got[i].decode() == expected
