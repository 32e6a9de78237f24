"""`nids evaluate` from the command line: report files, exit codes, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nids.cli import main
from nids.data import write_flows
from nids.data.generator import generate_flows


@pytest.mark.slow
def test_evaluate_writes_a_report_and_logs_it(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    df = generate_flows(3_000, days=2, attack_share=0.08, seed=2)
    write_flows(df.iloc[:1800], "early.parquet")
    write_flows(df.iloc[1800:], "late.parquet")
    code = main(
        [
            "evaluate",
            "--data",
            "late.parquet",
            "--train",
            "early.parquet",
            "--output",
            "out",
            "--seed",
            "1",
        ]
    )
    assert code == 0
    report = json.loads(Path("out/evaluation.json").read_text())
    assert report["periods"]["test"]["rows"] == 1200
    assert report["sources"]["train"] == "early.parquet"
    assert "baseline" in report["models"]
    assert "ROC-AUC" in capsys.readouterr().out
    # logged to the embedded MLflow store, report attached
    from mlflow.tracking import MlflowClient

    from nids.registry.store import configure_mlflow
    from nids.settings import Settings

    client: MlflowClient = configure_mlflow(Settings())
    runs = client.search_runs(
        [client.get_experiment_by_name("nids").experiment_id],
        filter_string="tags.`nids.run_kind` = 'evaluation'",
    )
    assert len(runs) == 1
    logged = runs[0].data.metrics
    assert logged["auc"] == report["models"]["ours"]["metrics"]["auc"]
    assert "baseline_auc" in logged
    names = {a.path for a in client.list_artifacts(runs[0].info.run_id, "evaluation")}
    assert "evaluation/evaluation.json" in names


def test_evaluate_missing_input_is_a_clear_error(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["evaluate", "--data", "nope.parquet", "--no-log"])
    assert code != 0
    err = capsys.readouterr().err
    assert "nope.parquet" in err
    assert "Traceback" not in err
    assert not Path("reports").exists()
