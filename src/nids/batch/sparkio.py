"""Reading flow archives on Spark with the project's readers, one file per task.

Executors call :func:`nids.data.iter_flow_batches` on their file, so every supported
format, the schema checks and ``--on-error`` behave exactly as in the local engine, and
each flow keeps its identity: file index, reader batch and row. Per-file reports come
back to the driver through an accumulator.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from nids.batch.frames import SOURCE_FIELDS
from nids.batch.options import BatchOptions
from nids.batch.summary import source_dict
from nids.data.schema import FLOW_SCHEMA, table_to_frame
from nids.data.validation import DTYPES
from nids.errors import DataError, ServiceUnavailableError

#: Order columns: a flow's file (index in the sorted file list) and reader batch.
ORDER_FIELDS = [pa.field("_file", pa.int32()), pa.field("_batch", pa.int32())]
READ_SCHEMA = pa.schema([*FLOW_SCHEMA, *SOURCE_FIELDS, *ORDER_FIELDS])


def spark_ddl(schema: pa.Schema) -> str:
    """Spark DDL of an Arrow schema of the types used here."""
    names = {
        pa.timestamp("us", tz="UTC"): "timestamp",
        pa.float64(): "double",
        pa.string(): "string",
        pa.int16(): "smallint",
        pa.int32(): "int",
        pa.int64(): "bigint",
        pa.bool_(): "boolean",
    }
    return ", ".join(f"`{f.name}` {names[f.type]}" for f in schema)


def to_flows(table: pa.Table) -> pd.DataFrame:
    """An Arrow table of :data:`READ_SCHEMA` as the pandas frame the readers yield."""
    frame = table_to_frame(table)
    return frame.astype(DTYPES)


def _list_param() -> Any:
    from pyspark.accumulators import AccumulatorParam

    class ListParam(AccumulatorParam):
        def zero(self, value: list[Any]) -> list[Any]:
            return []

        def addInPlace(self, a: list[Any], b: list[Any]) -> list[Any]:  # noqa: N802
            a.extend(b)
            return a

    return ListParam()


def read_flows_spark(spark: Any, files: list[str], options: BatchOptions) -> tuple[Any, Any]:
    """(DataFrame of :data:`READ_SCHEMA`, accumulator of per-file report dicts)."""
    reports = spark.sparkContext.accumulator([], _list_param())
    reader = _file_reader(options, reports)
    listing = spark.createDataFrame(list(enumerate(files)), "file_idx int, path string")
    flows = listing.repartition(max(1, len(files))).mapInArrow(reader, spark_ddl(READ_SCHEMA))
    return flows, reports


def _file_reader(
    options: BatchOptions, reports: Any
) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    def read(listing: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from nids.batch.local import identified_batches
        from nids.data.io import to_table
        from nids.data.readers import ReadReport

        for rb in listing:
            for idx, path in zip(rb["file_idx"].to_pylist(), rb["path"].to_pylist(), strict=True):
                report = ReadReport()
                try:
                    for b, flows in enumerate(identified_batches(path, report, options)):
                        n = len(flows)
                        extra = [
                            pa.array(flows["source_file"].astype(object).to_numpy(), pa.string()),
                            pa.array(flows["source_row"].to_numpy(np.int64), pa.int64()),
                            pa.repeat(pa.scalar(idx, pa.int32()), n),
                            pa.repeat(pa.scalar(b, pa.int32()), n),
                        ]
                        table = to_table(flows)
                        yield from pa.Table.from_arrays(
                            [*table.columns, *extra], schema=READ_SCHEMA
                        ).to_batches()
                except DataError:
                    # In quarantine mode the report already says why the file gave no
                    # flows; in fail mode the job fails with this error.
                    if options.on_error == "fail":
                        raise
                reports.add([source_dict(s) for s in report.sources])

    return read


_NIDS_ERROR = re.compile(r"nids\.errors\.(?P<cls>\w+): (?P<msg>[^\n]+)", re.MULTILINE)


def reraise_executor_error(exc: BaseException) -> None:
    """Turn a Spark job failure caused by a :class:`NidsError` back into that error."""
    matches = list(_NIDS_ERROR.finditer(str(exc)))
    if not matches:
        return
    match = matches[-1]  # the innermost one is the cause
    if match["cls"] == "ServiceUnavailableError":
        raise ServiceUnavailableError(match["msg"]) from exc
    raise DataError(match["msg"]) from exc
