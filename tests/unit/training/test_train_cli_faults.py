"""Bad training input through the CLI: a clear message, exit code 2, no MLflow run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from flow_samples import make_flows
from nids.cli import main


def _write(df: pd.DataFrame, name: str) -> str:
    df.to_parquet(name)
    return name


def _nan_duration() -> pd.DataFrame:
    df = make_flows(50)
    df.loc[7, "duration"] = np.nan
    return df


def _inf_duration() -> pd.DataFrame:
    df = make_flows(50)
    df.loc[3, "duration"] = np.inf
    return df


@pytest.mark.parametrize(
    ("frame", "extra", "message"),
    [
        (lambda: make_flows(0), [], "no flows"),
        (lambda: make_flows(1), [], "1 flow(s) cannot be split"),
        (
            lambda: make_flows(300, attack_share=1.0),
            ["--train-on", "benign"],
            "no flow of the training period is labelled benign",
        ),
        (_nan_duration, [], "line 8, field 'duration'"),
        (_inf_duration, [], "line 4, field 'duration'"),
    ],
    ids=["empty", "one-row", "no-benign", "nan", "inf"],
)
def test_bad_data_fails_clearly_before_any_run(
    workdir: Path, capsys: pytest.CaptureFixture[str], frame, extra: list[str], message: str
) -> None:
    path = _write(frame(), "flows.parquet")
    code = main(["train", "--data", path, *extra])
    err = capsys.readouterr().err
    assert code == 2
    assert message in " ".join(err.split())
    assert "Traceback" not in err
    assert not (workdir / "mlruns").exists()  # failed before touching the tracking store


def test_missing_file_is_a_clear_error(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--data", "nowhere/flows.parquet"]) == 2
    assert "nowhere/flows.parquet" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flag", "value", "field"),
    [("--target-fpr", "0", "target_fpr"), ("--test-fraction", "1", "test_fraction")],
)
def test_out_of_range_flags_are_refused_before_reading(
    workdir: Path, capsys: pytest.CaptureFixture[str], flag: str, value: str, field: str
) -> None:
    assert main(["train", "--data", "unread.parquet", flag, value]) == 2
    assert f"invalid value for {field}" in capsys.readouterr().err
