"""Community ID v1 flow hashing (https://github.com/corelight/community-id-spec).

The hash lets alerts join back to Zeek, Suricata and other sensors' logs.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import struct
from collections.abc import Iterable

from nids.data.schema import proto_number

_ICMP4_PAIRS = {8: 0, 0: 8, 13: 14, 14: 13, 15: 16, 16: 15, 17: 18, 18: 17, 10: 9, 9: 10}
_ICMP6_PAIRS = {128: 129, 129: 128, 133: 134, 134: 133, 135: 136, 136: 135, 130: 131, 131: 130}
_PORTED = {6, 17, 132, 1, 58}


def community_id(
    src_ip: str, dst_ip: str, src_port: int, dst_port: int, proto: str | int, seed: int = 0
) -> str:
    """Community ID v1 of one flow, e.g. ``1:LQU9qZlK+B5F3KDmev6m5PMibrg=``.

    For ICMP/ICMPv6 ``src_port`` and ``dst_port`` carry the ICMP type and code, as
    Zeek and NetFlow report them.
    """
    number = proto if isinstance(proto, int) else proto_number(str(proto))
    if number is None:
        raise ValueError(f"unknown protocol {proto!r}")
    saddr = ipaddress.ip_address(src_ip).packed
    daddr = ipaddress.ip_address(dst_ip).packed
    sport, dport = int(src_port), int(dst_port)
    one_way = False
    if number == 1:
        sport, dport, one_way = _icmp_ports(sport, dport, _ICMP4_PAIRS)
    elif number == 58:
        sport, dport, one_way = _icmp_ports(sport, dport, _ICMP6_PAIRS)
    # Order the endpoints so both directions hash the same.
    swap = saddr > daddr if one_way else (saddr, sport) > (daddr, dport)
    if swap:
        saddr, daddr, sport, dport = daddr, saddr, dport, sport
    data = struct.pack("!H", seed) + saddr + daddr + struct.pack("!BB", number, 0)
    if number in _PORTED:
        data += struct.pack("!HH", sport, dport)
    digest = hashlib.sha1(data).digest()
    return "1:" + base64.b64encode(digest).decode("ascii")


def _icmp_ports(icmp_type: int, icmp_code: int, pairs: dict[int, int]) -> tuple[int, int, bool]:
    """Spec rule: ICMP type/code act as ports; unpaired types are one-way."""
    if icmp_type in pairs:
        return icmp_type, pairs[icmp_type], False
    return icmp_type, icmp_code, True


def community_ids(
    src_ips: Iterable[str],
    dst_ips: Iterable[str],
    src_ports: Iterable[int],
    dst_ports: Iterable[int],
    protos: Iterable[str],
) -> list[str]:
    """Vectorised convenience over columns (cached per distinct 5-tuple)."""
    cache: dict[tuple[str, str, int, int, str], str] = {}
    out: list[str] = []
    for key in zip(src_ips, dst_ips, src_ports, dst_ports, protos, strict=True):
        value = cache.get(key)
        if value is None:
            value = community_id(key[0], key[1], key[2], key[3], key[4])
            cache[key] = value
        out.append(value)
    return out
