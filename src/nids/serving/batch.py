"""A request's validated flows as numpy columns: what the service scores, without pandas.

The columns follow the canonical schema (``nids.data.schema``) in the layout
:class:`nids.features.columns.FlowView` reads: ``ts`` as naive-UTC ``datetime64[us]``,
numbers as int64/float64, ``tcp_flags`` as float64 with NaN for unknown, text as
object arrays with ``None`` for null. The canonical DataFrame is built only when
something needs one (the prediction log, ``parse_body``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from nids.data.schema import FLOW_SCHEMA, table_to_frame
from nids.features.columns import flow_records, frame_columns


class FlowBatch:
    """Validated flows of one request: numpy columns, records and (lazily) the frame."""

    def __init__(self, columns: dict[str, np.ndarray], frame: pd.DataFrame | None = None) -> None:
        self.columns = columns
        self._frame = frame
        self._n = len(columns["ts"])

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> FlowBatch:
        """A batch of a canonical frame (kept, so ``frame()`` costs nothing)."""
        frame = frame.reset_index(drop=True)
        return cls(frame_columns(frame), frame)

    @classmethod
    def concat(cls, batches: list[FlowBatch]) -> FlowBatch:
        """One batch of several (same columns), rows in order."""
        names = list(batches[0].columns)
        return cls({name: np.concatenate([b.columns[name] for b in batches]) for name in names})

    def __len__(self) -> int:
        return self._n

    def take(self, rows: np.ndarray) -> FlowBatch:
        """The batch of the given rows (positions), in that order.

        The frame is sliced too only if it was already built; otherwise it stays lazy.
        """
        columns = {name: values[rows] for name, values in self.columns.items()}
        frame = None if self._frame is None else self._frame.iloc[rows].reset_index(drop=True)
        return FlowBatch(columns, frame)

    def records(self, rows: np.ndarray) -> list[dict[str, Any]]:
        """The given rows as ``{column: value}`` dicts (alerts, allow-list)."""
        return flow_records(self.columns, rows)

    def table(self) -> pa.Table:
        """The flows as an Arrow table of the canonical schema (built from the columns)."""
        return _canonical_table(self.columns, self._n)

    def frame(self) -> pd.DataFrame:
        """The canonical DataFrame (canonical dtypes, built once)."""
        if self._frame is None:
            self._frame = table_to_frame(self.table())
        return self._frame


# Arrow builds typed columns far cheaper than 17 pandas Series; table_to_frame gives
# exactly the canonical dtypes (nullable tcp_flags stay integers).


def _canonical_table(columns: dict[str, np.ndarray], n: int) -> pa.Table:
    arrays = []
    for field in FLOW_SCHEMA:
        values = columns.get(field.name)
        if values is None:
            arrays.append(pa.nulls(n, type=field.type))
        elif field.name == "tcp_flags":
            unknown = np.isnan(values)
            known = np.where(unknown, 0, values).astype(np.int16)
            arrays.append(pa.array(known, type=field.type, mask=unknown))
        elif values.dtype == object:
            arrays.append(pa.array(values.tolist(), type=field.type))
        else:
            arrays.append(pa.array(values, type=field.type))
    return pa.Table.from_arrays(arrays, schema=FLOW_SCHEMA)
