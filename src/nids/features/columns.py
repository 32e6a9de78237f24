"""Robust access to flow columns: every feature reads its inputs through here.

Optional schema columns may be absent or null, numbers may be NaN/inf/negative in
hostile input; these helpers return clean, finite numpy arrays so the feature code
never has to care.
"""

from __future__ import annotations

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


def numeric(df: pd.DataFrame, column: str, *, lower: float = 0.0) -> np.ndarray:
    """Column as float64 with NaN/inf/absent -> 0 and values clipped at ``lower``."""
    if column not in df.columns:
        return np.zeros(len(df), dtype=np.float64)
    values = pd.to_numeric(df[column], errors="coerce").to_numpy(dtype=np.float64, na_value=0.0)
    values = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
    return np.maximum(values, lower)


def text(df: pd.DataFrame, column: str) -> np.ndarray:
    """Column as an object array of lower-case strings, ``""`` for null/absent."""
    if column not in df.columns:
        return np.full(len(df), "", dtype=object)
    series = df[column]
    out = series.astype("string").str.strip().str.lower().fillna("")
    return out.to_numpy(dtype=object)


def epoch_seconds(df: pd.DataFrame) -> np.ndarray:
    """Flow start times as float seconds since the epoch (UTC); unparsable -> 0."""
    ts = df["ts"]
    if pd.api.types.is_numeric_dtype(ts):
        values = pd.to_numeric(ts, errors="coerce").to_numpy(dtype=np.float64, na_value=0.0)
    else:
        parsed = pd.to_datetime(ts, utc=True, errors="coerce")
        delta = parsed - pd.Timestamp(0, tz="UTC")
        values = delta.dt.total_seconds().to_numpy(dtype=np.float64, na_value=0.0)
    return np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)


def tcp_flags(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(flags as int64 with 0 for null, mask of rows where flags are known)."""
    if "tcp_flags" not in df.columns:
        n = len(df)
        return np.zeros(n, dtype=np.int64), np.zeros(n, dtype=bool)
    raw = pd.to_numeric(df["tcp_flags"], errors="coerce")
    known = raw.notna().to_numpy()
    values = raw.fillna(0).to_numpy(dtype=np.float64)
    values = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
    return np.clip(values, 0, 255).astype(np.int64), known
