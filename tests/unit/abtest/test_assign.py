"""Sticky hash assignment: the split, stickiness, and minimal movement on weight changes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nids.abtest.assign import assign, key_points

W_80_20 = {"control": 0.8, "candidate": 0.2}
W_50_50 = {"control": 0.5, "candidate": 0.5}


def _many_hosts(n_flows: int, n_hosts: int, seed: int) -> pd.Series:
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, n_hosts, n_flows)
    return pd.Series([f"10.{i >> 16}.{(i >> 8) & 255}.{i & 255}" for i in ids])


def test_100k_flows_from_many_hosts_split_80_20_within_one_point() -> None:
    hosts = _many_hosts(100_000, 25_000, seed=1)
    names = assign(hosts, W_80_20, "exp-1")
    assert abs((names == "candidate").mean() - 0.2) < 0.01
    # every host sits on exactly one variant
    per_host = pd.DataFrame({"h": hosts, "v": names}).groupby("h")["v"].nunique()
    assert per_host.max() == 1


def test_assignment_is_deterministic_and_salted() -> None:
    hosts = _many_hosts(5000, 5000, seed=2)
    first = assign(hosts, W_80_20, "exp-1")
    again = assign(hosts.sample(frac=1, random_state=0).sort_index(), W_80_20, "exp-1")
    assert (first == again).all()
    other = assign(hosts, W_80_20, "exp-2")
    assert 0.2 < (first != other).mean() < 0.45  # an independent draw per experiment


def test_80_20_to_50_50_moves_only_the_hosts_that_must_move() -> None:
    hosts = pd.Series(_many_hosts(50_000, 50_000, seed=3).unique())
    before, after = assign(hosts, W_80_20, "e"), assign(hosts, W_50_50, "e")
    moved = before != after
    assert not (moved & (before == "candidate")).any()  # nobody leaves the candidate
    assert abs(moved.mean() - 0.3) < 0.01  # the 30 % the new weights require, no more
    back = assign(hosts, W_80_20, "e")
    assert (back == before).all()


def test_three_variants_and_missing_keys() -> None:
    keys = pd.Series([*map(str, range(30_000)), None, None])
    names = assign(keys, {"a": 0.5, "b": 0.3, "c": 0.2}, "e")
    shares = pd.Series(names[:-2]).value_counts(normalize=True)
    assert abs(shares["a"] - 0.5) < 0.015 and abs(shares["c"] - 0.2) < 0.015
    assert names[-1] == names[-2]  # missing keys are still deterministic
    points = key_points(keys, "e")
    assert ((points >= 0) & (points < 1)).all()
