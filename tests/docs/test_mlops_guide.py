"""docs/mlops-guide.md cannot rot: its commands parse, and its runnable blocks run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from guide_blocks import SHELL_LANGS, Block, nids_commands, read_blocks

from nids.cli import build_app
from support import REPO_ROOT

GUIDE = REPO_ROOT / "docs" / "mlops-guide.md"
#: The specification's lifecycle steps: each must be a section of the guide with a command.
STEPS = [
    "Experimentation",
    "Training",
    "Model registry",
    "Deployment",
    "Monitoring",
    "Drift detection",
    "A/B testing",
    "Retraining",
    "Model versioning",
    "Performance tracking",
]


def _sections() -> dict[str, str]:
    text = GUIDE.read_text(encoding="utf-8")
    parts = text.split("\n## ")[1:]
    return {part.split("\n", 1)[0].split(". ", 1)[-1]: part for part in parts}


def _parse(args: list[str]) -> None:
    """Resolve ``nids ARGS`` to its click command and parse the options (nothing runs)."""
    command: Any = typer.main.get_command(build_app())
    path = ["nids"]
    while hasattr(command, "list_commands"):  # a group (typer vendors its own click)
        assert args, f"`{' '.join(path)}` needs a sub-command"
        name, args = args[0], args[1:]
        sub = command.get_command(command.context_class(command), name)
        assert sub is not None, f"`{' '.join(path)} {name}` is not a command"
        command, path = sub, [*path, name]
    command.make_context(" ".join(path), list(args))


def test_every_lifecycle_step_has_a_section_with_commands() -> None:
    sections = _sections()
    for step in STEPS:
        assert step in sections, f"no section for {step!r} in {GUIDE.name}"
        assert "```" in sections[step], f"section {step!r} shows no command"


def test_guide_runs_the_core_lifecycle() -> None:
    runnable = [b for b in read_blocks(GUIDE) if b.runnable]
    commands = [args for b in runnable for args in nids_commands(b.code)]
    for needed in [
        ["generate"],
        ["train"],
        ["models", "promote"],
        ["monitor", "drift"],
        ["retrain"],
    ]:
        assert any(c[: len(needed)] == needed for c in commands), f"no runnable `nids {needed}`"
    assert {b.lang for b in runnable} == {"bash", "python"}


def test_every_nids_command_in_the_guide_parses() -> None:
    blocks = [b for b in read_blocks(GUIDE) if b.lang in SHELL_LANGS]
    checked = 0
    for block in blocks:
        for args in nids_commands(block.code):
            try:
                _parse(args)
            except typer.TyperException as exc:  # click's usage errors
                pytest.fail(f"{GUIDE.name}:{block.line}: `nids {' '.join(args)}`: {exc}")
            checked += 1
    assert checked >= 15


def test_command_extraction_handles_continuations_env_and_separators() -> None:
    code = (
        "A=1 nids x --y 2 \\\n  --z 3 || test $? -eq 3\npython models/nids/train.py --data d # c\n"
    )
    assert nids_commands(code) == [["x", "--y", "2", "--z", "3"], ["train", "--data", "d"]]


def test_python_blocks_compile() -> None:
    for block in read_blocks(GUIDE):
        if block.lang == "python":
            compile(block.code, f"{GUIDE.name}:{block.line}", "exec")


def test_a_wrong_flag_is_caught() -> None:
    with pytest.raises(typer.TyperException, match="no-such-flag"):
        _parse(["train", "--data", "x", "--no-such-flag"])
    with pytest.raises(AssertionError, match="not a command"):
        _parse(["modelz", "list"])
    with pytest.raises(typer.TyperException, match="integer"):
        _parse(["train", "--data", "x", "--n-estimators", "many"])


def _run(block: Block, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    if block.lang == "python":
        argv = [sys.executable, "-c", block.code]
    else:
        argv = ["bash", "-euo", "pipefail", "-c", block.code]
    return subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=False
    )


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.timeout(1800)  # ~100 s of CPU; the wall time grows with the machine's load
def test_runnable_blocks_run_in_order_on_embedded_defaults(workdir: Path) -> None:
    env = dict(os.environ)  # NIDS_/MLFLOW_/AWS_ already removed by the autouse fixture
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["COLUMNS"] = "120"
    blocks = [b for b in read_blocks(GUIDE) if b.runnable]
    for block in blocks:
        done = _run(block, workdir, env)
        assert done.returncode == 0, (
            f"{GUIDE.name}:{block.line} ({block.lang}) exited {done.returncode}\n"
            f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
    # What the blocks claim to have done, read back from their outputs.
    drift = json.loads((workdir / "reports" / "drift-new-service.json").read_text())
    assert drift["drift"]["drifted"] is True
    assert drift["model"]["version"] in {"1"}
    assert (workdir / "reports" / "drift-new-service.html").stat().st_size > 10_000
    from nids.registry import get_version
    from nids.settings import Settings

    settings = Settings()
    assert get_version(settings, "nids-isoforest", 1).semver == "1.0.0"
    # the retrain registers its challenger as a minor version (promoted or not)
    assert get_version(settings, "nids-isoforest", 2).semver == "1.1.0"
