"""Validate flows against the canonical schema and coerce them to its dtypes.

Every check is vectorised over columns; only the reasons of rows that fail are built
row by row. A check never drops a row silently: callers either raise the first
problem (:class:`~nids.errors.SchemaError` naming source, line and field) or split
the bad rows off with their reasons (quarantine).
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from nids.data.community_id import community_ids
from nids.data.schema import COLUMNS, LABELS, PROTO_NUMBERS, REQUIRED_COLUMNS, normalise_proto
from nids.errors import EmptyDataError, SchemaError

OnError = Literal["fail", "quarantine"]

#: Canonical pandas dtypes (what ``pyarrow.Table.to_pandas`` gives for FLOW_SCHEMA,
#: with the nullable ``tcp_flags`` kept as ``Int16``).
DTYPES: dict[str, str] = {
    "ts": "datetime64[us, UTC]",
    "duration": "float64",
    "src_ip": "str",
    "src_port": "int32",
    "dst_ip": "str",
    "dst_port": "int32",
    "proto": "str",
    "src_bytes": "int64",
    "dst_bytes": "int64",
    "src_pkts": "int64",
    "dst_pkts": "int64",
    "tcp_flags": "Int16",
    "conn_state": "str",
    "service": "str",
    "label": "str",
    "attack_type": "str",
    "community_id": "str",
}
_INT_LIMITS: dict[str, tuple[int, int]] = {
    "src_port": (0, 65535),
    "dst_port": (0, 65535),
    "src_bytes": (0, 2**62),
    "dst_bytes": (0, 2**62),
    "src_pkts": (0, 2**62),
    "dst_pkts": (0, 2**62),
    "tcp_flags": (0, 255),
}
# Epoch seconds accepted for ts: 1970 .. 5138 (anything else is a unit mistake).
_MAX_EPOCH_S = 1e11
_OPTIONAL_TEXT = ("conn_state", "service", "attack_type")


class RowIssues:
    """Problems found per row of one batch: vectorised masks plus what went wrong."""

    def __init__(self, n_rows: int) -> None:
        self.n_rows = n_rows
        self._items: list[tuple[np.ndarray, str, str, pd.Series | None]] = []

    def add(
        self,
        mask: np.ndarray | pd.Series,
        field: str,
        problem: str,
        values: pd.Series | None = None,
    ) -> None:
        """Record that rows where ``mask`` is true have ``problem`` in ``field``."""
        arr = np.asarray(mask, dtype=bool)
        if arr.any():
            self._items.append((arr, field, problem, values))

    def mask(self) -> np.ndarray:
        """Rows with at least one problem."""
        out = np.zeros(self.n_rows, dtype=bool)
        for arr, *_ in self._items:
            out |= arr
        return out

    def describe(self, positions: np.ndarray) -> list[tuple[str, str, str]]:
        """(first field, short category, full reason) for each row position given."""
        per_row: dict[int, list[tuple[str, str, str]]] = {int(p): [] for p in positions}
        for arr, field, problem, values in self._items:
            for pos in np.flatnonzero(arr[positions]):
                row = int(positions[pos])
                shown = ""
                if values is not None:
                    value = values.iloc[row]
                    shown = f" (got {_short(value)})"
                per_row[row].append((field, f"{field}: {problem}", f"{field}: {problem}{shown}"))
        out = []
        for p in positions:
            found = per_row[int(p)]
            out.append(
                (found[0][0], found[0][1], "; ".join(reason for _, _, reason in found))
                if found
                else ("", "unknown", "unknown")
            )
        return out


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "...'"


@dataclass
class CheckResult:
    """Outcome of :func:`check_flows`: canonical good rows and the rejected ones."""

    valid: pd.DataFrame
    #: positions (0-based, in the input) of rejected rows
    rejected: np.ndarray
    #: (field, category, reason) per rejected row, same order as ``rejected``
    reasons: list[tuple[str, str, str]]


def check_flows(
    df: pd.DataFrame, issues: RowIssues | None = None, *, source: str | None = None
) -> CheckResult:
    """Coerce ``df`` to canonical columns/dtypes and find every row that violates the schema.

    ``issues`` may already hold problems a reader found while parsing (same rows).
    Missing optional columns are added as nulls; a missing ``community_id`` is computed.
    Raises :class:`SchemaError` only for missing required columns.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise SchemaError(
            f"missing required column(s) {', '.join(missing)}", source=source, field=missing[0]
        )
    n = len(df)
    issues = issues if issues is not None else RowIssues(n)
    out: dict[str, pd.Series] = {}
    index = pd.RangeIndex(n)
    out["ts"] = _coerce_ts(_col(df, "ts"), issues)
    out["duration"] = _coerce_float(_col(df, "duration"), "duration", issues)
    for name in ("src_ip", "dst_ip"):
        out[name] = _coerce_ip(_col(df, name), name, issues)
    for name in ("src_port", "dst_port", "src_bytes", "dst_bytes", "src_pkts", "dst_pkts"):
        out[name] = _coerce_int(_col(df, name), name, issues, required=True)
    out["proto"] = _coerce_proto(_col(df, "proto"), issues)
    flags = _col(df, "tcp_flags") if "tcp_flags" in df.columns else pd.Series(pd.NA, index=index)
    out["tcp_flags"] = _coerce_int(flags, "tcp_flags", issues, required=False)
    for name in _OPTIONAL_TEXT:
        out[name] = _coerce_text(_col(df, name) if name in df.columns else None, n)
    out["label"] = _coerce_label(_col(df, "label") if "label" in df.columns else None, n, issues)
    given_cid = _coerce_text(_col(df, "community_id") if "community_id" in df.columns else None, n)
    bad = issues.mask()
    good = ~bad
    frame = pd.DataFrame({c: out[c] for c in COLUMNS if c != "community_id"}, index=index)
    frame = frame.loc[good].reset_index(drop=True)
    cid = given_cid.loc[good].reset_index(drop=True)
    frame["community_id"] = _fill_community_ids(frame, cid)
    frame = frame[COLUMNS].astype(DTYPES)
    rejected = np.flatnonzero(bad)
    return CheckResult(frame, rejected, issues.describe(rejected))


def _col(df: pd.DataFrame, name: str) -> pd.Series:
    return df[name].reset_index(drop=True)


def _blank(series: pd.Series) -> np.ndarray:
    """Missing values: nulls and empty/whitespace text."""
    missing = series.isna().to_numpy(dtype=bool, copy=True)
    if series.dtype == object or pd.api.types.is_string_dtype(series.dtype):
        text = series.astype("str")
        missing |= (text.str.strip() == "").fillna(True).to_numpy(dtype=bool)
    return missing


def to_float64(series: pd.Series) -> np.ndarray:
    """A column's numbers as float64, NaN where missing or not a number.

    Text columns are cast by Arrow in one vectorised pass; only when some value is not a
    number does pandas' slower element-wise coercion run (to find which).
    """
    dtype = series.dtype
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        return series.to_numpy(dtype="float64", na_value=np.nan)
    if isinstance(dtype, pd.StringDtype):
        text = pc.utf8_trim_whitespace(pa.array(series))
        text = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
        try:
            return np.asarray(pc.cast(text, pa.float64()).to_numpy(zero_copy_only=False))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def _coerce_ts(series: pd.Series, issues: RowIssues) -> pd.Series:
    if isinstance(series.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(series):
        ts = (
            series if isinstance(series.dtype, pd.DatetimeTZDtype) else series.dt.tz_localize("UTC")
        )
        ts = ts.dt.tz_convert("UTC").astype("datetime64[us, UTC]")
        issues.add(ts.isna(), "ts", "missing timestamp")
        return ts.fillna(pd.Timestamp(0, tz="UTC"))
    missing = _blank(series)
    num = pd.Series(to_float64(series), index=series.index)
    numeric_ok = num.notna().to_numpy() & np.isfinite(num.to_numpy()) & (num.abs() < _MAX_EPOCH_S)
    # Out-of-range seconds become 0 before scaling (1e308 * 1e6 would overflow).
    seconds = np.where(numeric_ok, num.to_numpy(na_value=0.0), 0.0)
    micros = np.round(seconds * 1e6).astype("int64")
    ts = pd.Series(pd.to_datetime(micros, unit="us", utc=True), index=series.index)
    ts = ts.astype("datetime64[us, UTC]")
    text_rows = ~numeric_ok & ~missing & num.isna().to_numpy()
    bad_text = np.zeros(len(series), dtype=bool)
    if text_rows.any():
        parsed = pd.to_datetime(
            series[text_rows].astype("str"), utc=True, errors="coerce", format="ISO8601"
        ).astype("datetime64[us, UTC]")
        ts.loc[text_rows] = parsed
        bad_text[text_rows] = parsed.isna().to_numpy()
    out_of_range = ~numeric_ok & ~missing & num.notna().to_numpy()
    negative = numeric_ok & (num.to_numpy(na_value=0.0) < 0)
    issues.add(missing, "ts", "missing timestamp")
    issues.add(bad_text, "ts", "not a timestamp", series)
    issues.add(out_of_range | negative, "ts", "timestamp out of range", series)
    return ts.fillna(pd.Timestamp(0, tz="UTC"))


def _coerce_float(series: pd.Series, field: str, issues: RowIssues) -> pd.Series:
    missing = _blank(series)
    arr = to_float64(series)
    unparsed = np.isnan(arr) & ~missing
    infinite = np.isinf(arr)
    negative = arr < 0
    issues.add(missing, field, "missing value")
    issues.add(unparsed, field, "not a number", series)
    issues.add(infinite, field, "not finite", series)
    issues.add(negative, field, "negative value", series)
    return pd.Series(np.where(np.isfinite(arr) & (arr >= 0), arr, 0.0))


def _coerce_int(series: pd.Series, field: str, issues: RowIssues, *, required: bool) -> pd.Series:
    lo, hi = _INT_LIMITS[field]
    missing = _blank(series)
    if pd.api.types.is_integer_dtype(series.dtype):
        arr = series.to_numpy(dtype="float64", na_value=np.nan)
        unparsed = np.zeros(len(series), dtype=bool)
    else:
        arr = to_float64(series)
        unparsed = np.isnan(arr) & ~missing
    finite = np.isfinite(arr)
    fractional = finite & (np.mod(arr, 1) != 0)
    below = finite & (arr < lo)
    above = finite & (arr > hi)
    if required:
        issues.add(missing, field, "missing value")
    issues.add(unparsed | (~finite & ~np.isnan(arr)), field, "not a number", series)
    issues.add(fractional, field, "not an integer", series)
    issues.add(below, field, "negative value" if lo == 0 else f"below {lo}", series)
    issues.add(above, field, f"above {hi}" if hi < 2**62 else "too large", series)
    ok = finite & ~fractional & ~below & ~above
    if pd.api.types.is_integer_dtype(series.dtype):
        # The checks ran on float64; the values are taken exact (float64 rounds
        # integers above 2**53). ``ok`` bounds them to int64.
        unsigned = pd.api.types.is_unsigned_integer_dtype(series.dtype)
        arr = series.to_numpy(dtype="uint64" if unsigned else "int64", na_value=0)
    kept = np.where(ok, arr, 0).astype("int64")
    if required:
        return pd.Series(kept)
    values = pd.array(kept, dtype="Int64")
    values[~ok] = pd.NA
    return pd.Series(values)


def _coerce_ip(series: pd.Series, field: str, issues: RowIssues) -> pd.Series:
    missing = _blank(series)
    text = series.astype("str").str.strip()
    codes, uniques = pd.factorize(text)
    canon: list[str] = []
    for value in uniques:
        try:
            canon.append(str(ipaddress.ip_address(value)))
        except ValueError:
            canon.append("")
    issues.add(missing, field, "missing address")
    issues.add(_bad_codes(canon, codes) & ~missing, field, "not an IPv4/IPv6 address", series)
    return _mapped_text(text, codes, uniques, canon, fallback="0.0.0.0")


def _coerce_proto(series: pd.Series, issues: RowIssues) -> pd.Series:
    missing = _blank(series)
    text = series.astype("str")
    codes, uniques = pd.factorize(text)
    canon = []
    for value in uniques:
        name = normalise_proto(value)
        known = name in PROTO_NUMBERS or (name.isdigit() and int(name) <= 255)
        canon.append(name if known else "")
    issues.add(missing, "proto", "missing protocol")
    issues.add(_bad_codes(canon, codes) & ~missing, "proto", "unknown protocol", series)
    return _mapped_text(text, codes, uniques, canon, fallback="tcp")


def _bad_codes(canon: list[str], codes: np.ndarray) -> np.ndarray:
    """Rows whose distinct value had no canonical form ('' in ``canon``; nulls excluded)."""
    bad = np.array([c == "" for c in canon] + [False], dtype=bool)
    return bad[codes]


def _mapped_text(
    text: pd.Series, codes: np.ndarray, uniques: pd.Index, canon: list[str], *, fallback: str
) -> pd.Series:
    """Values replaced by their canonical form (``fallback`` for invalid/missing rows,
    which are refused anyway); no copy when every value is already canonical."""
    if not (codes < 0).any() and all(c == u for c, u in zip(canon, uniques, strict=True)):
        return text.reset_index(drop=True)
    table = np.array([c or fallback for c in canon] + [fallback], dtype=object)
    return pd.Series(table[codes], dtype="str")


def _coerce_text(series: pd.Series | None, n: int) -> pd.Series:
    if series is None:
        return pd.Series([None] * n, dtype="str")
    text = series.astype("str").str.strip()
    return text.mask(text == "").reset_index(drop=True)


def _coerce_label(series: pd.Series | None, n: int, issues: RowIssues) -> pd.Series:
    text = _coerce_text(series, n).str.lower()
    unknown = text.notna() & ~text.isin(LABELS)
    issues.add(unknown, "label", f"not one of {', '.join(LABELS)}", series)
    return text.mask(unknown)


def _fill_community_ids(frame: pd.DataFrame, given: pd.Series) -> pd.Series:
    """Keep given Community IDs, compute the missing ones.

    IPv4 TCP/UDP flows (nearly all traffic) are hashed by the generator's numpy message
    builder; the rest by the reference implementation (cached per 5-tuple).
    """
    out = given.astype(object).to_numpy(copy=True)
    todo = pd.isna(out)
    if not todo.any():
        return pd.Series(out, dtype="str")
    from nids.data.generator.frame import ipv4_community_ids

    src, src_ok = _ipv4_ints(frame["src_ip"])
    dst, dst_ok = _ipv4_ints(frame["dst_ip"])
    proto = frame["proto"].to_numpy(dtype=object)
    for name in ("tcp", "udp"):
        rows = np.flatnonzero(todo & src_ok & dst_ok & (proto == name))
        if len(rows):
            out[rows] = ipv4_community_ids(
                src[rows],
                dst[rows],
                frame["src_port"].to_numpy()[rows],
                frame["dst_port"].to_numpy()[rows],
                PROTO_NUMBERS[name],
            ).astype("U30")
            todo[rows] = False
    if todo.any():
        sub = frame.loc[todo]
        out[todo] = community_ids(
            sub["src_ip"].tolist(),
            sub["dst_ip"].tolist(),
            sub["src_port"].tolist(),
            sub["dst_port"].tolist(),
            sub["proto"].tolist(),
        )
    return pd.Series(out, dtype="str")


def _ipv4_ints(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """IPv4 addresses as uint32 (parsed once per distinct address) and an is-IPv4 mask."""
    codes, uniques = pd.factorize(series)
    values = np.zeros(len(uniques) + 1, dtype=np.uint32)
    ok = np.zeros(len(uniques) + 1, dtype=bool)
    for i, text in enumerate(uniques):
        addr = ipaddress.ip_address(text)
        if addr.version == 4:
            values[i], ok[i] = int(addr), True
    return values[codes], ok[codes]


def validate_flows(
    df: pd.DataFrame,
    *,
    source: str = "<memory>",
    on_error: OnError = "fail",
    quarantine_dir: Path | None = None,
    lines: Sequence[int] | None = None,
) -> pd.DataFrame:
    """Return ``df`` as a valid canonical frame (exact columns, dtypes, Community IDs).

    ``on_error="fail"`` raises :class:`SchemaError` naming ``source``, the row (1-based,
    or ``lines[i]`` when given) and the field of the first bad row. ``"quarantine"``
    writes the bad rows with their reasons to ``<quarantine_dir>/<source>.quarantine.jsonl``
    and returns the good ones.
    """
    if len(df) == 0:
        raise EmptyDataError("no flows to validate", source=source)
    result = check_flows(df, source=source)
    if len(result.rejected) == 0:
        return result.valid
    line_numbers = np.asarray(lines) if lines is not None else np.arange(1, len(df) + 1)
    if on_error == "fail":
        raise first_error(source, result, line_numbers)
    from nids.data.readers.quarantine import QuarantineWriter

    with QuarantineWriter(source, quarantine_dir) as writer:
        writer.write_rows(df.reset_index(drop=True), result, line_numbers)
    return result.valid


def first_error(source: str, result: CheckResult, lines: np.ndarray) -> SchemaError:
    """The error to raise for the first rejected row of a check."""
    field, _category, reason = result.reasons[0]
    reason = reason.removeprefix(f"{field}: ")
    total = len(result.rejected)
    more = f"; {total - 1} more invalid row(s)" if total > 1 else ""
    return SchemaError(
        f"{reason}{more}",
        source=source,
        line=int(lines[result.rejected[0]]),
        field=field,
        hint="fix the input, or use --on-error quarantine to set bad rows aside",
    )


def reason_counts(result: CheckResult) -> Counter[str]:
    """How many rejected rows per problem category."""
    return Counter(category for _, category, _ in result.reasons)
