"""Service and port rarity learned from training traffic.

A network serves and uses a small set of services. Counting, per direction, how
often each (protocol, responder port) and each recognised service occurred in the
training period turns "a connection to a port this network never talks on" into a
number: ``log((N + 1) / (count + 1))``, 0 for the usual ports and largest for ports
never seen. Tables are plain sorted numpy arrays (fast lookup, safe to serialise).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nids.data.schema import proto_number

_UNKNOWN_PROTO = 255


def port_keys(proto: np.ndarray, dst_port: np.ndarray, directions: np.ndarray) -> np.ndarray:
    """int64 key per flow combining direction, protocol number and responder port."""
    codes, uniques = pd.factorize(pd.Series(proto, dtype=object))
    numbers = np.array([_proto_code(str(u)) for u in uniques] + [_UNKNOWN_PROTO], dtype=np.int64)
    pnum = numbers[np.where(codes < 0, len(uniques), codes)]
    port = np.clip(dst_port, 0, 65535).astype(np.int64)
    return (directions.astype(np.int64) << 32) | (pnum << 16) | port


def service_keys(service: np.ndarray, directions: np.ndarray) -> np.ndarray:
    """Unicode array of "direction|service" keys ("" service = none recognised)."""
    return np.char.add(
        np.char.add(directions.astype(np.int64).astype(str), "|"), service.astype(str)
    )


def _proto_code(proto: str) -> int:
    number = proto_number(proto) if proto else None
    return number if number is not None and 0 <= number < _UNKNOWN_PROTO else _UNKNOWN_PROTO


def fit_counts(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique keys and their counts."""
    uniques, counts = np.unique(keys, return_counts=True)
    return uniques, counts.astype(np.float64)


def rarity(keys: np.ndarray, table_keys: np.ndarray, table_counts: np.ndarray) -> np.ndarray:
    """``log((N + 1) / (count + 1))`` per key, count 0 for keys absent from the table."""
    total = float(table_counts.sum())
    counts = np.zeros(len(keys), dtype=np.float64)
    if len(table_keys):
        pos = np.searchsorted(table_keys, keys)
        pos_c = np.minimum(pos, len(table_keys) - 1)
        hit = table_keys[pos_c] == keys
        counts[hit] = table_counts[pos_c[hit]]
    return np.log((total + 1.0) / (counts + 1.0))
