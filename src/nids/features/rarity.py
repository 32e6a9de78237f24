"""Service and port rarity learned from training traffic.

A network serves and uses a small set of services. Counting, per direction, how
often each (protocol, responder port) and each recognised service occurred in the
training period turns "a connection to a port this network never talks on" into a
number: ``log((N + 1) / (count + 1))``, 0 for the usual ports and largest for ports
never seen. Tables are plain sorted numpy arrays (fast lookup, safe to serialise).
"""

from __future__ import annotations

import numpy as np

from nids.data.schema import proto_number

_UNKNOWN_PROTO = 255


def port_keys(
    proto: tuple[np.ndarray, np.ndarray], dst_port: np.ndarray, directions: np.ndarray
) -> np.ndarray:
    """int64 key per flow combining direction, protocol number and responder port.

    ``proto`` is factorised (codes, uniques), see ``FlowView.factorized``.
    """
    codes, uniques = proto
    pnum = np.array([proto_code(str(u)) for u in uniques], dtype=np.int64)[codes]
    port = np.clip(dst_port, 0, 65535).astype(np.int64)
    return (directions.astype(np.int64) << 32) | (pnum << 16) | port


def service_keys(
    service: tuple[np.ndarray, np.ndarray], directions: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Distinct "direction|service" keys ("" = none recognised) and each flow's index.

    Built per distinct (direction, service) combination, so lookups cost as much as
    the distinct combinations, not the flows.
    """
    codes, uniques = service
    names = [str(u) for u in uniques]
    combo = directions.astype(np.int64) * (len(names)) + codes
    combos, inverse = np.unique(combo, return_inverse=True)
    text = np.array(
        [f"{c // len(names)}|{names[c % len(names)]}" for c in combos.tolist()], dtype=str
    )
    return text, inverse


def proto_code(proto: str) -> int:
    number = proto_number(proto) if proto else None
    return number if number is not None and 0 <= number < _UNKNOWN_PROTO else _UNKNOWN_PROTO


def service_ratios(
    uniques: np.ndarray, table_keys: np.ndarray, table_counts: np.ndarray
) -> np.ndarray:
    """``(N + 1) / (count + 1)`` of every "direction|service" combination, shape
    (4 directions, distinct services): the argument of the service rarity's log."""
    names = [str(u) for u in uniques]
    keys = np.array([f"{d}|{name}" for d in range(4) for name in names], dtype=str)
    return _ratio(keys, table_keys, table_counts).reshape(4, len(names))


def fit_counts(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique keys and their counts."""
    uniques, counts = np.unique(keys, return_counts=True)
    return uniques, counts.astype(np.float64)


def _ratio(keys: np.ndarray, table_keys: np.ndarray, table_counts: np.ndarray) -> np.ndarray:
    """``(N + 1) / (count + 1)`` per key, count 0 for keys absent from the table."""
    total = float(table_counts.sum())
    counts = np.zeros(len(keys), dtype=np.float64)
    if len(table_keys):
        pos = np.searchsorted(table_keys, keys)
        pos_c = np.minimum(pos, len(table_keys) - 1)
        hit = table_keys[pos_c] == keys
        counts[hit] = table_counts[pos_c[hit]]
    return (total + 1.0) / (counts + 1.0)
