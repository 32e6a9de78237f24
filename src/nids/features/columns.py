"""Robust, cached access to flow columns: every feature reads its inputs through here.

Optional schema columns may be absent or null, numbers may be NaN/inf/negative in
hostile input; :class:`FlowView` returns clean, finite numpy arrays (each computed
once per transform) so the feature code never has to care.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
import pandas as pd

from nids.data.schema import REQUIRED_COLUMNS
from nids.errors import SchemaError

#: Columns the features need; the rest of the schema is optional.
FEATURE_INPUT_COLUMNS = tuple(REQUIRED_COLUMNS)


def check_columns(df: pd.DataFrame) -> None:
    """Raise :class:`SchemaError` naming the first missing required column."""
    missing = [c for c in FEATURE_INPUT_COLUMNS if c not in df.columns]
    if missing:
        raise SchemaError(
            f"flow frame lacks required column(s) {', '.join(missing)}",
            field=missing[0],
            hint="features need the canonical flow schema (nids.data.schema)",
        )


def factorize_text(values: pd.Series | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(codes, uniques) of stripped lower-case strings; null -> the last unique, ``""``.

    Everything per distinct value is then computed once and broadcast with ``codes``.
    """
    series = values if isinstance(values, pd.Series) else pd.Series(values, dtype=object)
    codes, raw = pd.factorize(series, use_na_sentinel=True)
    normalised = np.array([str(u).strip().lower() for u in raw] + [""], dtype=object)
    # Normalising may merge spellings ("TCP", "tcp "): factorise again over the uniques.
    merged, uniques = pd.factorize(normalised)
    codes = merged[np.where(codes < 0, len(raw), codes)]
    return codes.astype(np.int64), np.asarray(uniques, dtype=object)


class FlowView:
    """Clean columns of one flow frame, computed on first use."""

    def __init__(self, df: pd.DataFrame) -> None:
        self.df = df
        self._numeric: dict[str, np.ndarray] = {}
        self._factorized: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._text: dict[str, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.df)

    def numeric(self, column: str) -> np.ndarray:
        """Column as float64 with NaN/inf/absent -> 0 and negatives -> 0."""
        if column not in self._numeric:
            if column not in self.df.columns:
                values = np.zeros(len(self.df), dtype=np.float64)
            else:
                raw = self.df[column]
                if not pd.api.types.is_numeric_dtype(raw):
                    raw = pd.to_numeric(raw, errors="coerce")
                values = raw.to_numpy(dtype=np.float64, na_value=0.0)
                values = np.where(np.isfinite(values) & (values > 0), values, 0.0)
            self._numeric[column] = values
        return self._numeric[column]

    def factorized(self, column: str) -> tuple[np.ndarray, np.ndarray]:
        """(codes, normalised uniques) of a text column; absent -> all ``""``."""
        if column not in self._factorized:
            if column not in self.df.columns:
                n = len(self.df)
                self._factorized[column] = (
                    np.zeros(n, dtype=np.int64),
                    np.array([""], dtype=object),
                )
            else:
                self._factorized[column] = factorize_text(self.df[column])
        return self._factorized[column]

    def text(self, column: str) -> np.ndarray:
        """Column as an object array of lower-case strings, ``""`` for null/absent."""
        if column not in self._text:
            codes, uniques = self.factorized(column)
            self._text[column] = uniques[codes]
        return self._text[column]

    def equals(self, column: str, value: str) -> np.ndarray:
        """Boolean mask ``column == value`` computed on the distinct values."""
        codes, uniques = self.factorized(column)
        return (uniques == value)[codes]

    def isin(self, column: str, values: list[str]) -> np.ndarray:
        """Boolean mask ``column in values`` computed on the distinct values."""
        codes, uniques = self.factorized(column)
        return np.isin(uniques, values)[codes]

    @cached_property
    def epoch_seconds(self) -> np.ndarray:
        """Flow start times as float seconds since the epoch (UTC); unparsable -> 0."""
        ts = self.df["ts"]
        if pd.api.types.is_numeric_dtype(ts):
            values = pd.to_numeric(ts, errors="coerce").to_numpy(dtype=np.float64, na_value=0.0)
        else:
            if not isinstance(ts.dtype, pd.DatetimeTZDtype):
                ts = pd.to_datetime(ts, utc=True, errors="coerce")
            delta = ts - pd.Timestamp(0, tz="UTC")
            values = delta.dt.total_seconds().to_numpy(dtype=np.float64, na_value=0.0)
        return np.where(np.isfinite(values), values, 0.0)

    @cached_property
    def tcp_flags(self) -> tuple[np.ndarray, np.ndarray]:
        """(flags as int64 with 0 for null, mask of rows where flags are known)."""
        n = len(self.df)
        if "tcp_flags" not in self.df.columns:
            return np.zeros(n, dtype=np.int64), np.zeros(n, dtype=bool)
        raw = pd.to_numeric(self.df["tcp_flags"], errors="coerce")
        values = raw.to_numpy(dtype=np.float64, na_value=np.nan)
        known = np.isfinite(values)
        return np.clip(np.where(known, values, 0.0), 0, 255).astype(np.int64), known
