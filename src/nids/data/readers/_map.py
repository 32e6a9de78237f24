"""Vectorised helpers the format mappers share (numbers, flags, labels, conn_state)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from nids.data.schema import (
    ACK,
    CWR,
    ECE,
    FIN,
    LABEL_BENIGN,
    LABEL_MALICIOUS,
    LABEL_UNKNOWN,
    PSH,
    RST,
    SYN,
    URG,
    normalise_proto,
)
from nids.data.validation import RowIssues, to_float64

#: Sources without flow start times get ``SYNTHETIC_TS_ORIGIN + row * SYNTHETIC_TS_STEP``
#: (row = 0-based data row across the whole read), so order is kept and the fake clock
#: is obvious (1970).
SYNTHETIC_TS_ORIGIN = pd.Timestamp("1970-01-01T00:00:00Z")
SYNTHETIC_TS_STEP = pd.Timedelta(milliseconds=10)


def pick(raw: pd.DataFrame, *names: str) -> pd.Series | None:
    """The first of ``names`` that is a column of ``raw``."""
    for name in names:
        if name in raw.columns:
            return raw[name]
    return None


class MissingColumnError(Exception):
    """A mapper needs a column the file lacks (the engine names the file)."""

    def __init__(self, names: tuple[str, ...]) -> None:
        super().__init__(" or ".join(names))
        self.names = names


def require(raw: pd.DataFrame, field: str, *names: str) -> pd.Series:
    """Like :func:`pick` but a missing column raises :class:`MissingColumnError`."""
    del field  # documents which canonical field the column feeds
    series = pick(raw, *names)
    if series is None:
        raise MissingColumnError(names)
    return series


def number(
    series: pd.Series | None, field: str, issues: RowIssues, *, default: float = 0.0
) -> np.ndarray:
    """Parse a numeric column; unparseable cells are recorded against ``field``."""
    if series is None:
        return np.full(issues.n_rows, default)
    text = series.astype("str").str.strip()
    missing = (text == "") | text.isna() | (text == "-")
    num = to_float64(text.mask(missing))
    issues.add(
        np.isnan(num) & ~missing.to_numpy(),
        field,
        f"not a number in column {series.name!r}",
        series,
    )
    return np.where(np.isnan(num), default, num)


def synthetic_ts(n: int, row_offset: int) -> pd.Series:
    """Monotonic stand-in flow start times for sources that have none."""
    steps = np.arange(row_offset, row_offset + n, dtype=np.int64)
    micros = SYNTHETIC_TS_ORIGIN.value // 1000 + steps * (SYNTHETIC_TS_STEP.value // 1000)
    return pd.Series(pd.to_datetime(micros, unit="us", utc=True))


def nulls_for(series: pd.Series, *tokens: str) -> pd.Series:
    """Text column with the source's 'unset' tokens (and empty text) as missing."""
    text = series.astype("str").str.strip()
    return text.mask(text.isin(["", *tokens]))


def map_labels(
    labels: pd.Series | None,
    details: pd.Series | None,
    *,
    benign: Iterable[str],
    malicious: Iterable[str] | None,
    unknown: Iterable[str] = (),
    n: int,
    unset: Iterable[str] = ("-",),
) -> tuple[pd.Series, pd.Series]:
    """Canonical (label, attack_type) from a source's label and detail columns.

    Tokens compare case-insensitively. ``malicious=None`` means every other non-empty
    label is malicious (CIC: anything but BENIGN). Labels matching no list are kept as
    given so validation reports them. ``attack_type`` keeps the source's detail unless it
    is empty or merely repeats a benign token.
    """
    benign_set = {t.lower() for t in benign}
    if labels is None:
        label = pd.Series([None] * n, dtype="str")
    else:
        text = nulls_for(labels, *unset)
        low = text.str.lower()
        out = text.copy()
        out[low.isin(benign_set)] = LABEL_BENIGN
        out[low.isin({t.lower() for t in unknown})] = LABEL_UNKNOWN
        if malicious is None:
            out[low.notna() & ~low.isin(benign_set | {t.lower() for t in unknown})] = (
                LABEL_MALICIOUS
            )
        else:
            out[low.isin({t.lower() for t in malicious})] = LABEL_MALICIOUS
        label = out
    if details is None:
        attack = pd.Series([None] * n, dtype="str")
    else:
        attack = nulls_for(details, *unset)
        attack = attack.mask(attack.str.lower().isin(benign_set))
    return label.reset_index(drop=True), attack.reset_index(drop=True)


_FLAG_LETTERS = {"F": FIN, "S": SYN, "R": RST, "P": PSH, "A": ACK, "U": URG, "E": ECE, "C": CWR}


def flags_from_text(series: pd.Series, issues: RowIssues) -> pd.Series:
    """TCP flags given as a number, hex (``0x12``) or nfdump letters (``.AP.SF``)."""
    text = series.astype("str").str.strip()
    codes, uniques = pd.factorize(text)
    table: list[float] = []
    for value in uniques:
        table.append(_one_flag_text(value))
    mapped = np.array([*table, np.nan])[codes]
    bad = np.isnan(mapped) & ~text.isin(["", "-"]).to_numpy() & (codes >= 0)
    issues.add(bad, "tcp_flags", "not TCP flags", series)
    return pd.Series(
        pd.array(np.where(np.isnan(mapped), 0, mapped).astype("int64"), dtype="Int64")
    ).mask(np.isnan(mapped))


def _one_flag_text(value: str) -> float:
    if value in {"", "-"}:
        return np.nan
    if value.lower().startswith("0x"):
        try:
            return float(int(value, 16))
        except ValueError:
            return np.nan
    if value.isdigit():
        return float(int(value))
    bits = 0
    for char in value.upper():
        if char == ".":
            continue
        bit = _FLAG_LETTERS.get(char)
        if bit is None:
            return np.nan
        bits |= bit
    return float(bits)


def derive_conn_state(
    proto: pd.Series, flags: pd.Series, src_pkts: np.ndarray, dst_pkts: np.ndarray
) -> pd.Series:
    """Zeek-style ``conn_state`` from cumulative TCP flags and packet counts.

    TCP, first match wins: no flags known -> null; no SYN -> ``OTH`` (mid-stream);
    SYN+RST with at most one responder packet and no data (PSH) -> ``REJ``; SYN+RST ->
    ``RSTO``; SYN without ACK -> ``S0`` (no handshake); SYN+FIN -> ``SF``; SYN+ACK ->
    ``S1`` (established, not closed). Other protocols: ``SF`` when the responder sent
    packets, else ``S0``.
    """
    tcp = (proto.astype("str").str.lower() == "tcp").to_numpy()
    known = flags.notna().to_numpy()
    f = flags.fillna(0).to_numpy(dtype="int64")

    def has(bit: int) -> np.ndarray:
        return (f & bit) != 0

    syn, rst, ack, fin, psh = has(SYN), has(RST), has(ACK), has(FIN), has(PSH)
    tcp_state = np.select(
        [~syn, syn & rst & (dst_pkts <= 1) & ~psh, syn & rst, syn & ~ack, syn & fin],
        ["OTH", "REJ", "RSTO", "S0", "SF"],
        default="S1",
    )
    other = np.where(dst_pkts > 0, "SF", "S0")
    state = np.where(tcp, tcp_state, other).astype(object)
    state[tcp & ~known] = None
    return pd.Series(state, dtype="str")


def tcp_only(proto: pd.Series, flags: pd.Series) -> pd.Series:
    """Flags are meaningful for TCP only; other protocols get null."""
    return flags.mask((proto.astype("str").str.lower() != "tcp").to_numpy())


def canonical_proto(series: pd.Series) -> pd.Series:
    """Protocol keywords (``6`` / ``TCP`` -> ``tcp``); validation rejects unknown ones."""
    text = series.astype("str").str.strip()
    codes, uniques = pd.factorize(text)
    table = np.array([*(normalise_proto(u) if u else None for u in uniques), None], dtype=object)
    return pd.Series(table[codes], dtype="str")
