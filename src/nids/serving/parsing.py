"""Request bodies to validated flow batches: JSON, NDJSON, Arrow IPC and parquet.

Well-formed bodies take the fast acceptors of :mod:`nids.serving.fastpath` (msgspec
decoding for JSON/NDJSON, column-wise reads for Arrow/parquet). Whatever they decline
comes here: JSON is parsed with orjson and checked column by column (the set of Python
types in a column is computed in C), never with a pydantic model per row, so a
10,000-flow batch costs milliseconds. The checks are strict about JSON types (``false`` is not a
number, ``"80"`` is not a port); value rules (ranges, IP syntax, protocols, Community
IDs) are the schema's own, applied by :func:`nids.data.validation.check_flows`. Every
rejection is a :class:`~nids.errors.SchemaError` naming the row (1-based) and field.
"""

from __future__ import annotations

import io
import math
import operator
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from nids.data.schema import INPUT_COLUMNS, LABEL_COLUMNS, REQUIRED_COLUMNS
from nids.data.validation import check_flows
from nids.errors import SchemaError
from nids.serving.batch import FlowBatch
from nids.serving.fastpath import (
    FAST_MAX_BYTES,
    FAST_MAX_ROWS,
    arrow_columns,
    decode_json,
    fast_columns,
)

SOURCE = "request"
JSON_TYPES = ("application/json",)
NDJSON_TYPES = ("application/x-ndjson", "application/ndjson", "application/jsonl")
ARROW_TYPES = ("application/vnd.apache.arrow.stream", "application/vnd.apache.arrow.file")
PARQUET_TYPES = ("application/vnd.apache.parquet", "application/x-parquet")
CONTENT_TYPES = JSON_TYPES + NDJSON_TYPES + ARROW_TYPES + PARQUET_TYPES

_INT_FIELDS = ("src_port", "dst_port", "src_bytes", "dst_bytes", "src_pkts", "dst_pkts")
_TEXT_FIELDS = ("src_ip", "dst_ip")
_OPTIONAL_TEXT = ("conn_state", "service", "community_id", "label", "attack_type")
_ALLOWED = frozenset(INPUT_COLUMNS) | frozenset(LABEL_COLUMNS)
# Accepted JSON value types per field (bool is excluded explicitly: it is an int).
_NUMBER = (int, float)
_FIELD_TYPES: dict[str, tuple[tuple[type, ...], str]] = {
    "ts": ((str, int, float), "an ISO-8601 string or epoch seconds"),
    "duration": (_NUMBER, "a number"),
    "proto": ((str, int), "a protocol keyword or number"),
    "tcp_flags": ((int, type(None)), "an integer or null"),
    **dict.fromkeys(_INT_FIELDS, ((int,), "an integer")),
    **dict.fromkeys(_TEXT_FIELDS, ((str,), "a string")),
    **{f: ((str, type(None)), "a string or null") for f in _OPTIONAL_TEXT},
}


def media_type(content_type: str | None) -> str:
    """The bare media type of a Content-Type header (JSON when absent)."""
    if not content_type:
        return JSON_TYPES[0]
    return content_type.split(";", 1)[0].strip().lower()


def parse_flows(body: bytes, content_type: str | None, *, max_flows: int) -> FlowBatch:
    """Parse and validate a request body into a :class:`FlowBatch` (numpy columns).

    Raises :class:`SchemaError` (-> 422) for malformed bodies and invalid flows, and
    :class:`TooManyFlowsError` (-> 413) beyond ``max_flows``.
    """
    kind = media_type(content_type)
    if (kind in JSON_TYPES or kind in NDJSON_TYPES) and len(body) <= FAST_MAX_BYTES:
        decoded = decode_json(body, ndjson=kind in NDJSON_TYPES)
        if decoded is not None:
            _check_count(len(decoded["ts"]), max_flows)
            accepted = fast_columns(decoded) if len(decoded["ts"]) <= FAST_MAX_ROWS else None
            if accepted is not None:
                return FlowBatch(accepted)
    # Anything the fast path declines: the general parser accepts or explains (422).
    if kind in JSON_TYPES:
        rows = _json_rows(body)
    elif kind in NDJSON_TYPES:
        rows = _ndjson_rows(body)
    elif kind in ARROW_TYPES or kind in PARQUET_TYPES:
        table = _columnar_table(body, arrow=kind in ARROW_TYPES)
        _check_count(table.num_rows, max_flows)
        typed = arrow_columns(table)
        accepted = fast_columns(typed) if typed is not None else None
        if accepted is not None:
            return FlowBatch(accepted)
        return FlowBatch.from_frame(_validated(table.to_pandas()))
    else:
        raise UnsupportedMediaTypeError(
            f"unsupported content type {kind!r}", hint=f"send one of {', '.join(CONTENT_TYPES)}"
        )
    _check_count(len(rows), max_flows)
    columns = typed_columns(rows)
    if len(rows) <= FAST_MAX_ROWS:
        accepted = fast_columns(columns)
        if accepted is not None:
            return FlowBatch(accepted)
    return FlowBatch.from_frame(_validated(pd.DataFrame(columns)))


def parse_body(body: bytes, content_type: str | None, *, max_flows: int) -> pd.DataFrame:
    """Like :func:`parse_flows`, as the canonical flow frame."""
    return parse_flows(body, content_type, max_flows=max_flows).frame()


class TooManyFlowsError(SchemaError):
    """More flows in one request than the service accepts (answered with 413)."""


class UnsupportedMediaTypeError(SchemaError):
    """A body in a format the service does not read (answered with 415)."""


def _check_count(n: int, max_flows: int) -> None:
    if n == 0:
        raise SchemaError("no flows in the request", source=SOURCE, field="flows")
    if n > max_flows:
        raise TooManyFlowsError(
            f"{n} flows in one request; the limit is {max_flows}", source=SOURCE, field="flows"
        )


def _loads(data: bytes, *, line: int | None = None) -> Any:
    import orjson

    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise SchemaError(f"malformed JSON: {exc}", source=SOURCE, line=line) from None


def _json_rows(body: bytes) -> list[Any]:
    doc = _loads(body)
    if not isinstance(doc, dict) or not isinstance(doc.get("flows"), list):
        raise SchemaError('expected a JSON object {"flows": [...]}', source=SOURCE, field="flows")
    extra = sorted(set(doc) - {"flows"})
    if extra:
        raise SchemaError(f"unknown member {extra[0]!r}", source=SOURCE, field=str(extra[0]))
    rows: list[Any] = doc["flows"]
    return rows


def _ndjson_rows(body: bytes) -> list[Any]:
    return [
        _loads(line, line=i) for i, line in enumerate(body.splitlines(), start=1) if line.strip()
    ]


def typed_columns(rows: Sequence[Any]) -> dict[str, list[Any]]:
    """Columns of JSON flow objects, with strict per-field JSON type checks."""
    for i, row in enumerate(rows, start=1):
        if not isinstance(row, dict):
            raise SchemaError("each flow must be a JSON object", source=SOURCE, line=i)
    first_keys = rows[0].keys() if rows else {}.keys()
    uniform = all(row.keys() == first_keys for row in rows)
    keys = set(first_keys) if uniform else set().union(*(row.keys() for row in rows))
    unknown = sorted(keys - _ALLOWED)
    if unknown:
        first = next(i for i, row in enumerate(rows, start=1) if unknown[0] in row)
        raise SchemaError("unknown field", source=SOURCE, line=first, field=unknown[0])
    names = [name for name in INPUT_COLUMNS + LABEL_COLUMNS if name in keys]
    missing = [name for name in REQUIRED_COLUMNS if name not in keys]
    if missing:
        raise SchemaError("required field missing", source=SOURCE, line=1, field=missing[0])
    if uniform and len(names) > 1:
        # Every row has the same fields (the usual case): transpose in C.
        transposed = zip(*map(operator.itemgetter(*names), rows), strict=True)
        raw = dict(zip(names, map(list, transposed), strict=True))
    else:
        raw = {name: [row.get(name, _MISSING) for row in rows] for name in names}
    for name, values in raw.items():
        _check_types(name, values)
    return raw


_MISSING = object()


def _check_types(name: str, values: list[Any]) -> None:
    allowed, what = _FIELD_TYPES[name]
    present = set(map(type, values))
    required = name in REQUIRED_COLUMNS
    bad_types = {t for t in present if t not in allowed} - ({object} if not required else set())
    if bad_types or (required and object in present):
        for i, value in enumerate(values, start=1):
            if value is _MISSING and required:
                raise SchemaError("required field missing", source=SOURCE, line=i, field=name)
            if value is not _MISSING and type(value) not in allowed:
                raise SchemaError(
                    f"must be {what}, got {_json_type(value)}", source=SOURCE, line=i, field=name
                )
    if object in present:  # optional and absent in some rows: null
        for i, value in enumerate(values):
            if value is _MISSING:
                values[i] = None
    # NaN/inf cannot come from JSON, but guard the arithmetic anyway (vectorised when
    # the column is all numbers, the usual case).
    if float in present and not (
        present <= {int, float} and bool(np.isfinite(np.asarray(values, dtype=np.float64)).all())
    ):
        for i, value in enumerate(values, start=1):
            if isinstance(value, float) and not math.isfinite(value):
                raise SchemaError("must be finite", source=SOURCE, line=i, field=name)


def _json_type(value: Any) -> str:
    return {
        bool: "a boolean",
        str: "a string",
        int: "an integer",
        float: "a number",
        list: "an array",
        dict: "an object",
        type(None): "null",
    }.get(type(value), type(value).__name__)


def _columnar_table(body: bytes, *, arrow: bool) -> Any:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        if arrow:
            reader = (
                pa.ipc.open_stream(body)
                if not body.startswith(b"ARROW1")
                else pa.ipc.open_file(body)
            )
            table = reader.read_all()
        else:
            table = pq.read_table(io.BytesIO(body))
        table.validate(full=True)  # damaged buffers, text that is not UTF-8
    except (pa.ArrowInvalid, pa.ArrowException, OSError, ValueError) as exc:
        kind = "Arrow IPC" if arrow else "parquet"
        raise SchemaError(f"unreadable {kind} body: {exc}", source=SOURCE) from None
    unknown = sorted(set(table.column_names) - _ALLOWED)
    if unknown:
        raise SchemaError("unknown column", source=SOURCE, field=unknown[0])
    seen: set[str] = set()
    for name in table.column_names:
        if name in seen:
            raise SchemaError("column given twice", source=SOURCE, field=name)
        seen.add(name)
    return table


def _validated(frame: pd.DataFrame) -> pd.DataFrame:
    """Schema value checks; the first bad row becomes a SchemaError (row, field)."""
    try:
        result = check_flows(frame, source=SOURCE)
    except (TypeError, ValueError, OverflowError) as exc:  # values pandas cannot coerce
        raise SchemaError(f"invalid flow values: {exc}", source=SOURCE) from None
    if len(result.rejected):
        field, _category, reason = result.reasons[0]
        more = len(result.rejected) - 1
        suffix = f"; {more} more invalid flow(s)" if more else ""
        raise SchemaError(
            reason.removeprefix(f"{field}: ") + suffix,
            source=SOURCE,
            line=int(result.rejected[0]) + 1,
            field=field,
        )
    valid = result.valid
    ts = valid["ts"]
    if bool(np.any(ts.isna())):
        raise SchemaError("missing timestamp", source=SOURCE, field="ts")
    return valid
