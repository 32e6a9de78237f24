"""The import rules of docs/architecture.md hold for the code in src/nids."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from support import REPO_ROOT

SRC = REPO_ROOT / "src" / "nids"
DOC = REPO_ROOT / "docs" / "architecture.md"


def _imports(path: Path) -> set[str]:
    """Top-level names imported by a module: ``nids.<package>`` as the package, else the root."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        modules = []
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules = [node.module]
        for module in modules:
            parts = module.split(".")
            names.add(parts[1] if parts[0] == "nids" and len(parts) > 1 else parts[0])
    return names


def _package_imports(package: str) -> dict[str, set[str]]:
    root = SRC / package
    files = [root] if root.suffix == ".py" else sorted(root.rglob("*.py"))
    return {str(f.relative_to(SRC)): _imports(f) for f in files}


# (package, names it must not import, the rule as the document states it)
RULES = [
    (
        "data",
        {
            "features",
            "model",
            "training",
            "registry",
            "serving",
            "monitoring",
            "pipelines",
            "batch",
            "abtest",
            "cli",
            "mlflow",
            "sklearn",
        },
        "`data/` knows no model",
    ),
    (
        "features",
        {"training", "serving", "registry", "pipelines", "batch", "cli", "mlflow"},
        "`features/` knows neither training nor serving",
    ),
    ("serving", {"training", "pipelines", "mlflow"}, "The serving path never trains"),
    ("training", {"serving"}, "Training never imports the service"),
    ("batch", {"mlflow"}, "never import it"),
]


@pytest.mark.parametrize(("package", "forbidden", "rule"), RULES, ids=[r[0] for r in RULES])
def test_layering_rule_holds(package: str, forbidden: set[str], rule: str) -> None:
    assert rule in DOC.read_text(encoding="utf-8"), f"rule no longer documented: {rule}"
    for module, names in _package_imports(package).items():
        assert not names & forbidden, f"{module} imports {sorted(names & forbidden)}: {rule}"


def test_nothing_imports_the_cli() -> None:
    for path in SRC.rglob("*.py"):
        relative = path.relative_to(SRC)
        if relative.parts[0] in {"cli", "__main__.py"}:
            continue
        assert "cli" not in _imports(path), f"{relative} imports nids.cli"


def test_import_scanner_sees_nested_and_from_imports(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "import os\nfrom nids.registry.loader import x\ndef f():\n    import mlflow.pyfunc\n"
        "from . import sibling\n"
    )
    assert _imports(module) == {"os", "registry", "mlflow"}
