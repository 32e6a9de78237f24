"""Robust, cached access to flow columns: every feature reads its inputs through here.

Optional schema columns may be absent or null, numbers may be NaN/inf/negative in
hostile input; :class:`FlowView` returns clean, finite numpy arrays (each computed
once per transform) so the feature code never has to care.

A view sits on either a pandas DataFrame (training, evaluation, batch, the pyfunc) or
a *columnar mapping* (the service: no pandas on its hot path)::

    {"ts": datetime64 array (naive = UTC) or epoch seconds,
     "duration": float array, "src_port": int array, ...,
     "tcp_flags": float array with NaN for unknown (or int / object with None),
     "src_ip": object array of str (None = null) or (codes, uniques) with code -1 = null}

Both give bit-identical clean columns (tests compare them), so features and scores do
not depend on how the flows arrived.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cached_property
from typing import Any, TypeAlias

import numba
import numpy as np
import pandas as pd

from nids.data.schema import REQUIRED_COLUMNS
from nids.errors import SchemaError

#: Columns the features need; the rest of the schema is optional.
FEATURE_INPUT_COLUMNS = tuple(REQUIRED_COLUMNS)

#: column -> 1-D numpy array, or (codes, uniques) for a pre-factorised text column.
FlowColumns: TypeAlias = Mapping[str, Any]
#: What the feature transformer and the Scorer accept.
Flows: TypeAlias = pd.DataFrame | FlowColumns

#: Up to this many values are factorised with a dict: pd.factorize has a fixed cost of
#: tens of microseconds, which dominates a single-flow request.
SMALL_N = 16


def column_names(flows: Flows) -> list[str]:
    """The columns present in a frame or a columnar mapping."""
    return [str(c) for c in (flows.columns if isinstance(flows, pd.DataFrame) else flows)]


def n_flows(flows: Flows) -> int:
    """Number of flows of a frame or a columnar mapping (columns of unequal length raise)."""
    if isinstance(flows, pd.DataFrame):
        return len(flows)
    lengths = {_length(v) for v in flows.values()}
    if len(lengths) > 1:
        raise SchemaError(f"flow columns of unequal lengths {sorted(lengths)}")
    return lengths.pop() if lengths else 0


def _length(value: Any) -> int:
    return len(value[0]) if isinstance(value, tuple) else len(value)


def check_columns(flows: Flows) -> None:
    """Raise :class:`SchemaError` naming the first missing required column."""
    if not isinstance(flows, pd.DataFrame | Mapping):
        raise SchemaError(
            f"features expect a DataFrame or a columnar mapping of flows, "
            f"got {type(flows).__name__}"
        )
    present = set(column_names(flows))
    missing = [c for c in FEATURE_INPUT_COLUMNS if c not in present]
    if missing:
        raise SchemaError(
            f"flow frame lacks required column(s) {', '.join(missing)}",
            field=missing[0],
            hint="features need the canonical flow schema (nids.data.schema)",
        )


def _is_null(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float | np.floating) and bool(np.isnan(value))


def _factorize_raw(values: pd.Series | np.ndarray) -> tuple[np.ndarray, list[Any]]:
    """(codes with -1 for null, raw uniques in order of first appearance)."""
    # The service's object arrays go in as they are: the same hash table as through a
    # Series, without building one (that costs 2-3x the factorisation itself).
    plain = isinstance(values, pd.Series) or (
        isinstance(values, np.ndarray) and values.dtype == object
    )
    codes, uniques = pd.factorize(
        values if plain else pd.Series(values, dtype=object), use_na_sentinel=True
    )
    return codes, list(uniques)


def _normalise(codes: np.ndarray, raw: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Strip/lower-case the distinct values, merge spellings, null -> the trailing ``""``."""
    normalised = [str(u).strip().lower() for u in raw] + [""]
    # Normalising may merge spellings ("TCP", "tcp "): factorise again over the uniques.
    index: dict[str, int] = {}
    merged = np.fromiter(
        (index.setdefault(t, len(index)) for t in normalised), dtype=np.int64, count=len(normalised)
    )
    codes = merged[np.where(codes < 0, len(raw), codes)]
    return codes.astype(np.int64, copy=False), np.array(list(index), dtype=object)


def factorize_text(values: pd.Series | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(codes, uniques) of stripped lower-case strings; null -> ``""``.

    Everything per distinct value is then computed once and broadcast with ``codes``.
    """
    if len(values) <= SMALL_N:
        return _factorize_small(values)
    return _normalise(*_factorize_raw(values))


# Normalised spellings of the strings online requests repeat (protocols, states,
# services, addresses); bounded, cleared when full.
_NORMALISED: dict[str, str] = {}
_NORMALISED_MAX = 100_000


def _factorize_small(values: pd.Series | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`factorize_text` of a few values in one Python pass (same codes/uniques)."""
    index: dict[str, int] = {}
    codes = []
    for value in values:
        if type(value) is str:
            text = _NORMALISED.get(value)
            if text is None:
                if len(_NORMALISED) >= _NORMALISED_MAX:
                    _NORMALISED.clear()
                text = _NORMALISED[value] = value.strip().lower()
        elif _is_null(value):
            text = ""
        else:
            text = str(value).strip().lower()
        codes.append(index.setdefault(text, len(index)))
    index.setdefault("", len(index))  # null's value is always among the uniques
    return np.array(codes, dtype=np.int64), np.array(list(index), dtype=object)


class FlowView:
    """Clean columns of one flow frame or columnar mapping, computed on first use."""

    def __init__(self, flows: Flows) -> None:
        self.flows = flows
        self._frame = isinstance(flows, pd.DataFrame)
        self._present = set(column_names(flows))
        self._n = n_flows(flows)
        self._numeric: dict[str, np.ndarray] = {}
        self._factorized: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._text: dict[str, np.ndarray] = {}

    def __len__(self) -> int:
        return self._n

    def has(self, column: str) -> bool:
        """Whether the input has ``column`` at all."""
        return column in self._present

    def numeric(self, column: str) -> np.ndarray:
        """Column as float64 with NaN/inf/absent -> 0 and negatives -> 0."""
        if column not in self._numeric:
            if column not in self._present:
                values = np.zeros(self._n, dtype=np.float64)
            else:
                raw = self.flows[column]
                values = _float_values(raw, nan=0.0)
                if isinstance(raw, np.ndarray) and raw.dtype.kind in "iu":
                    values = np.maximum(values, 0.0)  # integers: always finite
                else:
                    values = np.where(np.isfinite(values) & (values > 0), values, 0.0)
            self._numeric[column] = values
        return self._numeric[column]

    def factorized(self, column: str) -> tuple[np.ndarray, np.ndarray]:
        """(codes, normalised uniques) of a text column; absent -> all ``""``."""
        if column not in self._factorized:
            if column not in self._present:
                self._factorized[column] = (
                    np.zeros(self._n, dtype=np.int64),
                    np.array([""], dtype=object),
                )
            else:
                raw = self.flows[column]
                if isinstance(raw, tuple):  # pre-factorised (codes, raw uniques)
                    codes, uniques = raw
                    self._factorized[column] = _normalise(
                        np.asarray(codes, dtype=np.int64), list(uniques)
                    )
                else:
                    self._factorized[column] = factorize_text(raw)
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

    def isin(self, column: str, values: Iterable[str]) -> np.ndarray:
        """Boolean mask ``column in values`` computed on the distinct values."""
        codes, uniques = self.factorized(column)
        wanted = frozenset(values)
        hit = np.fromiter((u in wanted for u in uniques), dtype=bool, count=len(uniques))
        return hit[codes]

    @cached_property
    def epoch_seconds(self) -> np.ndarray:
        """Flow start times as float seconds since the epoch (UTC); unparsable -> 0."""
        ts = self.flows["ts"]
        values: np.ndarray
        if isinstance(ts, np.ndarray) and ts.dtype.kind == "M":
            values = _seconds(ts.astype("datetime64[ns]").view(np.int64), np.isnat(ts))
        elif isinstance(ts, np.ndarray) and ts.dtype.kind in "iuf":
            values = ts.astype(np.float64)
        else:
            series: Any = ts if isinstance(ts, pd.Series) else pd.Series(ts)
            if pd.api.types.is_numeric_dtype(series):
                values = pd.to_numeric(series, errors="coerce").to_numpy(
                    dtype=np.float64, na_value=0.0
                )
            else:
                if not isinstance(series.dtype, pd.DatetimeTZDtype):
                    series = pd.to_datetime(series, utc=True, errors="coerce")
                naive = series.dt.tz_convert("UTC").dt.tz_localize(None)
                stamps = naive.to_numpy(dtype="datetime64[ns]")
                values = _seconds(stamps.view(np.int64), np.isnat(stamps))
        return np.where(np.isfinite(values), values, 0.0)

    @cached_property
    def tcp_flags(self) -> tuple[np.ndarray, np.ndarray]:
        """(flags as int64 with 0 for null, mask of rows where flags are known)."""
        if "tcp_flags" not in self._present:
            return np.zeros(self._n, dtype=np.int64), np.zeros(self._n, dtype=bool)
        values = _float_values(self.flows["tcp_flags"], nan=np.nan)
        known = np.isfinite(values)
        # np.clip's own fixed cost is several times that of these two ufuncs.
        flags = np.minimum(np.maximum(np.where(known, values, 0.0), 0.0), 255.0)
        return flags.astype(np.int64), known


def _seconds(ns: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """Epoch seconds of nanosecond ticks, as pandas' ``Timedelta.total_seconds`` computes
    them (whole seconds plus the rounded fraction, nudged off a whole second it only
    reached by rounding); ``missing`` rows -> NaN. Both input kinds go through here."""
    values = np.empty(len(ns), dtype=np.float64)
    _seconds_kernel(
        np.ascontiguousarray(ns, dtype=np.int64), np.ascontiguousarray(missing, dtype=bool), values
    )
    return values


@numba.njit(cache=True, nogil=True)
def _seconds_kernel(ns: np.ndarray, missing: np.ndarray, out: np.ndarray) -> None:
    """One pass of what were ten numpy steps (a single-flow request is all fixed costs):
    ``divmod`` by 10**9 (floor), ``whole + residual / 10**9``, the nudges."""
    for i in range(ns.shape[0]):
        if missing[i]:
            out[i] = np.nan
            continue
        whole = ns[i] // 1_000_000_000
        residual = ns[i] % 1_000_000_000
        value = whole + residual / 1_000_000_000
        if residual != 0:
            if value == whole:
                value = np.nextafter(value, value + 1.0)
            if value == whole + 1.0:
                value = np.nextafter(value, value - 1.0)
        out[i] = value


def _float_values(raw: Any, *, nan: float) -> np.ndarray:
    """A column as float64 with missing/unparsable values as ``nan``."""
    if isinstance(raw, np.ndarray) and raw.dtype.kind in "iub":
        return raw.astype(np.float64)
    if isinstance(raw, np.ndarray) and raw.dtype.kind == "f":
        values = raw.astype(np.float64)
        return values if np.isnan(nan) else np.where(np.isnan(values), nan, values)
    # Object columns (and DataFrame columns) keep pandas' coercion rules exactly.
    series = raw if isinstance(raw, pd.Series) else pd.Series(raw, dtype=object)
    if not pd.api.types.is_numeric_dtype(series):
        series = pd.to_numeric(series, errors="coerce")
    return series.to_numpy(dtype=np.float64, na_value=nan)


def flow_records(flows: Flows, rows: np.ndarray) -> list[dict[str, Any]]:
    """The given rows as ``{column: value}`` dicts (for explanations and alerts).

    Values are plain Python objects as ``DataFrame.to_dict(orient="records")`` gives
    them, timestamps as UTC ``pd.Timestamp``, nulls as ``None``; a columnar mapping
    yields the same records as the equivalent frame.
    """
    if isinstance(flows, pd.DataFrame):
        records = flows.iloc[rows].to_dict(orient="records")
        return [{str(k): v for k, v in r.items()} for r in records]
    out: list[dict[str, Any]] = [{} for _ in range(len(rows))]
    for name, column in flows.items():
        for record, value in zip(out, _values_at(column, rows), strict=True):
            record[name] = value
    return out


def _values_at(column: Any, rows: np.ndarray) -> list[Any]:
    if isinstance(column, tuple):  # pre-factorised text
        codes, uniques = column
        return [None if c < 0 else uniques[c] for c in np.asarray(codes)[rows].tolist()]
    picked = np.asarray(column)[rows]
    if picked.dtype.kind == "M":
        return [None if np.isnat(t) else pd.Timestamp(t).tz_localize("UTC") for t in picked]
    if picked.dtype.kind == "O":
        return [None if _is_null(v) else v for v in picked.tolist()]
    return list(picked.tolist())


def frame_columns(df: pd.DataFrame) -> dict[str, np.ndarray]:
    """The columnar mapping of a flow frame (numpy arrays; text as object with None)."""
    out: dict[str, np.ndarray] = {}
    for name in df.columns:
        series = df[name]
        dtype = series.dtype
        if isinstance(dtype, pd.DatetimeTZDtype):
            out[str(name)] = series.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
        elif pd.api.types.is_bool_dtype(dtype) or not pd.api.types.is_numeric_dtype(dtype):
            out[str(name)] = series.astype(object).where(series.notna(), None).to_numpy()
        elif series.hasnans:
            out[str(name)] = series.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            out[str(name)] = series.to_numpy()
    return out
