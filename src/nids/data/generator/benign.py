"""Benign enterprise traffic: service templates, daily/weekly rhythm, heavy-tailed sizes.

Each :class:`Template` is one kind of conversation (workstation -> resolver DNS
query, proxy -> internet TLS, app server -> PostgreSQL...). Flows are split across
templates by weight, then every template's flows are drawn in one vectorised step:
timestamps from its rhythm's rate curve, a latent "size of this conversation"
``z ~ N(0, 1)`` that makes duration, request and response bytes correlated, and
log-normal sizes with an optional Pareto factor for the heavy tail of downloads.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

import numpy as np

from nids.data.generator.block import (
    ICMP,
    OTH,
    REJ,
    RSTO,
    RSTR,
    S0,
    SF,
    SH,
    TCP,
    UDP,
    FlowBlock,
    ephemeral_ports,
    make_block,
    shape_flows,
)
from nids.data.generator.network import Network

US = 1_000_000


@dataclass(frozen=True)
class Template:
    """One kind of benign conversation.

    Sizes are payload bytes as (median, log-sigma); ``tail`` is the Pareto shape of
    an extra heavy-tail factor (0 = none); ``fail`` the share of failed or aborted
    connections (S0/REJ/RSTO/... for TCP, unanswered for UDP).
    """

    name: str
    weight: float
    proto: int
    ports: tuple[int, ...]
    client: str  # network pool of originators
    server: str  # network pool of responders
    rhythm: str = "office"
    req: tuple[float, float] = (500.0, 1.0)
    resp: tuple[float, float] = (5000.0, 1.5)
    duration: tuple[float, float] = (1.0, 1.2)
    tail: float = 0.0
    fail: float = 0.03
    windows_client: bool = True


#: The baseline site. Weights are relative shares of benign flows.
BASE_TEMPLATES: tuple[Template, ...] = (
    Template("dns_query", 0.22, UDP, (53,), "workstation", "dns", "office",
             (38, 0.3), (95, 0.5), (0.004, 1.0), fail=0.01),
    Template("dns_forward", 0.06, UDP, (53,), "dns", "dns_upstream", "office",
             (40, 0.3), (130, 0.6), (0.02, 0.8), fail=0.01, windows_client=False),
    Template("proxy_http", 0.16, TCP, (3128, 8080), "workstation", "proxy", "office",
             (650, 0.9), (9000, 1.8), (1.5, 1.5), tail=1.6),
    Template("proxy_tls_out", 0.14, TCP, (443,), "proxy", "internet", "office",
             (900, 0.8), (12000, 1.9), (3.0, 1.5), tail=1.5, windows_client=False),
    Template("proxy_http_out", 0.04, TCP, (80,), "proxy", "internet", "office",
             (450, 0.6), (15000, 1.9), (0.8, 1.2), tail=1.5, windows_client=False),
    Template("direct_tls", 0.08, TCP, (443,), "workstation", "internet", "office",
             (1100, 0.8), (7000, 1.6), (8.0, 1.8), tail=1.8),
    Template("intranet_web", 0.05, TCP, (443, 80), "workstation", "web", "office",
             (800, 0.7), (20000, 1.4), (0.6, 1.0)),
    Template("web_inbound", 0.04, TCP, (443, 80), "web_client", "web", "mixed",
             (700, 0.7), (25000, 1.5), (0.9, 1.0), tail=2.0),
    Template("smb", 0.06, TCP, (445,), "workstation", "file", "office",
             (1500, 1.4), (25000, 2.1), (4.0, 1.8), tail=1.4),
    Template("ldap", 0.04, TCP, (389,), "workstation", "dc", "office",
             (350, 0.5), (1800, 0.8), (0.05, 1.0)),
    Template("kerberos", 0.03, TCP, (88,), "workstation", "dc", "office",
             (1500, 0.3), (1400, 0.3), (0.01, 0.8)),
    Template("ntp_client", 0.015, UDP, (123,), "workstation", "dc", "flat",
             (48, 0.0), (48, 0.0), (0.002, 0.6), fail=0.005),
    Template("ntp_upstream", 0.002, UDP, (123,), "dc", "ntp_upstream", "flat",
             (48, 0.0), (48, 0.0), (0.03, 0.5), fail=0.01),
    Template("mail_client", 0.03, TCP, (993,), "workstation", "mail", "office",
             (600, 0.8), (8000, 1.6), (20.0, 1.6), tail=1.6),
    Template("smtp_out", 0.01, TCP, (25,), "mail", "mail_peer", "office",
             (25000, 1.5), (700, 0.3), (1.2, 0.8), tail=1.5, windows_client=False),
    Template("smtp_in", 0.015, TCP, (25,), "mail_peer", "mail", "mixed",
             (30000, 1.5), (700, 0.3), (1.5, 0.8), tail=1.5, fail=0.06),
    Template("postgres", 0.03, TCP, (5432,), "app", "db", "mixed",
             (900, 1.0), (6000, 1.6), (0.3, 1.5), windows_client=False),
    Template("mysql", 0.015, TCP, (3306,), "app", "db", "mixed",
             (700, 1.0), (4000, 1.5), (0.2, 1.4), windows_client=False),
    Template("ssh_admin", 0.004, TCP, (22,), "admin", "any_server", "office",
             (4000, 1.2), (9000, 1.5), (120.0, 1.8)),
    Template("rdp_admin", 0.004, TCP, (3389,), "admin", "windows_server", "office",
             (60000, 1.5), (400000, 1.5), (900.0, 1.2)),
    Template("ping", 0.005, ICMP, (0,), "app", "any_server", "flat",
             (56, 0.0), (56, 0.0), (0.001, 0.5), fail=0.0, windows_client=False),
)  # fmt: skip

# Relative activity per hour of the (UTC) working day.
OFFICE_HOURS = np.array(
    [0.04, 0.03, 0.03, 0.03, 0.04, 0.07, 0.15, 0.40, 0.80, 1.00, 1.00, 0.95,
     0.70, 0.90, 1.00, 0.95, 0.85, 0.60, 0.35, 0.22, 0.15, 0.10, 0.07, 0.05]
)  # fmt: skip
NIGHT_HOURS = np.zeros(24)
NIGHT_HOURS[1:4] = 1.0  # backup window: ramps up after 00:00, full 01:00-03:00, ends 04:00


@dataclass(frozen=True)
class BenignProfile:
    """Everything that defines benign traffic; drift scenarios return modified copies."""

    templates: tuple[Template, ...] = BASE_TEMPLATES
    office_hours: np.ndarray = field(default_factory=OFFICE_HOURS.copy)
    weekend_factor: float = 0.15
    bytes_scale: float = 1.0

    def with_templates(self, *extra: Template) -> BenignProfile:
        """A copy with more templates."""
        return replace(self, templates=self.templates + extra)


@dataclass(frozen=True)
class _Period:
    """The profile and time span every template of one run draws from."""

    profile: BenignProfile
    start: datetime
    days: float


def _hour_curve(profile: BenignProfile, rhythm: str) -> tuple[np.ndarray, float]:
    """Hourly rate and weekend factor of a rhythm."""
    if rhythm == "office":
        return profile.office_hours, profile.weekend_factor
    if rhythm == "mixed":
        return 0.5 + 0.5 * profile.office_hours, 0.5 + 0.5 * profile.weekend_factor
    if rhythm == "night":
        return NIGHT_HOURS, 1.0
    return np.ones(24), 1.0


def sample_times(
    rng: np.random.Generator,
    n: int,
    start: datetime,
    days: float,
    hours: np.ndarray,
    weekend: float,
) -> np.ndarray:
    """``n`` flow start times (µs since epoch) drawn from a per-minute rate curve."""
    start_us = int(start.timestamp() * US)
    span_us = int(days * 86400 * US)
    minute = 60 * US
    edges = np.arange(start_us, start_us + span_us, minute, dtype=np.int64)
    widths = np.minimum(minute, start_us + span_us - edges)
    minute_of_day = (edges // minute) % 1440
    # Linear interpolation between hourly values, so the curve has no steps.
    pos = minute_of_day / 60.0
    lo = pos.astype(np.int64)
    rate = hours[lo] + (hours[(lo + 1) % 24] - hours[lo]) * (pos - lo)
    weekday = (edges // (86400 * US) + 3) % 7  # 1970-01-01 was a Thursday; 0 = Monday
    rate = rate * np.where(weekday >= 5, weekend, 1.0) * widths
    cdf = np.cumsum(rate)
    bins = np.searchsorted(cdf, rng.random(n) * cdf[-1], side="right")
    bins = np.minimum(bins, len(edges) - 1)
    return edges[bins] + (rng.random(n) * widths[bins]).astype(np.int64)


def _states(rng: np.random.Generator, proto: int, n: int, fail: float) -> np.ndarray:
    """Connection states: mostly SF, a few percent of realistic failures."""
    if proto == ICMP:
        return np.full(n, OTH, dtype=np.int8)
    failed = rng.random(n) < fail
    if proto == UDP:
        return np.where(failed, S0, SF).astype(np.int8)
    kinds = np.array([S0, REJ, RSTO, RSTR, SH, OTH], dtype=np.int8)
    which = rng.choice(kinds, size=n, p=[0.35, 0.2, 0.2, 0.15, 0.04, 0.06])
    return np.where(failed, which, SF).astype(np.int8)


def _sizes(
    rng: np.random.Generator, spec: tuple[float, float], z: np.ndarray, scale: float
) -> np.ndarray:
    """Log-normal payloads sharing 60 % of their log-variance with the latent size ``z``."""
    noise = 0.6 * z + 0.8 * rng.standard_normal(len(z))
    return spec[0] * scale * np.exp(spec[1] * noise)


def _template_flows(
    rng: np.random.Generator, t: Template, n: int, net: Network, period: _Period
) -> FlowBlock:
    profile = period.profile
    hours, weekend = _hour_curve(profile, t.rhythm)
    ts = sample_times(rng, n, period.start, period.days, hours, weekend)
    z = rng.standard_normal(n)  # how "big" this conversation is, shared by all sizes
    duration = t.duration[0] * np.exp(t.duration[1] * z)
    req = _sizes(rng, t.req, z, profile.bytes_scale)
    resp = _sizes(rng, t.resp, z, profile.bytes_scale)
    if t.tail:
        resp = resp * (1.0 + rng.pareto(t.tail, n))
    state = _states(rng, t.proto, n, t.fail)
    src = net.pool(t.client).sample(rng, n)
    dst = net.pool(t.server).sample(rng, n)
    if t.proto == ICMP:
        sport = np.full(n, 8, dtype=np.int32)  # echo request: type 8, code 0
    else:
        sport = ephemeral_ports(rng, n, t.windows_client)
    dport = np.asarray(t.ports, dtype=np.int32)[rng.integers(0, len(t.ports), n)]
    shape = shape_flows(rng, t.proto, state, req, resp, duration)
    return make_block(
        ts=ts, src_ip=src, src_port=sport, dst_ip=dst, dst_port=dport,
        proto=t.proto, state=state, shape=shape,
    )  # fmt: skip


def generate_benign(
    rng: np.random.Generator,
    n: int,
    net: Network,
    profile: BenignProfile,
    start: datetime,
    days: float,
) -> FlowBlock:
    """``n`` benign flows following ``profile``."""
    weights = np.array([t.weight for t in profile.templates])
    counts = rng.multinomial(n, weights / weights.sum())
    period = _Period(profile, start, days)
    blocks = [
        _template_flows(rng, t, int(c), net, period)
        for t, c in zip(profile.templates, counts, strict=True)
        if c
    ]
    return FlowBlock.concat(blocks)
