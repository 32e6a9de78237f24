"""`nids prepare`: a training sample and its full-context features from a large archive.

Three passes over the archive, each with bounded memory (local) or in executors (Spark):

1. count flows per stratum (UTC date, hour, label);
2. keep the stratified sample (:mod:`nids.batch.sampling`) -> ``sample.parquet``, the
   canonical flows ``nids train --data`` reads;
3. optionally fit the feature step on the sample (port/service rarity tables) and
   compute the sample's features with the host context of the WHOLE archive (every
   flow of a source advances its window, sampled or not) -> ``features.parquet``.

``_prepare.json`` (written last) records the read reports, strata, rates and counts.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from nids.batch.local import identified_batches
from nids.batch.options import BatchOptions
from nids.batch.sampling import SamplePlan, strata
from nids.batch.summary import source_dict
from nids.batch.writer import check_output, output_file, write_summary
from nids.data.readers import ReadReport
from nids.data.schema import COLUMNS
from nids.errors import ConfigError
from nids.settings import Settings

SAMPLE_FILE = "sample.parquet"
FEATURES_FILE = "features.parquet"
PREPARE_SUMMARY = "_prepare.json"
_ID_COLUMNS = ["source_file", "source_row"]
_META_FIELDS = [
    pa.field("source_file", pa.string()),
    pa.field("source_row", pa.int64()),
    pa.field("ts", pa.timestamp("us", tz="UTC")),
    pa.field("label", pa.string()),
]


def features_schema(names: list[str]) -> pa.Schema:
    """Columns of ``features.parquet``: flow identity, time, label, then the features."""
    return pa.schema([*_META_FIELDS, *(pa.field(n, pa.float64()) for n in names)])


def feature_rows(
    transformer: Any, plan: SamplePlan, flows: pd.DataFrame, state: Any, schema: pa.Schema
) -> pa.Table:
    """Advance ``state`` over all ``flows``; the feature rows of the sampled ones."""
    x = transformer.transform(flows, state=state)
    keep = plan.keep(flows)
    kept = flows[keep]
    meta = [
        pa.array(kept["source_file"].astype(object).to_numpy(), pa.string()),
        pa.array(kept["source_row"].to_numpy(np.int64), pa.int64()),
        pa.array(
            kept["ts"].dt.tz_convert("UTC").to_numpy("datetime64[us]"), schema.field("ts").type
        ),
        pa.array(kept["label"].astype(object).to_numpy(), pa.string()),
    ]
    return pa.Table.from_arrays([*meta, *(pa.array(col) for col in x[keep].T)], schema=schema)


def _finish_sample(frames: list[pd.DataFrame]) -> pd.DataFrame:
    if not frames:
        return pd.DataFrame(columns=[*COLUMNS, *_ID_COLUMNS])
    sample = pd.concat(frames, ignore_index=True)
    return sample.sort_values(["ts", *_ID_COLUMNS], kind="stable").reset_index(drop=True)


def _fit_transformer(settings: Settings, sample: pd.DataFrame) -> Any:
    from nids.features import build_feature_transformer

    return build_feature_transformer(home_networks=settings.home_networks).fit(sample[COLUMNS])


def _prepare_local(
    settings: Settings, source: str, plan_args: dict[str, int], features: bool, progress: bool
) -> tuple[SamplePlan, pd.DataFrame, pa.Table | None, list[dict[str, Any]]]:
    options = BatchOptions.from_settings(settings)
    report = ReadReport()

    def passes() -> Iterator[pd.DataFrame]:
        return identified_batches(source, ReadReport(), options, progress=progress)

    counts: Counter[str] = Counter()
    for flows in identified_batches(source, report, options, progress=progress):
        counts.update({str(k): int(v) for k, v in strata(flows).value_counts().items()})
    plan = SamplePlan(counts, **plan_args)
    sample = _finish_sample([flows[plan.keep(flows)] for flows in passes()])
    table = None
    if features:
        transformer = _fit_transformer(settings, sample)
        schema = features_schema([str(n) for n in transformer.get_feature_names_out()])
        state = transformer.new_state()
        parts = [feature_rows(transformer, plan, f, state, schema) for f in passes()]
        table = pa.concat_tables(parts)
    return plan, sample, table, [source_dict(s) for s in report.sources]


def _prepare_spark(
    settings: Settings, source: str, plan_args: dict[str, int], features: bool
) -> tuple[SamplePlan, pd.DataFrame, pa.Table | None, list[dict[str, Any]]]:
    from pyspark import StorageLevel

    from nids.batch.session import spark_session
    from nids.batch.spark import bucket_count, replay_buckets
    from nids.batch.sparkio import READ_SCHEMA, read_flows_spark, spark_ddl, to_flows
    from nids.data.readers.sources import expand

    spark = spark_session(settings, app_name="nids-prepare")
    files = expand(source, settings.s3_endpoint_url)
    options = BatchOptions.from_settings(settings)
    flows, reports = read_flows_spark(spark, [f.name for f in files], options)
    flows = flows.persist(StorageLevel.MEMORY_AND_DISK)  # read once, used by three passes
    try:
        rows = flows.mapInArrow(_count_strata, "stratum string, n bigint")
        totals = rows.groupBy("stratum").sum("n").collect()
        plan = SamplePlan(Counter({r[0]: int(r[1]) for r in totals}), **plan_args)
        kept = flows.mapInArrow(_keep(plan), spark_ddl(READ_SCHEMA)).toArrow()
        sample = _finish_sample([to_flows(kept).drop(columns=["_file", "_batch"])])
        table = None
        if features:
            transformer = _fit_transformer(settings, sample)
            schema = features_schema([str(n) for n in transformer.get_feature_names_out()])
            bc = spark.sparkContext.broadcast(transformer)

            def new_state() -> Any:  # evaluated in executors, from the broadcast copy
                return bc.value.new_state()

            def chunk_fn(chunk: pd.DataFrame, state: Any) -> pa.Table:
                return feature_rows(bc.value, plan, chunk, state, schema)

            n = bucket_count(spark, files, settings.spark_partitions)
            table = replay_buckets(flows, n, new_state, chunk_fn, schema)
            table = table.toArrow().cast(schema)
    finally:
        flows.unpersist()
    return plan, sample, table, list(reports.value)


def _count_strata(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    from nids.batch.sparkio import to_flows

    for rb in batches:
        counts = strata(to_flows(pa.Table.from_batches([rb]))).value_counts()
        yield pa.record_batch(
            [
                pa.array(counts.index.astype(object), pa.string()),
                pa.array(counts.to_numpy(np.int64)),
            ],
            names=["stratum", "n"],
        )


def _keep(plan: SamplePlan) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    def keep(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from nids.batch.sparkio import to_flows

        for rb in batches:
            mask = plan.keep(to_flows(pa.Table.from_batches([rb])))
            yield rb.filter(pa.array(mask))

    return keep


def prepare_training_data(
    settings: Settings,
    source: str,
    output: str,
    *,
    engine: str = "local",
    max_rows: int | None = None,
    min_per_stratum: int = 50,
    features: bool = True,
    overwrite: bool = False,
    progress: bool = False,
) -> dict[str, Any]:
    """Write ``sample.parquet`` (+ ``features.parquet``) and ``_prepare.json`` to
    ``output``; return the summary."""
    if engine not in ("local", "spark"):
        raise ConfigError(f"unknown engine {engine!r}", hint="use local or spark")
    s3 = settings.s3_endpoint_url
    check_output(output, overwrite=overwrite, s3_endpoint_url=s3)
    started = time.perf_counter()
    plan_args = {
        "max_rows": max_rows or settings.max_train_rows,
        "min_per_stratum": min_per_stratum,
        "seed": settings.seed,
    }
    if engine == "local":
        plan, sample, table, sources = _prepare_local(
            settings, source, plan_args, features, progress
        )
    else:
        plan, sample, table, sources = _prepare_spark(settings, source, plan_args, features)
    summary = _write(output, sample, table, s3)
    summary.update(
        engine=engine,
        source=source,
        elapsed_s=round(time.perf_counter() - started, 3),
        plan=plan.to_dict(),
        sources=sorted(sources, key=lambda s: str(s["source"])),
    )
    write_summary(output, json.dumps(summary, indent=2), s3, name=PREPARE_SUMMARY)
    return summary


def _write(
    output: str, sample: pd.DataFrame, table: pa.Table | None, s3: str | None
) -> dict[str, Any]:
    """Write the sample, then the features; on failure remove what was written."""
    import pyarrow.parquet as pq

    from nids.data.io import write_flows

    root = output.rstrip("/")
    labels = sample["label"].astype("string").str.lower().fillna("unlabelled").value_counts()
    summary: dict[str, Any] = {
        "output": output,
        "sample_rows": len(sample),
        "sample_labels": {str(k): int(v) for k, v in labels.items()},
        "features_file": None,
    }
    try:
        write_flows(sample[COLUMNS], f"{root}/{SAMPLE_FILE}", s3_endpoint_url=s3)
        if table is not None:
            order = [("ts", "ascending"), ("source_file", "ascending"), ("source_row", "ascending")]
            fs, path = output_file(output, FEATURES_FILE, s3)
            with fs.open(path, "wb") as fh:
                pq.write_table(table.sort_by(order), fh)
            summary["features_file"] = f"{root}/{FEATURES_FILE}"
            summary["features"] = table.num_columns - len(_META_FIELDS)
    except BaseException:
        for name in (SAMPLE_FILE, FEATURES_FILE):
            fs, path = output_file(output, name, s3)
            if fs.exists(path):
                fs.rm(path)
        raise
    return summary
