"""`nids monitor drift` exit codes and outputs; `nids feedback` commands."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from monitoring_samples import synthetic_flows, synthetic_profile

from nids.cli import main
from nids.monitoring.prediction_log import PredictionLogWriter


def write_log(root: Path, shift: float, seed: int) -> None:
    frame = synthetic_flows(2000, np.random.default_rng(seed), shift=shift)
    frame["scored_at"] = frame["ts"]
    with PredictionLogWriter(str(root), sample_rate=1.0, max_bytes=10**8) as writer:
        writer.submit(frame)


@pytest.fixture
def profile_path(workdir: Path) -> Path:
    path = workdir / "reference_profile.json"
    path.write_text(json.dumps(synthetic_profile(5000, sample_rows=2000)))
    return path


def test_drift_exit_codes_and_outputs(workdir: Path, profile_path: Path) -> None:
    write_log(workdir / "same", 0.0, 1)
    write_log(workdir / "shifted", 0.8, 2)
    common = ["--reference", str(profile_path), "--no-mlflow"]
    assert main(["monitor", "drift", "--current", "same", *common]) == 0
    code = main(
        [
            "monitor",
            "drift",
            "--current",
            "shifted/date=*",
            *common,
            "--json",
            "out/d.json",
            "--report",
            "out/d.html",
        ]
    )
    assert code == 3
    result = json.loads((workdir / "out" / "d.json").read_text())
    assert result["drift"]["drifted"] is True
    assert "feature:f0" in result["drift"]["drifted_columns"]
    assert (workdir / "out" / "d.html").read_text().startswith("<!DOCTYPE html>")
    # a stricter effect-size gate from the command line turns the verdict around
    assert (
        main(
            [
                "monitor",
                "drift",
                "--current",
                "shifted",
                *common,
                "--psi-threshold",
                "5",
                "--wasserstein-threshold",
                "5",
            ]
        )
        == 0
    )


def test_drift_errors_exit_2(
    workdir: Path, profile_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "monitor",
            "drift",
            "--current",
            "missing.parquet",
            "--reference",
            str(profile_path),
            "--no-mlflow",
        ]
    )
    assert code == 2
    bad = workdir / "bad_profile.json"
    bad.write_text("{}")
    write_log(workdir / "same", 0.0, 1)
    code = main(["monitor", "drift", "--current", "same", "--reference", str(bad), "--no-mlflow"])
    assert code == 2
    err = capsys.readouterr().err
    assert "profile_version" in err and "Traceback" not in err


def test_feedback_commands(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    verdicts = workdir / "verdicts.jsonl"
    verdicts.write_text(
        json.dumps(
            {
                "alert_id": "a",
                "verdict": "true_positive",
                "model_version": "1",
                "flow": {"src_ip": "203.0.113.9", "dst_port": 23},
            }
        )
        + "\n"
        + json.dumps({"alert_id": "b", "verdict": "false_positive", "model_version": "1"})
        + "\n"
    )
    assert main(["feedback", "import", str(verdicts)]) == 0
    assert "imported 2 verdicts" in capsys.readouterr().out
    assert main(["feedback", "summary"]) == 0
    assert "0.500" in capsys.readouterr().out
    assert main(["feedback", "export", "labelled.parquet"]) == 0
    import pandas as pd

    flows = pd.read_parquet(workdir / "labelled.parquet")
    assert flows["label"].tolist() == ["malicious"]
    bad = workdir / "bad.csv"
    bad.write_text("alert_id,verdict\nx,perhaps\n")
    assert main(["feedback", "import", str(bad)]) == 2
