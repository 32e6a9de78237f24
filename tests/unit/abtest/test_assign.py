"""Sticky hash assignment: the split, stickiness, and minimal movement on weight changes.

Every property holds on both paths: pandas' factorize for many keys, the cached
per-key points for a request's few (:data:`SMALL_MAX_KEYS`), which must agree bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import pytest

from nids.abtest.assign import SMALL_MAX_KEYS, assign, key_points

W_80_20 = {"control": 0.8, "candidate": 0.2}
W_50_50 = {"control": 0.5, "candidate": 0.5}
Assign = Callable[[Any, Mapping[str, float], str], np.ndarray]


def _in_requests(keys: Any, weights: Mapping[str, float], salt: str) -> np.ndarray:
    """``assign`` over request-sized chunks: the small-input path for every key."""
    values = list(keys)
    chunks = [values[i : i + 100] for i in range(0, len(values), 100)] or [[]]
    return np.concatenate([assign(chunk, weights, salt) for chunk in chunks])


PATHS = pytest.mark.parametrize("assign", [assign, _in_requests], ids=["pandas", "small"])


def _many_hosts(n_flows: int, n_hosts: int, seed: int) -> pd.Series:
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, n_hosts, n_flows)
    return pd.Series([f"10.{i >> 16}.{(i >> 8) & 255}.{i & 255}" for i in ids])


@PATHS
def test_100k_flows_from_many_hosts_split_80_20_within_one_point(assign: Assign) -> None:
    hosts = _many_hosts(100_000, 25_000, seed=1)
    names = assign(hosts, W_80_20, "exp-1")
    assert abs((names == "candidate").mean() - 0.2) < 0.01
    # every host sits on exactly one variant
    per_host = pd.DataFrame({"h": hosts, "v": names}).groupby("h")["v"].nunique()
    assert per_host.max() == 1


@PATHS
def test_assignment_is_deterministic_and_salted(assign: Assign) -> None:
    hosts = _many_hosts(5000, 5000, seed=2)
    first = assign(hosts, W_80_20, "exp-1")
    again = assign(hosts.sample(frac=1, random_state=0).sort_index(), W_80_20, "exp-1")
    assert (first == again).all()
    other = assign(hosts, W_80_20, "exp-2")
    assert 0.2 < (first != other).mean() < 0.45  # an independent draw per experiment


@PATHS
def test_80_20_to_50_50_moves_only_the_hosts_that_must_move(assign: Assign) -> None:
    hosts = pd.Series(_many_hosts(50_000, 50_000, seed=3).unique())
    before, after = assign(hosts, W_80_20, "e"), assign(hosts, W_50_50, "e")
    moved = before != after
    assert not (moved & (before == "candidate")).any()  # nobody leaves the candidate
    assert abs(moved.mean() - 0.3) < 0.01  # the 30 % the new weights require, no more
    back = assign(hosts, W_80_20, "e")
    assert (back == before).all()


@PATHS
def test_three_variants_and_missing_keys(assign: Assign) -> None:
    keys = pd.Series([*map(str, range(30_000)), None, None])
    names = assign(keys, {"a": 0.5, "b": 0.3, "c": 0.2}, "e")
    shares = pd.Series(names[:-2]).value_counts(normalize=True)
    assert abs(shares["a"] - 0.5) < 0.015 and abs(shares["c"] - 0.2) < 0.015
    assert names[-1] == names[-2]  # missing keys are still deterministic
    points = key_points(keys, "e")
    assert ((points >= 0) & (points < 1)).all()


def test_small_inputs_get_the_same_points_as_pandas_factorize() -> None:
    hosts = _many_hosts(30_000, 3000, seed=4).tolist()
    keys = [*hosts, None, "", None, "10.0.0.1", "10.0.0.1"]  # missing, empty, repeats
    assert len(keys) > SMALL_MAX_KEYS  # so this is pandas' factorize
    for salt in ("exp-1", "exp-2", "é" * 40):  # a salt beyond blake2b's 64-byte key
        whole = key_points(keys, salt)
        parts = [
            key_points(keys[i : i + SMALL_MAX_KEYS], salt)
            for i in range(0, len(keys), SMALL_MAX_KEYS)
        ]
        assert np.array_equal(np.concatenate(parts), whole)  # bit for bit
        for one, point in zip(keys[-5:], whole[-5:], strict=True):  # single keys, all forms
            for form in ([one], np.array([one], dtype=object), pd.Series([one], dtype=object)):
                assert key_points(form, salt).tolist() == [point]
        assert whole[-5] == whole[-3] == whole[-4]  # missing keys share the empty string's point
        assert (assign(keys[:500], W_80_20, salt) == assign(keys, W_80_20, salt)[:500]).all()


def test_keys_that_are_not_text_take_the_pandas_path_unchanged() -> None:
    keys: list[object] = [1, 1.0, "1", np.nan, None, 2]  # 1 and 1.0 are one key to pandas
    points = key_points(keys, "e")
    assert points[0] == points[1] == points[2]
    assert points[3] == points[4] == key_points([""], "e")[0]
    assert np.array_equal(points, key_points(pd.Series(keys, dtype=object), "e"))


def test_long_keys_are_hashed_but_not_cached() -> None:
    """A header key of any length gets its point; only short keys enter the cache."""
    from nids.abtest.assign import CACHED_KEY_MAX_CHARS, _cached_point

    _cached_point.cache_clear()
    long_key = "x" * (CACHED_KEY_MAX_CHARS + 1)
    keys = [long_key, "10.0.0.1", long_key]
    points = key_points(keys, "e")
    assert points.tolist() == key_points(pd.Series(keys * 400, dtype=object), "e")[:3].tolist()
    assert _cached_point.cache_info().currsize == 1  # the address, not the long key
