"""Bounded-memory reading of a window: a uniform sample for the fit, counts over everything.

Readers stream each object in batches of canonical columns only (parquet column
projection happens in the reader). Every batch updates the profile (rows, label mix,
time span) and then competes for a place in a fixed-size sample: each row draws a
seeded random key and the ``max_rows`` smallest keys are kept (priority sampling, a
uniform sample without replacement). Memory is therefore bounded by ``max_rows`` plus
one batch, whatever the window's size, and the same data and seed give the same sample.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from nids.data.schema import COLUMNS

_KEY = "__sample_key"


@dataclass
class WindowProfile:
    """What the whole window holds (not only the sample)."""

    rows: int = 0
    labels: Counter[str] = field(default_factory=Counter)
    first: pd.Timestamp | None = None
    last: pd.Timestamp | None = None

    def update(self, batch: pd.DataFrame) -> None:
        """Count one batch."""
        self.rows += len(batch)
        if "label" in batch.columns:
            labels = batch["label"].astype("string").str.lower().fillna("unlabelled")
            self.labels.update({str(k): int(v) for k, v in labels.value_counts().items()})
        if len(batch) and "ts" in batch.columns:
            lo, hi = batch["ts"].min(), batch["ts"].max()
            self.first = lo if self.first is None or lo < self.first else self.first
            self.last = hi if self.last is None or hi > self.last else self.last

    def share(self, label: str) -> float:
        """Share of rows with ``label`` (0 for an empty window)."""
        return self.labels.get(label, 0) / self.rows if self.rows else 0.0

    def to_dict(self) -> dict[str, object]:
        """JSON view."""
        return {
            "rows": self.rows,
            "labels": dict(self.labels),
            "first": self.first.isoformat() if self.first is not None else None,
            "last": self.last.isoformat() if self.last is not None else None,
        }


class FlowSampler:
    """Keeps a seeded uniform sample of at most ``max_rows`` rows of a batch stream."""

    def __init__(self, max_rows: int, *, seed: int) -> None:
        if max_rows < 1:
            raise ValueError("max_rows must be at least 1")
        self.max_rows = max_rows
        self.profile = WindowProfile()
        self._rng = np.random.default_rng(seed)
        self._kept: pd.DataFrame | None = None

    def add(self, batch: pd.DataFrame) -> None:
        """Offer one canonical batch to the sample (and count it)."""
        self.profile.update(batch)
        if batch.empty:
            return
        keyed = batch.reset_index(drop=True).assign(**{_KEY: self._rng.random(len(batch))})
        merged = keyed if self._kept is None else pd.concat([self._kept, keyed], ignore_index=True)
        if len(merged) > self.max_rows:
            keep = np.argpartition(merged[_KEY].to_numpy(), self.max_rows - 1)[: self.max_rows]
            merged = merged.iloc[np.sort(keep)].reset_index(drop=True)
        self._kept = merged

    def frame(self) -> pd.DataFrame:
        """The sample in time order (canonical columns)."""
        if self._kept is None:
            return pd.DataFrame(columns=COLUMNS)
        out = self._kept.drop(columns=[_KEY])
        if "ts" in out.columns:
            out = out.sort_values("ts", kind="stable")
        return out.reset_index(drop=True)
