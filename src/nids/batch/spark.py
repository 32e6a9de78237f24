"""The Spark engine: the same Scorer in executors, host context replayed per source bucket.

Flows are read one file per task (:mod:`nids.batch.sparkio`), hashed by ``src_ip``
into buckets, and each bucket is scored by one ``applyInArrow`` call with the model
broadcast once. Inside a bucket, flows are replayed through a fresh host-context state
in the local engine's order (file, reader batch, then time within the batch), one
reader batch at a time. Every context feature is a function of one source's own flows
(its ring and its (source, destination) pairs), so each flow sees exactly the state it
sees in the local engine and gets the same score (see docs/scale-out.md).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from nids.batch.frames import OUTPUT_SCHEMA, PARTITION_COLUMNS, Explain, ModelTag, score_chunk
from nids.batch.options import BatchOptions
from nids.batch.sparkio import read_flows_spark, reraise_executor_error, spark_ddl, to_flows
from nids.batch.summary import BatchSummary
from nids.batch.writer import check_output, remove_output, write_summary
from nids.data.readers.sources import expand
from nids.errors import EmptyDataError

#: Input bytes per source bucket when the bucket count is derived from the input size
#: (a bucket is scored in one executor call, so it must fit an executor's memory).
BUCKET_INPUT_BYTES = 32 * 1024 * 1024
_HELPER_COLUMNS = ["_file", "_batch", "_bucket"]


def spark_path(path: str) -> str:
    """Hadoop's S3 connector is ``s3a://``; local paths pass unchanged."""
    return "s3a://" + path.split("://", 1)[1] if path.startswith("s3://") else path


def bucket_count(spark: Any, files: list[Any], configured: int) -> int:
    """Buckets to score in parallel: the setting, else from the input size."""
    if configured > 0:
        return configured
    by_size = math.ceil(sum(f.size for f in files) / BUCKET_INPUT_BYTES)
    return max(2 * int(spark.sparkContext.defaultParallelism), by_size, 1)


def bucket_replayer(
    new_state: Callable[[], Any],
    chunk_fn: Callable[[pd.DataFrame, Any], pa.Table],
    schema: pa.Schema,
) -> Callable[[pa.Table], pa.Table]:
    """An ``applyInArrow`` function replaying one source bucket, reader batch by reader
    batch, through one host-context state; ``chunk_fn(flows, state)`` makes the output."""

    def replay(table: pa.Table) -> pa.Table:
        order = [("_file", "ascending"), ("_batch", "ascending"), ("source_row", "ascending")]
        flows = to_flows(table.sort_by(order))
        state = new_state()
        keys = flows["_file"].to_numpy(np.int64) * (1 << 32) + flows["_batch"].to_numpy(np.int64)
        cuts = [0, *(np.flatnonzero(np.diff(keys)) + 1).tolist(), len(keys)]
        chunks = [flows.iloc[a:b].drop(columns=_HELPER_COLUMNS) for a, b in pairwise(cuts)]
        parts = [chunk_fn(chunk, state) for chunk in chunks if len(chunk)]
        return pa.concat_tables(parts) if parts else schema.empty_table()

    return replay


def replay_buckets(
    flows: Any,
    buckets: int,
    new_state: Callable[[], Any],
    chunk_fn: Callable[[pd.DataFrame, Any], pa.Table],
    schema: pa.Schema,
) -> Any:
    """Spark DataFrame of ``schema``: flows hashed by ``src_ip`` into ``buckets``, each
    replayed by :func:`bucket_replayer`."""
    from pyspark.sql import functions as sf

    return (
        flows.withColumn("_bucket", sf.pmod(sf.xxhash64("src_ip"), sf.lit(buckets)))
        .groupBy("_bucket")
        .applyInArrow(bucket_replayer(new_state, chunk_fn, schema), spark_ddl(schema))
    )


def _scoring(broadcast: Any, model: ModelTag, explain: Explain) -> tuple[Any, Any]:
    def new_state() -> Any:
        return broadcast.value.features_step.new_state()

    def chunk_fn(flows: pd.DataFrame, state: Any) -> pa.Table:
        return score_chunk(broadcast.value, flows, state=state, model=model, explain=explain)

    return new_state, chunk_fn


def score_spark(
    spark: Any,
    scorer: Any,
    model: ModelTag,
    source: str,
    output: str,
    options: BatchOptions = BatchOptions(),
    *,
    partitions: int = 0,
) -> BatchSummary:
    """Score ``source`` on ``spark`` into partitioned parquet at ``output``; the summary."""
    from py4j.protocol import Py4JJavaError
    from pyspark.errors import PySparkException
    from pyspark.sql import functions as sf

    started = time.perf_counter()
    s3_endpoint_url = options.s3_endpoint_url
    check_output(output, overwrite=options.overwrite, s3_endpoint_url=s3_endpoint_url)
    files = expand(source, s3_endpoint_url)
    summary = BatchSummary("spark", source, output, model)
    flows, reports = read_flows_spark(spark, [f.name for f in files], options)
    n = bucket_count(spark, files, partitions)
    broadcast = spark.sparkContext.broadcast(scorer)
    scored = replay_buckets(flows, n, *_scoring(broadcast, model, options.explain), OUTPUT_SCHEMA)
    try:
        scored.write.mode("overwrite").partitionBy(*PARTITION_COLUMNS).parquet(spark_path(output))
        if not any(s["rows"] for s in reports.value):
            remove_output(output, s3_endpoint_url)
            raise EmptyDataError("no valid flows in any input file", source=source)
        counts = (
            spark.read.parquet(spark_path(output))
            .groupBy("date", "hour")
            .agg(
                sf.count(sf.lit(1)).alias("rows"),
                sf.sum(sf.col("is_alert").cast("int")).alias("alerts"),
            )
            .collect()
        )
    except (PySparkException, Py4JJavaError) as exc:
        remove_output(output, s3_endpoint_url)  # checked empty (or --overwrite) up front
        reraise_executor_error(exc)
        raise
    finally:
        broadcast.unpersist()
    for row in counts:
        summary.add_counts(str(row["date"]), int(row["hour"]), row["rows"], row["alerts"] or 0)
    summary.sources = list(reports.value)
    summary.context_hosts_evicted = None  # per-bucket states are not tracked
    summary.elapsed_s = time.perf_counter() - started
    write_summary(output, summary.to_json(), s3_endpoint_url)
    return summary
