"""The read loop shared by every format: files -> raw batches -> canonical, checked batches.

Per file: sniff the format, stream raw batches (pyarrow record batches for parquet,
blocks of whole lines for text), map them to canonical columns, validate, and then
either fail on the first bad line/row, quarantine bad rows, or (``collect``, used by
``nids data validate``) only count them.
"""

from __future__ import annotations

import contextlib
import gzip
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from nids.data.readers import detect as fmt_
from nids.data.readers._map import MissingColumnError
from nids.data.readers.flowcsv import NFDUMP_SUMMARY_MARKER, map_cic, map_nf_v9, map_nfdump
from nids.data.readers.quarantine import QuarantineWriter
from nids.data.readers.sources import SourceFile, expand, s3_service_errors
from nids.data.readers.text import (
    BYTES_PER_LINE,
    RawBatch,
    iter_blocks,
    parse_delimited,
    parse_json_lines,
)
from nids.data.readers.zeek import map_zeek, parse_tsv_header
from nids.data.schema import REQUIRED_COLUMNS, table_to_frame
from nids.data.validation import CheckResult, RowIssues, check_flows, first_error
from nids.errors import DataError, EmptyDataError, SchemaError, ServiceUnavailableError

Mode = Literal["fail", "quarantine", "collect"]
Mapper = Callable[[pd.DataFrame, RowIssues, int], pd.DataFrame]
MAPPERS: dict[str, Mapper] = {
    fmt_.ZEEK_TSV: map_zeek,
    fmt_.ZEEK_JSON: map_zeek,
    fmt_.NFDUMP_CSV: map_nfdump,
    fmt_.NF_V9: map_nf_v9,
    fmt_.CIC_CSV: map_cic,
}
#: Example error messages kept per source in ``collect`` mode.
MAX_EXAMPLES = 5
_IGNORED_LINES = ("No matching flows",)


@dataclass
class SourceReport:
    """What happened to one input file."""

    source: str
    fmt: str | None = None
    rows: int = 0
    quarantined: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    quarantine_file: str | None = None
    #: why the whole file was refused (unreadable, unknown format, missing columns)
    error: str | None = None
    examples: list[str] = field(default_factory=list)


@dataclass
class ReadReport:
    """Per-source row counts, refused rows and their reasons."""

    sources: list[SourceReport] = field(default_factory=list)

    @property
    def rows(self) -> int:
        """Valid rows read."""
        return sum(s.rows for s in self.sources)

    @property
    def quarantined(self) -> int:
        """Rows or lines refused (quarantined or, in validate mode, counted)."""
        return sum(s.quarantined for s in self.sources)

    @property
    def failed_sources(self) -> list[SourceReport]:
        """Sources refused as a whole."""
        return [s for s in self.sources if s.error]

    @property
    def reasons(self) -> Counter[str]:
        """Refused rows per problem, over all sources."""
        total: Counter[str] = Counter()
        for s in self.sources:
            total.update(s.reasons)
        return total

    @property
    def quarantine_files(self) -> list[str]:
        """Quarantine files written."""
        return [s.quarantine_file for s in self.sources if s.quarantine_file]


@dataclass
class ReadOptions:
    """Options of one read."""

    fmt: str | None = None
    mode: Mode = "fail"
    quarantine_dir: Path | None = None
    s3_endpoint_url: str | None = None
    batch_rows: int = 500_000
    progress: bool = False


def read_batches(source: str, opts: ReadOptions, report: ReadReport) -> Iterator[pd.DataFrame]:
    """Valid canonical batches of every file of ``source``; fills ``report`` as it goes."""
    if opts.fmt is not None and opts.fmt not in fmt_.FORMATS:
        raise fmt_.UnknownFormatError(
            f"unknown format {opts.fmt!r}", hint=f"choose one of {', '.join(fmt_.FORMATS)}"
        )
    files = expand(source, opts.s3_endpoint_url)
    stems = [f.name.rstrip("/").rsplit("/", 1)[-1] for f in files]
    clash = len(set(stems)) < len(stems)
    state = _State()
    with _progress(opts.progress, sum(f.size for f in files)) as advance:
        for sf in files:
            srep = SourceReport(sf.name)
            report.sources.append(srep)
            writer = (
                QuarantineWriter(sf.name, opts.quarantine_dir, unique=clash)
                if opts.mode == "quarantine"
                else None
            )
            try:
                yield from _read_file(sf, opts, srep, writer, state, advance)
            except s3_service_errors() as exc:
                if writer:
                    writer.abort()
                raise ServiceUnavailableError(f"{sf.name}: S3 read failed: {exc}") from exc
            except EmptyDataError as exc:
                # An empty file among others is not malformed data: note it, read on.
                # (If nothing at all is read, the first such error is raised below.)
                state.file_errors.append(exc)
                srep.error = str(exc)
            except DataError as exc:
                if opts.mode == "fail":
                    if writer:
                        writer.abort()
                    raise
                state.file_errors.append(exc)
                srep.error = str(exc)
                if writer:
                    writer.write_file(str(exc))
            except BaseException:
                if writer:
                    writer.abort()
                raise
            if writer:
                writer.commit()
                if writer.count:
                    srep.quarantine_file = str(writer.path)
    if report.rows == 0 and opts.mode != "collect":
        if report.quarantined:
            where = ", ".join(report.quarantine_files)
            raise EmptyDataError(
                f"no valid flows: all {report.quarantined:,} rows were refused",
                source=source,
                hint=f"see {where}" if where else None,
            )
        if state.file_errors:
            raise state.file_errors[0]
        raise EmptyDataError("no flows found", source=source)


@dataclass
class _State:
    row_offset: int = 0
    file_errors: list[DataError] = field(default_factory=list)


def _read_file(
    sf: SourceFile,
    opts: ReadOptions,
    srep: SourceReport,
    writer: QuarantineWriter | None,
    state: _State,
    advance: Callable[[int], None],
) -> Iterator[pd.DataFrame]:
    try:
        with sf.fs.open(sf.path, "rb") as fh:
            head = fh.read(fmt_.SNIFF_BYTES)
    except OSError as exc:
        raise DataError(f"cannot open: {exc}", source=sf.name) from exc
    fmt = opts.fmt or fmt_.detect_format(head, source=sf.name)
    srep.fmt = fmt
    try:
        if fmt == fmt_.PARQUET:
            batches = _parquet_batches(sf, opts.batch_rows, advance)
        else:
            gz = head.startswith(fmt_.GZIP_MAGIC)
            batches = _text_batches(sf, fmt, gz, opts.batch_rows, advance)
        for raw, mapper in batches:
            valid = _check_batch(sf, raw, mapper, opts.mode, srep, writer, state)
            if len(valid):
                yield valid
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:  # truncated or corrupt gzip
        raise DataError(f"corrupt compressed data: {exc}", source=sf.name) from exc
    except OSError as exc:
        raise DataError(f"read failed: {exc}", source=sf.name) from exc
    except MissingColumnError as exc:
        raise SchemaError(
            f"missing required column {exc}", source=sf.name, field=exc.names[0]
        ) from None
    if srep.rows == 0 and srep.quarantined == 0:
        raise EmptyDataError("no flows in this file", source=sf.name)


def _check_batch(
    sf: SourceFile,
    raw: RawBatch,
    mapper: Mapper,
    mode: Mode,
    srep: SourceReport,
    writer: QuarantineWriter | None,
    state: _State,
) -> pd.DataFrame:
    n = len(raw.frame)
    issues = RowIssues(n)
    result: CheckResult | None = None
    if n:
        mapped = mapper(raw.frame, issues, state.row_offset)
        result = check_flows(mapped, issues, source=sf.name)
    state.row_offset += n
    first_bad_line = min((ln for ln, _, _ in raw.bad_lines if ln is not None), default=None)
    if mode == "fail":
        row_error = (
            first_error(sf.name, result, raw.lines) if result and len(result.rejected) else None
        )
        if raw.bad_lines and (
            row_error is None
            or (first_bad_line is not None and first_bad_line < (row_error.line or 0))
        ):
            line, reason, text = min(raw.bad_lines, key=lambda b: b[0] or 0)
            raise SchemaError(
                f"{reason}: {text[:80]!r}",
                source=sf.name,
                line=line,
                hint="fix the input, or use --on-error quarantine to set bad lines aside",
            )
        if row_error is not None:
            raise row_error
    for line, reason, text in raw.bad_lines:
        srep.quarantined += 1
        srep.reasons["line: wrong number of fields / unparseable"] += 1
        if writer:
            writer.write_line(line, reason, text)
        elif len(srep.examples) < MAX_EXAMPLES:
            srep.examples.append(str(DataError(reason, source=sf.name, line=line)))
    if result is None:
        return pd.DataFrame()
    if len(result.rejected):
        srep.quarantined += len(result.rejected)
        srep.reasons.update(category for _, category, _ in result.reasons)
        if writer:
            writer.write_rows(raw.frame, result, raw.lines)
        else:
            for pos, (fld, _cat, reason) in zip(result.rejected, result.reasons, strict=True):
                if len(srep.examples) >= MAX_EXAMPLES:
                    break
                msg = reason.removeprefix(f"{fld}: ")
                srep.examples.append(
                    str(DataError(msg, source=sf.name, line=int(raw.lines[pos]), field=fld))
                )
    srep.rows += len(result.valid)
    return result.valid


def _parquet_batches(
    sf: SourceFile, batch_rows: int, advance: Callable[[int], None]
) -> Iterator[tuple[RawBatch, Mapper]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    with sf.fs.open(sf.path, "rb") as fh:
        try:
            pf = pq.ParquetFile(fh)
            names = pf.schema_arrow.names
            mapper = _parquet_mapper(names, sf.name)
            wanted = [c for c in names if c in _CANONICAL] if mapper is _identity else None
            offset = 1
            for batch in pf.iter_batches(batch_size=batch_rows, columns=wanted):
                _check_arrow(batch, sf.name)
                frame = table_to_frame(batch)
                lines = np.arange(offset, offset + len(frame))
                offset += len(frame)
                advance(int(sf.size * len(frame) / max(pf.metadata.num_rows, 1)))
                yield RawBatch(frame, lines), mapper
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise DataError(f"cannot read parquet: {exc}", source=sf.name) from exc


def _check_arrow(batch: Any, source: str) -> None:
    """Fail naming the column when a batch's bytes are invalid (e.g. text not UTF-8).

    Parquet readers do not check that string bytes are UTF-8; a damaged page would
    otherwise fail later, mid-validation, without the file's or the column's name.
    """
    import pyarrow as pa

    try:
        batch.validate(full=True)
    except pa.ArrowInvalid:
        for name, column in zip(batch.schema.names, batch.columns, strict=True):
            try:
                column.validate(full=True)
            except pa.ArrowInvalid as exc:
                raise DataError(
                    f"corrupt column {name!r}: {exc}", source=source, field=name
                ) from exc
        raise


_CANONICAL = frozenset(
    [
        *REQUIRED_COLUMNS,
        "tcp_flags",
        "conn_state",
        "service",
        "label",
        "attack_type",
        "community_id",
    ]
)


def _identity(raw: pd.DataFrame, issues: RowIssues, row_offset: int) -> pd.DataFrame:
    return raw


def _parquet_mapper(names: list[str], source: str) -> Mapper:
    """Canonical parquet as is; parquet exports of a known CSV layout via its mapper."""
    if set(REQUIRED_COLUMNS) <= set(names):
        return _identity
    layout = fmt_.csv_layout(names)
    if layout is not None:
        return MAPPERS[layout]
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    raise SchemaError(
        f"missing required column(s) {', '.join(missing)}", source=source, field=missing[0]
    )


def _text_batches(
    sf: SourceFile, fmt: str, gz: bool, batch_rows: int, advance: Callable[[int], None]
) -> Iterator[tuple[RawBatch, Mapper]]:
    mapper = MAPPERS[fmt]
    block_bytes = max(4096, batch_rows * BYTES_PER_LINE)
    with fmt_.open_stream(sf.fs, sf.path, gz=gz) as stream:
        blocks = iter_blocks(stream, block_bytes)
        names: list[str] | None = None
        delimiter = ","
        for raw_block, start in blocks:
            advance(len(raw_block))
            if fmt == fmt_.ZEEK_JSON:
                yield parse_json_lines(raw_block, start), mapper
                continue
            block, first_line = raw_block, start
            if names is None:
                names, delimiter, skip = _header(block, fmt, sf.name)
                first_line += skip
                parts = block.split(b"\n", skip)
                block = parts[skip] if len(parts) > skip else b""
            stop = False
            if fmt == fmt_.NFDUMP_CSV and NFDUMP_SUMMARY_MARKER in b"\n" + block:
                block = (b"\n" + block).split(NFDUMP_SUMMARY_MARKER, 1)[0][1:] + b"\n"
                stop = True
            zeek = fmt == fmt_.ZEEK_TSV
            if not block.strip():
                continue
            yield (
                parse_delimited(
                    block,
                    first_line,
                    names,
                    delimiter=delimiter,
                    quote=not zeek,
                    ignore=_zeek_comment if zeek else _ignored_line,
                ),
                mapper,
            )
            if stop:
                break


def _zeek_comment(text: str) -> bool:
    return text.startswith("#")


def _ignored_line(text: str) -> bool:
    return text.strip() in _IGNORED_LINES


def _header(block: bytes, fmt: str, source: str) -> tuple[list[str], str, int]:
    """(column names, delimiter, header lines to skip) from a file's first block."""
    text = block.decode("utf-8", errors="replace")
    lines = text.split("\n")
    if fmt == fmt_.ZEEK_TSV:
        return parse_tsv_header(lines, source=source)
    skip = 0
    while skip < len(lines) and not lines[skip].strip():
        skip += 1
    if skip == len(lines):
        raise EmptyDataError("the file is empty", source=source)
    return _dedupe(fmt_.header_names(lines[skip].rstrip("\r"))), ",", skip + 1


def _dedupe(names: list[str]) -> list[str]:
    """CIC files repeat some column names (``Fwd Header Length``): suffix ``.1``, ``.2``."""
    seen: Counter[str] = Counter()
    out = []
    for name in names:
        out.append(f"{name}.{seen[name]}" if seen[name] else name)
        seen[name] += 1
    return out


@contextlib.contextmanager
def _progress(enabled: bool, total: int) -> Iterator[Callable[[int], None]]:
    """A rich progress bar over bytes read (only on a terminal, only when asked)."""
    if not enabled:
        yield lambda _n: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    console = Console(stderr=True)
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as bar:
        task = bar.add_task("reading flows", total=total or None)
        yield lambda n: bar.advance(task, n)
