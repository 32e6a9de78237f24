"""The notebooks: stored without outputs, and each runs top to bottom on small data."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import nbformat
import pytest

from nids.model.detectors import DETECTOR_MODEL_NAMES
from support import REPO_ROOT, ZEEK_008

NOTEBOOK_DIR = REPO_ROOT / "notebooks"
NAMES = ["01-explore-flows", "02-train-and-compare", "03-drift-walkthrough"]
#: Small enough for CI, large enough that every attack type and the drift show up.
CI_FLOWS = "8000"


def _read(name: str) -> Any:
    return nbformat.read(NOTEBOOK_DIR / f"{name}.ipynb", as_version=4)


def _text(cell: Any) -> str:
    parts = []
    for out in cell.get("outputs", []):
        parts.append(out.get("text", ""))
        parts.append(str(out.get("data", {}).get("text/plain", "")))
    return "".join(parts)


def test_the_three_notebooks_exist_and_nothing_else() -> None:
    assert sorted(p.stem for p in NOTEBOOK_DIR.glob("*.ipynb")) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_stored_without_outputs(name: str) -> None:
    book = _read(name)
    nbformat.validate(book)
    for index, cell in enumerate(book.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{name}: cell {index} has outputs (strip them)"
            assert cell.execution_count is None, f"{name}: cell {index} has an execution count"
        assert not cell.metadata.get("execution"), f"{name}: cell {index} has timing metadata"
    assert "widgets" not in book.metadata


@pytest.mark.parametrize("name", NAMES)
def test_notebook_uses_the_package_not_copies(name: str) -> None:
    code = "\n".join(c.source for c in _read(name).cells if c.cell_type == "code")
    assert "from nids." in code
    for definition in ["IsolationForest(", "ks_2samp", "def score", "roc_auc_score(y_true"]:
        assert definition not in code, f"{name} re-implements library logic: {definition}"


def _execute(name: str, workdir: Path) -> Any:
    from nbclient import NotebookClient

    book = _read(name)
    client = NotebookClient(
        book,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
    )
    client.execute()  # raises CellExecutionError naming the failing cell
    return book


def _images(book: Any) -> int:
    return sum(
        "image/png" in out.get("data", {}) for cell in book.cells for out in cell.get("outputs", [])
    )


@pytest.fixture
def notebook_env(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Small data, a private working directory (MLflow store, data, reports) per notebook."""
    monkeypatch.setenv("NIDS_NB_FLOWS", CI_FLOWS)
    monkeypatch.setenv("NIDS_NB_WORKDIR", str(workdir))
    monkeypatch.setenv("NIDS_NB_ZEEK", str(ZEEK_008))
    return workdir


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.notebook
def test_explore_notebook_runs(notebook_env: Path) -> None:
    book = _execute("01-explore-flows", notebook_env)
    text = "".join(_text(c) for c in book.cells)
    assert "(8000, " in text  # the generated flows, read back
    assert "(5663, " in text  # the real Zeek 008 capture through the Zeek reader
    assert _images(book) >= 4  # volumes, ports/services/states, attack types, time of day


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.notebook
def test_train_and_compare_notebook_runs_and_registers(notebook_env: Path) -> None:
    book = _execute("02-train-and-compare", notebook_env)
    assert _images(book) >= 2
    last = _text(book.cells[-1])
    registered = re.search(r"registered (\S+): (nids-\w+) version 1 \(1\.0\.0\)", last)
    assert registered, last
    config, name = registered.groups()
    assert name == DETECTOR_MODEL_NAMES[config.split("-")[0]]
    from nids.registry import get_version
    from nids.settings import Settings

    settings = Settings(mlflow_tracking_uri=f"sqlite:///{notebook_env}/mlruns/mlflow.db")
    version = get_version(settings, name, 1)
    assert version.semver == "1.0.0"
    assert json.loads(version.tags["nids.metrics"])["pr_auc"] > 0


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.notebook
def test_drift_notebook_finds_the_drift_and_writes_the_report(notebook_env: Path) -> None:
    book = _execute("03-drift-walkthrough", notebook_env)
    verdicts = next(_text(c) for c in book.cells if "drifted=" in _text(c))
    assert "new_service day: drifted=True" in verdicts
    assert "normal day: drifted=False" in verdicts
    report = notebook_env / "reports" / "drift-new_service-day.html"
    assert report.stat().st_size > 10_000
    assert _images(book) >= 2
