"""Block-wise parsing of delimited and JSON-lines text with exact line numbers.

Files are read in blocks of whole lines so memory stays bounded; pyarrow's CSV parser
splits each block (vectorised, in C). Lines with the wrong number of fields are not
dropped: they come back in ``bad_lines`` with their physical line number and text.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

#: Rough bytes per flow line, to turn a row budget into a block size.
BYTES_PER_LINE = 200


@dataclass
class RawBatch:
    """Rows of one block as text columns named as in the source, plus their line numbers."""

    frame: pd.DataFrame
    lines: np.ndarray
    #: (line, reason, text) of lines that could not be split into the expected fields
    bad_lines: list[tuple[int | None, str, str]] = field(default_factory=list)


def iter_blocks(stream: io.BufferedIOBase, block_bytes: int) -> Iterator[tuple[bytes, int]]:
    """Blocks of complete lines and the 1-based line number of each block's first line."""
    line_no = 1
    rest = b""
    while True:
        chunk = stream.read(block_bytes)
        if not chunk:
            if rest:
                yield rest, line_no
            return
        data = rest + chunk
        cut = data.rfind(b"\n")
        if cut < 0:
            rest = data
            continue
        block, rest = data[: cut + 1], data[cut + 1 :]
        yield block, line_no
        line_no += block.count(b"\n")


def clean_utf8(block: bytes) -> bytes:
    """The block with invalid UTF-8 replaced by U+FFFD (so bad bytes fail per field)."""
    try:
        block.decode("utf-8")
    except UnicodeDecodeError:
        return block.decode("utf-8", errors="replace").encode("utf-8")
    return block


def physical_lines(block: bytes) -> int:
    """Number of lines in a block (a last line without newline counts)."""
    if not block:
        return 0
    return block.count(b"\n") + (0 if block.endswith(b"\n") else 1)


def parse_delimited(
    block: bytes,
    first_line: int,
    names: list[str],
    *,
    delimiter: str,
    quote: bool,
    ignore: Callable[[str], bool] | None = None,
) -> RawBatch:
    """Split one block of data lines (no header) into text columns ``names``.

    Lines with the wrong field count come back in ``bad_lines`` unless ``ignore(text)``.
    """
    block = clean_utf8(block)
    handled: list[int] = []
    bad: list[tuple[int | None, str, str]] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        number = row.number
        if number is not None:
            handled.append(number)
        if ignore is not None and ignore(row.text):
            return "skip"
        line = None if number is None else first_line + number - 1
        reason = f"expected {row.expected_columns} fields, found {row.actual_columns}"
        bad.append((line, reason, row.text))
        return "skip"

    table = pacsv.read_csv(
        io.BytesIO(block),
        read_options=pacsv.ReadOptions(
            column_names=names, use_threads=False, block_size=max(len(block) + 1, 1 << 20)
        ),
        parse_options=pacsv.ParseOptions(
            delimiter=delimiter,
            quote_char='"' if quote else False,
            invalid_row_handler=on_invalid,
            ignore_empty_lines=False,
            newlines_in_values=False,
        ),
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()),
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    frame = table.to_pandas()
    frame.columns = names
    all_lines = np.arange(first_line, first_line + physical_lines(block))
    lines = np.delete(all_lines, np.asarray(handled, dtype=np.int64) - 1)
    if len(lines) != len(frame):  # parser counted lines differently (e.g. bare CR): approximate
        lines = np.arange(first_line, first_line + len(frame))
    blank = (frame == "").all(axis=1).to_numpy()
    if blank.any():
        frame = frame.loc[~blank].reset_index(drop=True)
        lines = lines[~blank]
    return RawBatch(frame, lines, bad)


def parse_json_lines(block: bytes, first_line: int) -> RawBatch:
    """Parse one block of JSON lines (one object per line) into a frame."""
    block = clean_utf8(block)
    raw_lines = block.split(b"\n")
    keep = [i for i, ln in enumerate(raw_lines) if ln.strip()]
    texts = [raw_lines[i] for i in keep]
    numbers = np.asarray(keep, dtype=np.int64) + first_line
    try:
        frame = pd.read_json(io.BytesIO(b"\n".join(texts)), lines=True, dtype=False)
        if len(frame) == len(texts):
            return RawBatch(frame, numbers)
    except ValueError:
        pass
    # Slow path only when something is wrong: find the bad lines one by one.
    records: list[dict[str, object]] = []
    good: list[int] = []
    bad: list[tuple[int | None, str, str]] = []
    for number, text in zip(numbers.tolist(), texts, strict=True):
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            bad.append((number, f"invalid JSON: {exc}", text.decode("utf-8", "replace")))
            continue
        if not isinstance(value, dict):
            bad.append((number, "not a JSON object", text.decode("utf-8", "replace")))
            continue
        records.append(value)
        good.append(number)
    return RawBatch(pd.DataFrame.from_records(records), np.asarray(good, dtype=np.int64), bad)
