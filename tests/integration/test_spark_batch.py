"""The Spark engine (PySpark local[2]) against the local engine on the same archive:
real Zeek data plus canonical parquet, a corrupt and a mismatched file."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from flow_samples import make_flows
from nids.batch.frames import ModelTag
from nids.batch.local import score_local
from nids.batch.options import BatchOptions
from nids.batch.prepare import prepare_training_data
from nids.batch.spark import score_spark
from nids.data import read_flows, write_flows
from nids.errors import DataError
from nids.model.pipeline import build_pipeline
from nids.model.scorer import Scorer
from nids.settings import Settings
from nids.training.trainer import fit_pipeline
from support import ZEEK_008, ZEEK_010

pytestmark = [pytest.mark.spark, pytest.mark.integration, pytest.mark.slow]

BATCH_ROWS = 1500  # several reader batches per file: the context crosses batch boundaries


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    from nids.batch.session import spark_session

    session = spark_session(Settings(), app_name="nids-test-batch")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def scorer() -> Scorer:
    train = read_flows(ZEEK_008)
    pipeline = build_pipeline(Settings(n_estimators=30, max_samples=256, seed=1))
    fit_pipeline(pipeline, train)
    threshold = float(np.quantile(Scorer(pipeline, 0.0).score(train), 0.99))
    return Scorer(pipeline, threshold, top_k=3)


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Zeek conn.log (TSV), canonical parquet, a truncated and a column-less file."""
    root = tmp_path_factory.mktemp("archive")
    shutil.copy(ZEEK_010, root / "a-zeek-010.conn.log")
    write_flows(make_flows(3000, seed=8, start="2022-06-14", days=0.05), root / "b-flows.parquet")
    good = (root / "b-flows.parquet").read_bytes()
    (root / "c-truncated.parquet").write_bytes(good[: len(good) // 2])
    make_flows(50).drop(columns=["proto"]).to_parquet(root / "d-no-proto.parquet")
    return root


def _read(path: Path) -> pd.DataFrame:
    import pyarrow.dataset as ds

    frame = ds.dataset(str(path), partitioning="hive").to_table().to_pandas()
    return frame.sort_values(["source_file", "source_row"]).reset_index(drop=True)


def test_spark_scores_equal_local_scores(
    spark: Any, scorer: Scorer, archive: Path, tmp_path: Path
) -> None:
    tag = ModelTag("models:/nids-isoforest/3", "nids-isoforest", "3", "1.0.0", scorer.threshold)
    options = BatchOptions(BATCH_ROWS, "quarantine", tmp_path / "quarantine")
    source = str(archive / "*")
    local = score_local(scorer, tag, source, str(tmp_path / "local"), options).to_dict()
    remote = score_spark(
        spark, scorer, tag, source, str(tmp_path / "spark"), options, partitions=3
    ).to_dict()
    a, b = _read(tmp_path / "local"), _read(tmp_path / "spark")

    assert len(a) == len(b) == local["rows"] == remote["rows"] == 5347 + 3000
    assert list(a["source_row"]) == list(b["source_row"])
    assert np.abs(a["score"].to_numpy() - b["score"].to_numpy()).max() <= 1e-6
    np.testing.assert_array_equal(a["is_alert"], b["is_alert"])
    assert a["is_alert"].sum() > 0
    assert list(a["top_features"]) == list(b["top_features"])
    for column in ("ts", "src_ip", "dst_port", "tcp_flags", "community_id", "date", "hour"):
        assert a[column].equals(b[column]), column
    for key in ("rows", "alerts", "partitions", "failed_sources", "refused_rows"):
        assert local[key] == remote[key], key
    assert [Path(s).name for s in remote["failed_sources"]] == [
        "c-truncated.parquet",
        "d-no-proto.parquet",
    ]
    # The context really matters here: scoring each flow alone would differ.
    alone = np.concatenate([scorer.score(a.iloc[[i]]) for i in range(0, len(a), 97)])
    assert np.abs(alone - a["score"].to_numpy()[::97]).max() > 1e-3


def test_spark_fail_mode_names_the_bad_file_and_writes_nothing(
    spark: Any, scorer: Scorer, archive: Path, tmp_path: Path
) -> None:
    tag = ModelTag("runs:/r/model", "unregistered", "runs:/r/model", None, scorer.threshold)
    # Both bad files are read by parallel tasks: whichever fails first is reported.
    bad = r"c-truncated\.parquet: cannot read parquet|d-no-proto\.parquet, field 'proto'"
    with pytest.raises(DataError, match=bad):
        score_spark(spark, scorer, tag, str(archive / "*"), str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_spark_prepare_equals_local_prepare(spark: Any, archive: Path, tmp_path: Path) -> None:
    settings = Settings(seed=3, batch_rows=BATCH_ROWS, on_error="quarantine")
    settings = settings.with_overrides(quarantine_dir=tmp_path / "q")
    source = str(archive / "*")
    args: dict[str, Any] = {"max_rows": 600, "min_per_stratum": 10}
    local = prepare_training_data(settings, source, str(tmp_path / "l"), **args)
    remote = prepare_training_data(settings, source, str(tmp_path / "s"), engine="spark", **args)
    assert local["plan"] == remote["plan"]
    assert pq.read_table(tmp_path / "l" / "sample.parquet").equals(
        pq.read_table(tmp_path / "s" / "sample.parquet")
    )
    fa = pq.read_table(tmp_path / "l" / "features.parquet").to_pandas()
    fb = pq.read_table(tmp_path / "s" / "features.parquet").to_pandas()
    assert list(fa["source_row"]) == list(fb["source_row"]) and len(fa) == local["sample_rows"]
    numeric = fa.columns[4:]
    assert np.abs(fa[numeric].to_numpy() - fb[numeric].to_numpy()).max() <= 1e-9
