"""The simulated enterprise: internal hosts in roles, and the internet around them.

Addresses are kept as ``uint32`` (IPv4) everywhere inside the generator and turned
into text once, when the frame is built (:func:`ipv4_strings`).

Layout inside ``home_cidr`` (offsets from the network address, so any IPv4 network
of at least /20 works): servers in the second /24 (``10.0.1.x`` for the default
``10.0.0.0/16``), workstations from the eleventh /24 on (``10.0.10.1`` ...).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

import numpy as np

from nids.errors import ConfigError

#: Internal server roles and how many hosts each has.
SERVER_ROLES: dict[str, int] = {
    "dns": 2,  # internal resolvers
    "proxy": 2,  # web proxies
    "web": 3,  # public-facing web servers (DMZ)
    "file": 2,  # SMB file servers
    "mail": 2,
    "db": 3,  # PostgreSQL / MySQL
    "dc": 2,  # domain controllers: LDAP, Kerberos, NTP
    "app": 4,  # internal application servers (DB clients)
    "backup": 1,
}
N_WORKSTATIONS = 600
N_ADMINS = 20  # workstations whose users legitimately use SSH/RDP
_MIN_ADDRESSES = 4096  # servers + workstations must fit in home_cidr

# First octets of the public IPv4 space we draw internet hosts from: everything
# unicast except private, loopback, link-local, CGNAT, benchmark and documentation
# blocks (whole /8s are skipped to keep the rule simple).
_EXCLUDED_FIRST_OCTETS = {0, 10, 100, 127, 169, 172, 192, 198, 203}
PUBLIC_FIRST_OCTETS = np.array(
    [o for o in range(1, 224) if o not in _EXCLUDED_FIRST_OCTETS], dtype=np.uint32
)

#: Well-known public resolvers the internal DNS servers forward to.
DNS_UPSTREAMS = ("8.8.8.8", "8.8.4.4", "1.1.1.1", "9.9.9.9")


def ip_int(text: str) -> int:
    """Integer value of an IPv4 address."""
    return int(ipaddress.IPv4Address(text))


def random_public_ips(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` random public unicast IPv4 addresses (uint32)."""
    first = rng.choice(PUBLIC_FIRST_OCTETS, size=n)
    rest = rng.integers(0, 1 << 24, size=n, dtype=np.uint32)
    # Avoid .0 and .255 host parts, which look like network/broadcast addresses.
    rest = (rest & ~np.uint32(0xFF)) | rng.integers(1, 255, size=n, dtype=np.uint32)
    return (first << np.uint32(24)) | rest


def zipf_weights(n: int, exponent: float = 1.1) -> np.ndarray:
    """Popularity weights 1/rank^exponent, normalised (a few sites get most traffic)."""
    weights = 1.0 / np.arange(1, n + 1, dtype=np.float64) ** exponent
    return weights / weights.sum()


@dataclass(frozen=True)
class Pool:
    """A set of hosts of one kind with the probability of each being picked."""

    ips: np.ndarray  # uint32
    weights: np.ndarray  # float64, sums to 1

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` addresses drawn by weight."""
        if len(self.ips) == 1:
            return np.full(n, self.ips[0], dtype=np.uint32)
        return self.ips[rng.choice(len(self.ips), size=n, p=self.weights)]


def _uniform(ips: np.ndarray) -> Pool:
    return Pool(ips.astype(np.uint32), np.full(len(ips), 1.0 / len(ips)))


@dataclass(frozen=True)
class Network:
    """Every host the generator can use, by role (internal) or pool (internet)."""

    home: ipaddress.IPv4Network
    pools: dict[str, Pool] = field(default_factory=dict)

    def pool(self, name: str) -> Pool:
        """The pool of a role/pool name (``workstation``, ``dns``, ``internet``...)."""
        return self.pools[name]

    @property
    def servers(self) -> np.ndarray:
        """Every internal server address."""
        return np.concatenate([self.pools[role].ips for role in SERVER_ROLES])

    @property
    def internal(self) -> np.ndarray:
        """Every internal address (servers and workstations)."""
        return np.concatenate([self.servers, self.pools["workstation"].ips])


def parse_home_cidr(home_cidr: str) -> ipaddress.IPv4Network:
    """Validate ``home_cidr``: an IPv4 network large enough for the simulated site."""
    try:
        net = ipaddress.ip_network(home_cidr, strict=False)
    except ValueError as exc:
        raise ConfigError(f"home_cidr {home_cidr!r} is not a network: {exc}") from exc
    if not isinstance(net, ipaddress.IPv4Network):
        raise ConfigError(f"home_cidr {home_cidr!r}: the generator simulates IPv4 networks only")
    if net.num_addresses < _MIN_ADDRESSES:
        raise ConfigError(
            f"home_cidr {home_cidr!r} is too small: the simulated site needs a /20 or larger"
        )
    return net


def build_network(rng: np.random.Generator, home_cidr: str = "10.0.0.0/16") -> Network:
    """Create the site: servers by role, workstations with uneven activity, internet pools."""
    home = parse_home_cidr(home_cidr)
    base = int(home.network_address)
    pools: dict[str, Pool] = {}
    offset = 256 + 10  # 10.0.1.10 onwards
    for role, count in SERVER_ROLES.items():
        pools[role] = _uniform(np.arange(base + offset, base + offset + count))
        offset += 10
    k = np.arange(N_WORKSTATIONS)
    ws = base + 256 * (10 + k // 250) + 1 + k % 250
    # Some users are much busier than others.
    activity = rng.lognormal(0.0, 1.0, N_WORKSTATIONS)
    pools["workstation"] = Pool(ws.astype(np.uint32), activity / activity.sum())
    pools["admin"] = _uniform(ws[:N_ADMINS])
    pools["windows_server"] = _uniform(
        np.concatenate([pools[r].ips for r in ("file", "dc", "app")])
    )
    pools["any_server"] = _uniform(np.concatenate([pools[r].ips for r in SERVER_ROLES]))

    internet = random_public_ips(rng, 4000)
    pools["internet"] = Pool(internet, zipf_weights(len(internet)))
    pools["dns_upstream"] = _uniform(np.array([ip_int(a) for a in DNS_UPSTREAMS]))
    pools["ntp_upstream"] = _uniform(random_public_ips(rng, 4))
    pools["mail_peer"] = Pool(random_public_ips(rng, 200), zipf_weights(200))
    pools["web_client"] = Pool(random_public_ips(rng, 3000), zipf_weights(3000, 0.8))
    pools["video_relay"] = Pool(random_public_ips(rng, 24), zipf_weights(24, 0.5))
    return Network(home=home, pools=pools)


def ipv4_strings(ips: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dotted-quad text of uint32 addresses as (dictionary, indices): format each once."""
    unique, inverse = np.unique(ips, return_inverse=True)
    octets = [(unique >> np.uint32(s)) & np.uint32(0xFF) for s in (24, 16, 8, 0)]
    text = [f"{a}.{b}.{c}.{d}" for a, b, c, d in zip(*(o.tolist() for o in octets), strict=True)]
    return np.array(text, dtype=object), inverse.astype(np.int32)
