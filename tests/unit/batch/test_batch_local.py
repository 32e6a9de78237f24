"""The local batch engine: same scores as one pass of the Scorer, partitioned output,
a summary that adds up, and nothing half-written when an input is bad."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from batch_fixtures import fitted_scorer, model_tag, read_output, write_archive

from nids.batch.local import score_local
from nids.batch.options import BatchOptions
from nids.batch.summary import SUMMARY_FILE
from nids.errors import ConfigError, DataError


@pytest.fixture(scope="module")
def fitted() -> tuple[Any, pd.DataFrame]:
    return fitted_scorer()


def test_scores_equal_one_pass_of_the_scorer_across_files_and_batches(
    fitted: tuple[Any, pd.DataFrame], tmp_path: Path
) -> None:
    scorer, flows = fitted
    source = write_archive(flows, tmp_path / "in", parts=3)
    out_dir = str(tmp_path / "out")
    summary = score_local(scorer, model_tag(scorer), source, out_dir, BatchOptions(1000))
    out = read_output(tmp_path / "out")
    expected = scorer.predict_frame(flows)
    assert len(out) == len(flows) == summary.rows
    # The host context carries over batch and file boundaries: one pass over all flows.
    assert np.abs(out["score"].to_numpy() - expected["score"].to_numpy()).max() <= 1e-9
    np.testing.assert_array_equal(out["is_alert"], out["score"] > scorer.threshold)
    assert out["is_alert"].sum() == summary.alerts > 0
    assert list(out["top_features"]) == list(expected["top_features"])
    assert list(out["community_id"]) == list(flows["community_id"])
    assert set(out["model_name"]) == {"nids-test"} and set(out["model_version"]) == {"4"}
    ts = flows["ts"].dt.tz_convert("UTC")
    assert list(out["date"]) == list(ts.dt.strftime("%Y-%m-%d"))
    assert list(out["hour"]) == list(ts.dt.hour)
    day = ts.iloc[0].strftime("%Y-%m-%d")
    assert (tmp_path / "out" / f"date={day}" / f"hour={ts.iloc[0].hour}").is_dir()


def test_batch_size_does_not_change_results(
    fitted: tuple[Any, pd.DataFrame], tmp_path: Path
) -> None:
    scorer, flows = fitted
    source = write_archive(flows, tmp_path / "in", parts=2)
    score_local(scorer, model_tag(scorer), source, str(tmp_path / "a"), BatchOptions(1000))
    score_local(scorer, model_tag(scorer), source, str(tmp_path / "b"), BatchOptions(100_000))
    a, b = read_output(tmp_path / "a"), read_output(tmp_path / "b")
    np.testing.assert_array_equal(a["score"], b["score"])
    assert list(a["source_row"]) == list(range(1500)) * 2


def test_summary_json_adds_up(fitted: tuple[Any, pd.DataFrame], tmp_path: Path) -> None:
    scorer, flows = fitted
    source = write_archive(flows, tmp_path / "in", parts=2)
    score_local(scorer, model_tag(scorer), source, str(tmp_path / "out"))
    summary = json.loads((tmp_path / "out" / SUMMARY_FILE).read_text())
    out = read_output(tmp_path / "out")
    assert summary["engine"] == "local"
    assert summary["rows"] == len(out) == sum(p["rows"] for p in summary["partitions"])
    assert summary["alerts"] == int(out["is_alert"].sum())
    per_hour = out.groupby(["date", "hour"]).size()
    assert {(p["date"], p["hour"]): p["rows"] for p in summary["partitions"]} == {
        (str(d), int(h)): int(n) for (d, h), n in per_hour.items()
    }
    assert [s["rows"] for s in summary["sources"]] == [1500, 1500]
    assert summary["model"]["version"] == "4"
    assert summary["failed_sources"] == [] and summary["refused_rows"] == 0


def test_refuses_a_non_empty_output_unless_overwrite(
    fitted: tuple[Any, pd.DataFrame], tmp_path: Path
) -> None:
    scorer, flows = fitted
    source = write_archive(flows.iloc[:500], tmp_path / "in", parts=1)
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("someone's file")
    with pytest.raises(ConfigError, match="not empty"):
        score_local(scorer, model_tag(scorer), source, str(out))
    score_local(scorer, model_tag(scorer), source, str(out), BatchOptions(overwrite=True))
    assert not (out / "keep.txt").exists()
    assert len(read_output(out)) == 500


def _corrupt_and_mismatched(flows: pd.DataFrame, root: Path) -> None:
    """A truncated parquet file and one lacking the dst_port column, after the good ones."""
    good = root / "flows-0.parquet"
    (root / "flows-8.parquet").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    flows.iloc[:100].drop(columns=["dst_port"]).to_parquet(root / "flows-9.parquet")


def test_bad_file_fails_the_run_and_leaves_nothing(
    fitted: tuple[Any, pd.DataFrame], tmp_path: Path
) -> None:
    scorer, flows = fitted
    source = write_archive(flows, tmp_path / "in", parts=2)
    _corrupt_and_mismatched(flows, tmp_path / "in")
    with pytest.raises(DataError, match=r"flows-8\.parquet: cannot read parquet"):
        score_local(scorer, model_tag(scorer), source, str(tmp_path / "out"), BatchOptions(1000))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]  # no output, no staging


def test_quarantine_mode_scores_the_good_files_and_reports_the_bad(
    fitted: tuple[Any, pd.DataFrame], tmp_path: Path
) -> None:
    scorer, flows = fitted
    source = write_archive(flows, tmp_path / "in", parts=2)
    _corrupt_and_mismatched(flows, tmp_path / "in")
    summary = score_local(
        scorer,
        model_tag(scorer),
        source,
        str(tmp_path / "out"),
        BatchOptions(on_error="quarantine", quarantine_dir=tmp_path / "q"),
    ).to_dict()
    assert summary["rows"] == len(read_output(tmp_path / "out")) == 3000
    assert [Path(s).name for s in summary["failed_sources"]] == [
        "flows-8.parquet",
        "flows-9.parquet",
    ]
    errors = {Path(s["source"]).name: s["error"] for s in summary["sources"]}
    assert "missing required column(s) dst_port" in errors["flows-9.parquet"]
    assert sorted(p.name for p in (tmp_path / "q").iterdir()) == [
        "flows-8.parquet.quarantine.jsonl",
        "flows-9.parquet.quarantine.jsonl",
    ]
