"""`nids score-batch` / `nids prepare` through the CLI: output, messages, exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest
from batch_fixtures import fitted_scorer, read_output, write_archive

import nids.registry
from nids.cli import main
from nids.registry import LoadedModel


@pytest.fixture(scope="module")
def fitted() -> tuple[Any, pd.DataFrame]:
    return fitted_scorer(seed=5)


@pytest.fixture
def registry(fitted: tuple[Any, pd.DataFrame], monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """``load_model`` answering with the fitted scorer as version 7; records the URIs asked."""
    asked: list[str] = []

    def load_model(uri: str, settings: Any) -> LoadedModel:
        asked.append(uri)
        nids_model = SimpleNamespace(scorer=fitted[0])
        return LoadedModel(None, nids_model, uri, "nids-isoforest", 7, "1.2.0")

    monkeypatch.setattr(nids.registry, "load_model", load_model)
    return asked


def test_score_batch_writes_output_and_summary(
    fitted: tuple[Any, pd.DataFrame], registry: list[str], workdir: Path, capsys: Any
) -> None:
    source = write_archive(fitted[1].iloc[:800], workdir / "in", parts=2)
    code = main(["score-batch", "--input", source, "--output", "scored", "--explain", "all"])
    assert code == 0
    assert registry == ["models:/nids-isoforest@production"]
    out = read_output(workdir / "scored")
    assert len(out) == 800 and set(out["model_version"]) == {"7"}
    assert (out["top_features"] != "[]").all()  # --explain all
    summary = json.loads((workdir / "scored" / "_summary.json").read_text())
    assert summary["model"]["semver"] == "1.2.0" and summary["rows"] == 800
    assert "800 flows scored (local)" in capsys.readouterr().out


def test_score_batch_bad_input_is_a_message_and_exit_2(
    registry: list[str], workdir: Path, capsys: Any
) -> None:
    Path("flows.parquet").write_bytes(b"PAR1 not really parquet")
    code = main(["score-batch", "-i", "flows.parquet", "-o", "scored", "--model", "models:/x/1"])
    err = capsys.readouterr().err
    assert code == 2
    assert "flows.parquet" in err and "Traceback" not in err
    assert not Path("scored").exists()


def test_prepare_command(fitted: tuple[Any, pd.DataFrame], workdir: Path, capsys: Any) -> None:
    source = write_archive(fitted[1], workdir / "in", parts=1)
    args = ["prepare", "-i", source, "-o", "prep", "--max-rows", "300", "--no-features"]
    assert main(args) == 0
    assert "3,000 flows read" in capsys.readouterr().out
    assert sorted(p.name for p in Path("prep").iterdir()) == ["_prepare.json", "sample.parquet"]
    assert main(args) == 2  # the output is not empty now
    assert "not empty" in capsys.readouterr().err
