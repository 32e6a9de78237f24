"""The prediction log's rows of a scored request are built off the request path."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nids.monitoring.prediction_log import (
    PredictionLogWriter,
    _log_frame,
    _Sampled,
    build_log_frame,
    read_prediction_log,
)
from nids.serving.alerts import ModelRef
from nids.serving.batch import FlowBatch
from nids.serving.scoring import ScoredRows

AT = datetime(2026, 1, 1, 10, 30, tzinfo=UTC)


def _scored(flows: pd.DataFrame, n: int) -> tuple[FlowBatch, dict[str, np.ndarray]]:
    batch = FlowBatch.from_frame(flows.head(n))
    scores = np.linspace(0.2, 0.8, n)
    return batch, {"score": scores, "is_alert": scores > 0.75}


def test_scored_rows_equal_the_eager_log_frame(flows: pd.DataFrame) -> None:
    batch, scored = _scored(flows, 120)
    rows = ScoredRows(batch, scored, ModelRef("nids-isoforest", "3"), "b", 0.004, AT)
    picked = np.array([0, 7, 64, 119])
    eager = build_log_frame(
        batch.frame().take(picked).reset_index(drop=True),
        {name: values[picked] for name, values in scored.items()},  # type: ignore[arg-type]
        model_name="nids-isoforest",
        model_version="3",
        variant="b",
        scored_at=AT,
    )
    eager["latency_ms"] = 4.0
    assert len(rows) == 120
    # Built and converted as the writer does it: the eager frame, dtypes included.
    built = _log_frame([_Sampled(rows.take(picked), None, None, 1.0)])
    pd.testing.assert_frame_equal(built.drop(columns="sample_rate"), eager)


def test_writer_builds_only_the_sampled_rows(flows: pd.DataFrame, tmp_path: Path) -> None:
    batch, scored = _scored(flows, 1000)
    built: list[int] = []

    class Counting(ScoredRows):
        def combine(self, parts: Any) -> Any:
            built.append(sum(len(p) for p in parts))
            return super().combine(parts)

    x = np.arange(1000.0)[:, None] * np.array([[1.0, -2.0]])
    root = str(tmp_path / "log")
    with PredictionLogWriter(root, sample_rate=0.1, max_bytes=10**8, seed=5) as writer:
        for half in (slice(0, 500), slice(500, 1000)):  # two requests, one flush
            rows = Counting(
                batch.take(np.arange(1000)[half]),
                {name: values[half] for name, values in scored.items()},
                ModelRef("nids-isoforest", "3"),
                "default",
                None,
                AT,
            )
            writer.submit(rows, features=x[half], feature_names=["a", "b"])
    logged = read_prediction_log(root)
    # ~10 % of 1,000 flows, built in one table at the flush
    assert built == [len(logged)] and 60 < len(logged) < 140
    position = {cid: i for i, cid in enumerate(batch.columns["community_id"].tolist())}
    at = logged["community_id"].map(position).to_numpy()
    np.testing.assert_array_equal(logged["score"], scored["score"][at])
    np.testing.assert_array_equal(logged["feature:b"], at * -2.0)
    assert (logged["scored_at"] == pd.Timestamp(AT)).all()
    assert (logged["model_version"] == "3").all()


def test_frames_and_arrow_rows_share_one_flush(flows: pd.DataFrame, tmp_path: Path) -> None:
    """A/B variants (with latency), the single-model path and eager frames mix in a log."""
    batch, scored = _scored(flows, 50)
    ref = ModelRef("nids-isoforest", "3")
    eager = build_log_frame(
        batch.frame(),
        scored,  # type: ignore[arg-type]
        model_name="nids-isoforest",
        model_version="2",
        variant="default",
        scored_at=AT,
    )
    root = str(tmp_path / "log")
    with PredictionLogWriter(root, sample_rate=1.0, max_bytes=10**8) as writer:
        writer.submit(ScoredRows(batch, scored, ref, "a", 0.002, AT))
        writer.submit(eager)
        writer.submit(ScoredRows(batch, scored, ref, "b", None, AT))
        writer.submit(ScoredRows(batch, scored, ref, "a", 0.003, AT))
    logged = read_prediction_log(root)
    assert writer.stats["written"] == len(logged) == 200
    assert logged.groupby("variant").size().to_dict() == {"a": 100, "b": 50, "default": 50}
    latency = logged.groupby("variant")["latency_ms"].agg(["min", "max", "count"])
    assert latency.loc["a"].tolist() == [2.0, 3.0, 100]
    assert latency.loc[["b", "default"], "count"].tolist() == [0, 0]  # not measured: null
    assert logged["src_ip"].tolist() == batch.columns["src_ip"].tolist() * 4
