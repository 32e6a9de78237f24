"""Community ID v1 against the public specification's test vectors."""

import pytest

from nids.data.community_id import community_id


@pytest.mark.parametrize(
    ("src", "dst", "sport", "dport", "proto", "expected"),
    [
        ("128.232.110.120", "66.35.250.204", 34855, 80, "tcp", "1:LQU9qZlK+B5F3KDmev6m5PMibrg="),
        ("66.35.250.204", "128.232.110.120", 80, 34855, "tcp", "1:LQU9qZlK+B5F3KDmev6m5PMibrg="),
        ("192.168.0.89", "192.168.0.1", 8, 0, "icmp", "1:X0snYXpgwiv9TZtqg64sgzUn6Dk="),
        ("192.168.0.1", "192.168.0.89", 0, 0, "icmp", "1:X0snYXpgwiv9TZtqg64sgzUn6Dk="),
        (
            "fe80::200:86ff:fe05:80da",
            "fe80::260:97ff:fe07:69ea",
            135,
            0,
            "ipv6-icmp",
            "1:dGHyGvjMfljg6Bppwm3bg0LO8TY=",
        ),
        ("192.168.1.52", "8.8.8.8", 54585, 53, "17", "1:d/FP5EW3wiY1vCndhwleRRKHowQ="),
    ],
)
def test_spec_vectors(
    src: str, dst: str, sport: int, dport: int, proto: str, expected: str
) -> None:
    assert community_id(src, dst, sport, dport, proto) == expected


def test_unknown_protocol_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown protocol"):
        community_id("10.0.0.1", "10.0.0.2", 1, 2, "bogus")
