"""Sticky, deterministic assignment of hosts (or any key) to variants.

Each key hashes (BLAKE2b, salted with the experiment name) to a point ``u`` in
[0, 1). The routed variants own consecutive slices of [0, 1) in file order, sized by
weight. The same key always lands on the same point, so a host always meets the same
model; when weights change only the points between the old and the new slice
boundaries change owner, which for two variants is exactly the share that must move
(80/20 -> 50/50 moves 30 % of hosts, all from control to candidate).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

_SCALE = float(2**64)
#: Up to this many keys (str or None only) skip pandas and read a bounded point cache.
SMALL_MAX_KEYS = 1024
#: Only keys up to this long are cached (addresses, IDs): the cache stays ~4 MB even
#: when clients send long header values.
CACHED_KEY_MAX_CHARS = 128


def key_points(keys: Sequence[object] | pd.Series | np.ndarray, salt: str) -> np.ndarray:
    """The point in [0, 1) of every key (hashing each distinct key once)."""
    if len(keys) <= SMALL_MAX_KEYS:
        values = keys.tolist() if isinstance(keys, pd.Series | np.ndarray) else list(keys)
        if all(v is None or type(v) is str for v in values):
            # A request's few keys: pandas' fixed costs (a Series, factorize) would be
            # most of the routing time; cached points are the same floats as below.
            texts: list[str] = ["" if v is None else str(v) for v in values]
            salt_bytes = salt.encode()
            return np.fromiter(
                (
                    _cached_point(salt, text)
                    if len(text) <= CACHED_KEY_MAX_CHARS
                    else _point(text, salt_bytes)  # long keys (a header) would pin memory
                    for text in texts
                ),
                dtype=np.float64,
                count=len(texts),
            )
    return _factorized_points(keys, salt)


def _point(key: str, salt_bytes: bytes) -> float:
    digest = hashlib.blake2b(key.encode(), digest_size=8, key=salt_bytes[:64]).digest()
    return int.from_bytes(digest, "big") / _SCALE


@functools.lru_cache(maxsize=16_384)  # (experiment, key) pairs: ~4 MB when full
def _cached_point(salt: str, key: str) -> float:
    return _point(key, salt.encode())


def _factorized_points(keys: Sequence[object] | pd.Series | np.ndarray, salt: str) -> np.ndarray:
    codes, uniques = pd.factorize(pd.Series(keys, dtype=object), use_na_sentinel=True)
    salt_bytes = salt.encode()
    points = np.fromiter(
        (_point(str(u), salt_bytes) for u in uniques), dtype=np.float64, count=len(uniques)
    )
    # Missing keys all share one point (the empty string's), still deterministic.
    missing = _point("", salt_bytes)
    return np.where(codes >= 0, points[np.maximum(codes, 0)] if len(points) else 0.0, missing)


def boundaries(weights: Mapping[str, float]) -> tuple[list[str], np.ndarray]:
    """Variant names and the upper edge of each one's slice (last edge is 1)."""
    names = [n for n, w in weights.items() if w > 0]
    w = np.array([weights[n] for n in names], dtype=np.float64)
    edges = np.cumsum(w / w.sum())
    edges[-1] = 1.0
    return names, edges


def assign_points(points: np.ndarray, weights: Mapping[str, float]) -> np.ndarray:
    """Variant index (into the positive-weight names of ``weights``) of every point."""
    _, edges = boundaries(weights)
    return np.minimum(np.searchsorted(edges, points, side="right"), len(edges) - 1)


def assign(
    keys: Sequence[object] | pd.Series | np.ndarray, weights: Mapping[str, float], salt: str
) -> np.ndarray:
    """The variant name of every key (object array, input order)."""
    names, _ = boundaries(weights)
    index = assign_points(key_points(keys, salt), weights)
    return np.asarray(names, dtype=object)[index]


def print_assignment(settings: Any, keys: Sequence[str]) -> None:
    """`nids ab assign`: one line per key with its variant."""
    from nids.abtest.config import load_experiment
    from nids.errors import ConfigError

    if settings.ab_config is None:
        raise ConfigError("no experiment: pass --config FILE or set NIDS_AB_CONFIG")
    config = load_experiment(settings.ab_config)
    for key, name in zip(keys, assign(keys, config.weights(), config.name), strict=True):
        print(f"{key}\t{name}")
