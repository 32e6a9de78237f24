"""The local engine: stream the archive's record batches through the Scorer in one process.

Memory is bounded by a few reader batches (one being read, one scored, one written:
see :mod:`nids.batch.pipeline`) plus the host-context state. The state is kept across
batches (as the service keeps it across requests), so a host's window spans batch and
file boundaries; each batch is processed in time order.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

from nids.batch.frames import ModelTag, score_chunk
from nids.batch.options import BatchOptions
from nids.batch.pipeline import BackgroundSink, prefetched
from nids.batch.summary import BatchSummary
from nids.batch.writer import PartitionedWriter
from nids.data.readers import ReadReport, iter_flow_batches


def identified_batches(
    source: str, report: ReadReport, options: BatchOptions, *, progress: bool = False
) -> Iterator[pd.DataFrame]:
    """The reader's batches with ``source_file`` and ``source_row`` (0-based position
    among the file's valid rows) added: the flow identity both engines share."""
    current, row = None, 0
    for batch in iter_flow_batches(
        source, report=report, progress=progress, **options.reader_kwargs()
    ):
        # The reader registers each file before yielding its first batch.
        name = report.sources[-1].source
        if name != current:
            current, row = name, 0
        yield batch.assign(source_file=name, source_row=np.arange(row, row + len(batch)))
        row += len(batch)


def score_local(
    scorer: Any,
    model: ModelTag,
    source: str,
    output: str,
    options: BatchOptions = BatchOptions(),
    *,
    progress: bool = False,
) -> BatchSummary:
    """Score every flow of ``source`` into partitioned parquet at ``output``; the summary."""
    started = time.perf_counter()
    summary = BatchSummary("local", source, output, model)
    report = ReadReport()
    state = scorer.features_step.new_state()
    s3 = options.s3_endpoint_url
    writer = PartitionedWriter(output, overwrite=options.overwrite, s3_endpoint_url=s3)
    sink: BackgroundSink[Any] = BackgroundSink(writer.write)
    try:
        read = identified_batches(source, report, options, progress=progress)
        with contextlib.closing(prefetched(read)) as batches:
            for flows in batches:
                table = score_chunk(
                    scorer, flows, state=state, model=model, explain=options.explain
                )
                sink.submit(table)
                summary.add_table(table)
        sink.drain()
        summary.add_report(report)
        summary.context_hosts_evicted = state.stats.hosts_evicted_live
        summary.elapsed_s = time.perf_counter() - started
        writer.commit(summary.to_json())
    except BaseException:
        sink.close()
        writer.abort()
        raise
    finally:
        sink.close()
    return summary
