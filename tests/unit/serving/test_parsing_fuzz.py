"""Property: the fast request parsers answer exactly as the general parser does.

The one-pass msgspec decoder, the canonical-timestamp parse and the Arrow acceptor
only ever accept; for any body, ``parse_flows`` must give the general parser's flows
(same columns, same values) or its error (same row, field and message).
"""

from __future__ import annotations

from typing import Any

import orjson
import pandas as pd
from hypothesis import event, example, given
from hypothesis import strategies as st
from serving_fixtures import flow_records

from nids.errors import SchemaError
from nids.serving import parsing
from nids.serving.batch import FlowBatch
from nids.serving.fastpath import fast_columns

FIELDS = [
    "ts",
    "duration",
    "src_ip",
    "src_port",
    "dst_port",
    "proto",
    "src_bytes",
    "tcp_flags",
    "service",
    "community_id",
    "label",
]
ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-5, max_value=2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.sampled_from(
        [
            "",
            " ",
            "80",
            "tcp",
            "TCP ",
            "17",
            "10.0.0.1",
            "2001:DB8::1",
            "1.2.3",
            "benign",
            "Attack",
            "2025-11-04T16:58:32.762042Z",
            "2025-11-04T16:58:32.762Z",
            "2025-11-04 16:58:32",
            "2025-11-04T16:58:32.762042+01:00",
            "2025-02-29T00:00:00.000000Z",
            "1:abc=",
        ]
    ),
    st.just(["nested"]),
)
CHANGE = st.tuples(
    st.integers(min_value=0, max_value=5),  # row
    st.sampled_from([*FIELDS, "unknown"]),
    st.one_of(st.just("<drop>"), ODD_VALUES),
)


def _general(body: bytes, ndjson: bool) -> FlowBatch:
    """The general parser alone (what parse_flows did before the one-pass decoder)."""
    rows = parsing._ndjson_rows(body) if ndjson else parsing._json_rows(body)
    parsing._check_count(len(rows), 100)
    columns = parsing.typed_columns(rows)
    accepted = fast_columns(columns)
    if accepted is not None:
        return FlowBatch(accepted)
    return FlowBatch.from_frame(parsing._validated(pd.DataFrame(columns)))


def _outcome(fn: Any) -> tuple[str, Any]:
    try:
        return "ok", fn().frame()
    except SchemaError as exc:
        return "error", (exc.line, exc.field, exc.message)


@given(
    changes=st.lists(CHANGE, max_size=4),
    ndjson=st.booleans(),
    sep=st.sampled_from([b"\n", b"\r\n", b"\n \n", b" ", b"\n", b"\n"]),
    indent=st.sampled_from([False, False, False, True]),
)
# Found by this test: check_flows scaled out-of-range epoch seconds (overflow warning).
@example(changes=[(0, "ts", 1.7976931348623157e308)], ndjson=False, sep=b"\n", indent=False)
def test_fast_parsers_answer_as_the_general_parser(
    flows: pd.DataFrame, changes: list[tuple[int, str, Any]], ndjson: bool, sep: bytes, indent: bool
) -> None:
    rows = flow_records(flows.head(6))
    for row, field, value in changes:
        if value == "<drop>":
            rows[row].pop(field, None)
        else:
            rows[row][field] = value
    try:
        option = orjson.OPT_INDENT_2 if indent else None  # pretty-printed: not NDJSON
        docs = [orjson.dumps(r, option=option) for r in rows]
    except TypeError:  # a value orjson cannot write (an integer beyond 64 bits)
        return
    body = sep.join(docs) if ndjson else b'{"flows": [' + b",".join(docs) + b"]}"
    kind = "application/x-ndjson" if ndjson else "application/json"
    fast = _outcome(lambda: parsing.parse_flows(body, kind, max_flows=100))
    general = _outcome(lambda: _general(body, ndjson))
    event(fast[0])  # both outcomes must occur (see --hypothesis-show-statistics)
    assert fast[0] == general[0], (fast, general)
    if fast[0] == "ok":
        pd.testing.assert_frame_equal(fast[1], general[1])
    else:
        assert fast[1] == general[1]


ARROW_FIELDS = ["ts", "duration", "src_ip", "dst_port", "proto", "src_bytes", "tcp_flags"]


@given(
    changes=st.lists(
        st.tuples(st.integers(0, 5), st.sampled_from(ARROW_FIELDS), ODD_VALUES), max_size=3
    )
)
def test_arrow_fast_path_answers_as_check_flows(
    flows: pd.DataFrame, changes: list[tuple[int, str, Any]]
) -> None:
    import pyarrow as pa

    from nids.data.io import to_table

    table = to_table(flows.head(6)).drop_columns(["label", "attack_type"])
    for row, field, value in changes:
        try:
            values = table.column(field).to_pylist()
            values[row] = value
            column = pa.array(values)  # the type a client's library would infer
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            return  # not a table a client could build from Python values
        table = table.set_column(table.column_names.index(field), field, column)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    body = sink.getvalue().to_pybytes()
    kind = "application/vnd.apache.arrow.stream"
    fast = _outcome(lambda: parsing.parse_flows(body, kind, max_flows=100))
    general = _outcome(lambda: FlowBatch.from_frame(parsing._validated(table.to_pandas())))
    event(fast[0])
    assert fast[0] == general[0], (fast, general)
    if fast[0] == "ok":
        pd.testing.assert_frame_equal(fast[1], general[1])
    else:
        assert fast[1] == general[1]
