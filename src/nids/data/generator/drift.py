"""Drift scenarios: documented changes of the traffic, for the monitoring work.

Each scenario is a function from the baseline :class:`Scenario` to the drifted one;
its docstring says what changes and by how much. The network (hosts, addresses)
and, except for ``attack_surge``, the attack campaigns stay the same for a seed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from nids.data.generator.benign import BenignProfile, Template
from nids.data.generator.block import TCP, UDP

MAX_ATTACK_SHARE = 0.5


@dataclass(frozen=True)
class Scenario:
    """What a generation run draws from: benign profile and malicious share."""

    profile: BenignProfile
    attack_share: float


def new_service(s: Scenario) -> Scenario:
    """A video-conferencing service is rolled out.

    Workstations start sending long, high-volume UDP media streams to a few external
    relays on ports 3478-3481 and 8801 (no sensor analyser: service unset), plus TLS
    signalling to the same relays on 443. About 12 % of benign flows are new; the
    dst-port, protocol and bytes/duration mix shift accordingly.
    """
    media = Template("video_media", 0.10, UDP, (3478, 3479, 3480, 3481, 8801),
                     "workstation", "video_relay", "office",
                     (400_000, 1.2), (900_000, 1.2), (900.0, 0.8), fail=0.02)  # fmt: skip
    signalling = Template("video_signalling", 0.035, TCP, (443,),
                          "workstation", "video_relay", "office",
                          (3000, 0.5), (5000, 0.5), (600.0, 0.8))  # fmt: skip
    return replace(s, profile=s.profile.with_templates(media, signalling))


def volume_shift(s: Scenario) -> Scenario:
    """Traffic volume grows: every benign payload is 60 % larger, plus new backup jobs.

    Backup jobs: file, database and application servers push nightly rsync streams
    (tcp/873, heavy-tailed, hundreds of MB; 00:00-04:00 UTC, busiest 01:00-03:00) to
    the backup server.
    Median bytes per flow rise by well over 30 %.
    """
    backups = tuple(
        Template(f"backup_{role}", 0.01, TCP, (873,), role, "backup", "night",
                 (3e8, 1.0), (2e5, 0.5), (600.0, 0.8), tail=1.5, windows_client=False)
        for role in ("file", "db", "app")
    )  # fmt: skip
    profile = replace(s.profile, bytes_scale=s.profile.bytes_scale * 1.6)
    return replace(s, profile=profile.with_templates(*backups))


def diurnal_shift(s: Scenario) -> Scenario:
    """Half the office moves to a night shift (a team 8 hours ahead) and weekends get busy.

    The office-hours curve becomes the mean of the old one and the same curve shifted
    8 hours earlier in UTC, and weekend activity rises from 15 % to 60 % of weekdays:
    far more flows between 00:00 and 06:00 UTC and on Saturdays/Sundays.
    """
    shifted = np.roll(s.profile.office_hours, -8)
    profile = replace(
        s.profile,
        office_hours=0.5 * (s.profile.office_hours + shifted),
        weekend_factor=max(s.profile.weekend_factor, 0.6),
    )
    return replace(s, profile=profile)


def attack_surge(s: Scenario) -> Scenario:
    """An attack wave: the malicious share is five times the requested one (at most 50 %).

    A requested share above 50 % is kept as it is. Benign traffic is unchanged; every
    attack type keeps its share of the attacks.
    """
    surged = min(MAX_ATTACK_SHARE, 5 * s.attack_share)
    return replace(s, attack_share=max(s.attack_share, surged))


#: Scenario name -> function applying it (see each function's docstring).
DRIFT_SCENARIOS: dict[str, Callable[[Scenario], Scenario]] = {
    "new_service": new_service,
    "volume_shift": volume_shift,
    "diurnal_shift": diurnal_shift,
    "attack_surge": attack_surge,
}


def describe_scenarios() -> dict[str, str]:
    """Scenario name -> its description (the function's docstring, one paragraph per line)."""
    out: dict[str, str] = {}
    for name, func in DRIFT_SCENARIOS.items():
        paragraphs = (func.__doc__ or "").strip().split("\n\n")
        out[name] = "\n".join(" ".join(line.strip() for line in p.splitlines()) for p in paragraphs)
    return out
