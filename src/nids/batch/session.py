"""The SparkSession the Spark engine runs in (local mode or under ``spark-submit``)."""

from __future__ import annotations

import os
import sys
from typing import Any

from nids.settings import Settings

#: Settings every nids Spark job needs: Arrow transfer, UTC wall clock, and parquet
#: timestamps as int64 microseconds (the canonical ``timestamp[us, UTC]``, not INT96).
SPARK_CONF = {
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.sources.partitionColumnTypeInference.enabled": "false",
}
#: Extra settings in local mode: no UI, loopback only, few shuffle partitions.
LOCAL_CONF = {
    "spark.ui.enabled": "false",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.driver.host": "127.0.0.1",
    "spark.sql.shuffle.partitions": "4",
}


def spark_session(
    settings: Settings, *, app_name: str = "nids-batch", conf: dict[str, str] | None = None
) -> Any:
    """Get or create the session; ``settings.spark_master`` unless spark-submit chose one."""
    from pyspark.sql import SparkSession

    # Executors must run this interpreter (it has pyarrow, numba and nids installed).
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(app_name)
    submitted = "PYSPARK_GATEWAY_PORT" in os.environ  # launched by spark-submit
    options = dict(SPARK_CONF)
    if not submitted:
        builder = builder.master(settings.spark_master)
        if settings.spark_master.startswith("local"):
            options.update(LOCAL_CONF)
    if settings.s3_endpoint_url:
        options.setdefault("spark.hadoop.fs.s3a.endpoint", settings.s3_endpoint_url)
        options.setdefault("spark.hadoop.fs.s3a.path.style.access", "true")
    options.update(conf or {})
    for key, value in options.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()
