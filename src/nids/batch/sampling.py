"""A stratified, time-aware, engine-independent sample of a flow archive.

Strata are (UTC date, hour, label): every hour of the archive and every label keeps a
share of its flows. Each stratum keeps its flows with probability
``max(base_rate, min_per_stratum / stratum_size)`` (capped at 1), where ``base_rate``
is ``max_rows / total``: proportional to traffic (the diurnal shape survives) with a
floor so quiet hours and rare labels are still represented.

Whether a flow is kept depends only on the seed, its file and its row (a SplitMix64
hash), never on batch boundaries or executor order, so the local and Spark engines
select exactly the same flows.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from nids.batch.frames import partition_values

UNLABELLED = "unlabelled"
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        z = x + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def sample_keys(source_file: str, rows: np.ndarray, seed: int) -> np.ndarray:
    """Uniform [0, 1) key per row of one file, a pure function of (seed, file, row)."""
    file_hash = pd.util.hash_array(np.array([f"{seed}:{source_file}"], dtype=object))[0]
    with np.errstate(over="ignore"):
        mixed = _splitmix64(np.asarray(rows, dtype=np.uint64) * _GOLDEN ^ np.uint64(file_hash))
    return (mixed >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def strata(flows: pd.DataFrame) -> pd.Series:
    """Stratum name per flow: ``date/hour/label``."""
    date, hour = partition_values(flows["ts"])
    if "label" in flows.columns:
        label = flows["label"].astype("string").str.lower().fillna(UNLABELLED)
    else:
        label = pd.Series(UNLABELLED, index=flows.index, dtype="string")
    hours = pd.Series(hour, index=flows.index).astype("string").str.zfill(2)
    return pd.Series(date, index=flows.index, dtype="string") + "/" + hours + "/" + label


@dataclass
class SamplePlan:
    """Keep rates per stratum, from the archive's stratum sizes."""

    counts: Counter[str]
    max_rows: int
    min_per_stratum: int
    seed: int
    rates: dict[str, float] = field(init=False)

    def __post_init__(self) -> None:
        total = sum(self.counts.values())
        base = min(1.0, self.max_rows / total) if total else 1.0
        self.rates = {
            name: min(1.0, max(base, self.min_per_stratum / n)) for name, n in self.counts.items()
        }

    def keep(self, flows: pd.DataFrame) -> np.ndarray:
        """Mask of the flows (with ``source_file``/``source_row``) this plan keeps."""
        if len(flows) == 0:
            return np.zeros(0, dtype=bool)
        rate = strata(flows).map(self.rates).fillna(0.0).to_numpy(np.float64)
        keys = np.empty(len(flows), dtype=np.float64)
        files = flows["source_file"].astype(object).to_numpy()
        rows = flows["source_row"].to_numpy(np.int64)
        for name in pd.unique(files):
            at = files == name
            keys[at] = sample_keys(str(name), rows[at], self.seed)
        return keys < rate

    def to_dict(self) -> dict[str, Any]:
        """JSON view."""
        return {
            "total_rows": sum(self.counts.values()),
            "max_rows": self.max_rows,
            "min_per_stratum": self.min_per_stratum,
            "seed": self.seed,
            "strata": {
                name: {"rows": self.counts[name], "rate": round(self.rates[name], 9)}
                for name in sorted(self.counts)
            },
        }
