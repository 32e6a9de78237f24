"""Recognise an input's format from its first bytes (never from its file name)."""

from __future__ import annotations

import gzip
import io
import zlib
from typing import Any

from nids.errors import EmptyDataError, UnknownFormatError

PARQUET = "parquet"
ZEEK_TSV = "zeek-tsv"
ZEEK_JSON = "zeek-json"
NFDUMP_CSV = "nfdump-csv"
NF_V9 = "nf-v9"
CIC_CSV = "cicflowmeter-csv"
FORMATS: tuple[str, ...] = (PARQUET, ZEEK_TSV, ZEEK_JSON, NFDUMP_CSV, NF_V9, CIC_CSV)

SNIFF_BYTES = 64 * 1024
GZIP_MAGIC = b"\x1f\x8b"


def header_names(line: str) -> list[str]:
    """Column names of a CSV header line, stripped of spaces, quotes and a BOM."""
    return [name.strip().strip('"').strip() for name in line.lstrip("\ufeff").split(",")]


def csv_layout(names: list[str]) -> str | None:
    """Which flow CSV layout a header belongs to, or None."""
    cols = set(names)
    if {"ts", "te", "td", "sa", "da"} <= cols:
        return NFDUMP_CSV
    if "firstSeen" in cols and cols & {"srcAddr", "srcIP", "sa"}:
        return NFDUMP_CSV
    if {"IPV4_SRC_ADDR", "IPV4_DST_ADDR"} <= cols:
        return NF_V9
    if "Flow Duration" in cols and cols & {"Destination Port", "Dst Port"}:
        return CIC_CSV
    return None


def maybe_decompress(head: bytes) -> tuple[bytes, bool]:
    """Decompress the start of a gzip stream; returns (bytes, was_gzip)."""
    if not head.startswith(GZIP_MAGIC):
        return head, False
    try:
        out = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, SNIFF_BYTES)
    except zlib.error:
        return b"", True
    return out, True


def detect_format(head: bytes, *, source: str) -> str:
    """The format of a file whose first bytes are ``head``.

    Raises :class:`UnknownFormatError` naming the source and what was seen.
    """
    if head.startswith(b"PAR1"):
        return PARQUET
    text, gz = maybe_decompress(head)
    if gz and not text:
        raise UnknownFormatError("gzip data that does not decompress", source=source)
    if not text.strip():
        raise EmptyDataError("the file is empty", source=source)
    decoded = text.decode("utf-8", errors="replace").lstrip("\ufeff")
    first = next((ln.strip() for ln in decoded.splitlines() if ln.strip()), "")
    if first.startswith(("#separator", "#fields")):
        return ZEEK_TSV
    if first.startswith("{") and ('"id.orig_h"' in first or '"ts"' in first):
        return ZEEK_JSON
    layout = csv_layout(header_names(first))
    if layout:
        return layout
    shown = first[:80].encode("unicode_escape").decode("ascii")
    raise UnknownFormatError(
        f"unrecognised flow format (first line: {shown!r})",
        source=source,
        hint=f"supported: {', '.join(FORMATS)}",
    )


def open_stream(fs: Any, path: str, *, gz: bool) -> io.BufferedIOBase:
    """Open ``path`` for binary reading, decompressing gzip transparently."""
    raw = fs.open(path, "rb")
    if gz:
        return gzip.GzipFile(fileobj=raw, mode="rb")
    return raw
