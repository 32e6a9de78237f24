"""The partitioned writer: every row lands once, in its (date, hour), whatever the order."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds

from nids.batch.writer import PartitionedWriter


def _table(n: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    day = rng.integers(0, 3, n)
    hour = rng.integers(0, 24, n).astype(np.int32)
    return pa.table(
        {
            "community_id": pa.array([f"1:{seed}:{i}" for i in range(n)]),
            "score": pa.array(rng.random(n)),
            "src_ip": pa.array([f"10.0.0.{i % 7}" for i in range(n)]),
            "date": pa.array([f"2025-11-0{d + 3}" for d in day]),
            "hour": pa.array(hour, pa.int32()),
        }
    )


def test_unordered_rows_are_grouped_into_their_partitions(tmp_path: Path) -> None:
    writer = PartitionedWriter(str(tmp_path / "out"))
    tables = [_table(2_000, 1), _table(500, 2)]
    for table in tables:
        writer.write(table)
    writer.commit("{}")
    got = ds.dataset(str(tmp_path / "out"), format="parquet", partitioning="hive").to_table()
    expected = pa.concat_tables(tables)
    assert got.num_rows == expected.num_rows == 2_500
    want = sorted(
        zip(
            expected["community_id"].to_pylist(),
            expected["date"].to_pylist(),
            expected["hour"].to_pylist(),
            expected["score"].to_pylist(),
            strict=True,
        )
    )
    have = sorted(
        zip(
            got["community_id"].to_pylist(),
            got["date"].to_pylist(),
            got["hour"].to_pylist(),
            got["score"].to_pylist(),
            strict=True,
        )
    )
    assert have == want
    # One file per (call, partition); partition columns live only in the paths.
    files = list((tmp_path / "out").rglob("*.parquet"))
    partitions = {(date, hour) for _, date, hour, _ in want}
    assert {f.parent.relative_to(tmp_path / "out").as_posix() for f in files} == {
        f"date={date}/hour={hour}" for date, hour in partitions
    }
    assert (
        writer.files
        == len(files)
        == sum(
            len({(d, h) for d, h in zip(t["date"].to_pylist(), t["hour"].to_pylist(), strict=True)})
            for t in tables
        )
    )
    assert "date" not in ds.dataset(str(files[0]), format="parquet").schema.names
