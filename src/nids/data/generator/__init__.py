"""Synthetic enterprise network traffic with labelled attack campaigns and drift scenarios.

``generate_flows(n)`` returns ``n`` flows in the canonical schema, sorted by time:
benign traffic of a simulated site (see :mod:`.network` and :mod:`.benign`) mixed
with attack campaigns (:mod:`.attacks`), optionally changed by a drift scenario
(:mod:`.drift`). The same arguments always give the same frame. See
``docs/generator.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypedDict, Unpack

import numpy as np
import pandas as pd
import pyarrow as pa

from nids.data.generator.attacks import ATTACK_SPLIT, ATTACK_TYPES, Window, generate_attacks
from nids.data.generator.benign import BenignProfile, generate_benign
from nids.data.generator.block import FlowBlock
from nids.data.generator.drift import DRIFT_SCENARIOS, Scenario, describe_scenarios
from nids.data.generator.frame import to_table
from nids.data.generator.network import build_network
from nids.data.schema import table_to_frame
from nids.errors import ConfigError

__all__ = [
    "ATTACK_SPLIT",
    "ATTACK_TYPES",
    "DEFAULT_START",
    "DRIFT_SCENARIOS",
    "describe_scenarios",
    "generate_flows",
    "generate_table",
]

#: A Monday at midnight UTC, so a default week starts with a working day.
DEFAULT_START = datetime(2025, 11, 3, tzinfo=UTC)
_US = 1_000_000


def _check(n_flows: int, days: float, attack_share: float, drift: str | None) -> None:
    if n_flows < 1:
        raise ConfigError(f"flows must be at least 1, got {n_flows}")
    if not days * 86400 >= 1:
        raise ConfigError(f"days must cover at least one second, got {days}")
    if not 0.0 <= attack_share <= 1.0:
        raise ConfigError(f"attack share must be between 0 and 1, got {attack_share}")
    if drift is not None and drift not in DRIFT_SCENARIOS:
        raise ConfigError(
            f"unknown drift scenario {drift!r}; choose one of: {', '.join(DRIFT_SCENARIOS)}"
        )


class GenerateOptions(TypedDict, total=False):
    """Keyword arguments of :func:`generate_flows` (defaults in :func:`generate_table`)."""

    days: float
    attack_share: float
    seed: int
    drift: str | None
    start: datetime | None
    home_cidr: str
    progress: Callable[[str], None] | None


def generate_flows(n_flows: int, **options: Unpack[GenerateOptions]) -> pd.DataFrame:
    """``n_flows`` labelled flows in the canonical schema, sorted by ``ts``.

    Options (keyword only): ``days=7.0`` time span from ``start`` (default
    :data:`DEFAULT_START`, naive = UTC); ``attack_share=0.05`` of the flows (rounded to
    a whole flow) are malicious, split across :data:`ATTACK_TYPES` by
    :data:`ATTACK_SPLIT`; ``seed=0``; ``drift=None`` or a :data:`DRIFT_SCENARIOS`
    name; ``home_cidr="10.0.0.0/16"`` the site's IPv4 network; ``progress`` is called
    with the name of each stage as it starts. Raises :class:`~nids.errors.ConfigError`
    for invalid arguments.
    """
    return table_to_frame(generate_table(n_flows, **options))


def generate_table(
    n_flows: int,
    *,
    days: float = 7.0,
    attack_share: float = 0.05,
    seed: int = 0,
    drift: str | None = None,
    start: datetime | None = None,
    home_cidr: str = "10.0.0.0/16",
    progress: Callable[[str], None] | None = None,
) -> pa.Table:
    """:func:`generate_flows` as an Arrow table in ``FLOW_SCHEMA`` (what is written to parquet)."""
    _check(n_flows, days, attack_share, drift)
    start = start or DEFAULT_START
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    report = progress or (lambda _stage: None)
    scenario = Scenario(BenignProfile(), attack_share)
    if drift is not None:
        scenario = DRIFT_SCENARIOS[drift](scenario)
    # Independent streams: a drift of the benign traffic leaves hosts and attacks alone.
    net_seq, benign_seq, attack_seq = np.random.SeedSequence(seed).spawn(3)
    report("network")
    net = build_network(np.random.default_rng(net_seq), home_cidr)
    n_attack = round(scenario.attack_share * n_flows)
    report("benign traffic")
    blocks = []
    if n_flows - n_attack:
        blocks.append(
            generate_benign(
                np.random.default_rng(benign_seq),
                n_flows - n_attack,
                net,
                scenario.profile,
                start,
                days,
            )
        )
    report("attack campaigns")
    window = Window(int(start.timestamp() * _US), int((start.timestamp() + days * 86400) * _US))
    blocks += generate_attacks(np.random.default_rng(attack_seq), n_attack, net, window)
    flows = FlowBlock.concat(blocks)
    flows = flows.take(np.argsort(flows.ts, kind="stable"))
    report("frame and community ids")
    return to_table(flows, ATTACK_TYPES)
