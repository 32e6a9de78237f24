"""infra/k8s/spark: renders, validates strictly, and submits a real `nids score-batch`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import typer
import yaml

from nids.cli import build_app
from support import REPO_ROOT

SPARK_K8S = REPO_ROOT / "infra" / "k8s" / "spark"


def _render() -> list[dict[str, Any]]:
    kubectl = Path(sys.executable).parent / "kubectl"
    text = subprocess.run(
        [str(kubectl), "kustomize", str(SPARK_K8S)], check=True, capture_output=True, text=True
    ).stdout
    return [obj for obj in yaml.safe_load_all(text) if obj]


def test_manifests_are_valid_kubernetes_objects_in_sec_ai() -> None:
    objects = _render()
    assert {o["kind"] for o in objects} == {"ServiceAccount", "Role", "RoleBinding", "Job"}
    for obj in objects:
        kubernetes_validate.validate(obj, "1.34.0", strict=True)
        assert obj["metadata"]["namespace"] == "sec-ai"


def test_job_submits_score_batch_with_options_the_cli_accepts() -> None:
    job = next(o for o in _render() if o["kind"] == "Job")
    command = job["spec"]["template"]["spec"]["containers"][0]["command"]
    assert command[:5] == [
        "spark-submit",
        "--master",
        "k8s://https://kubernetes.default.svc:443",
        "--deploy-mode",
        "cluster",
    ]
    app_file = next(i for i, arg in enumerate(command) if arg.endswith("nids/__main__.py"))
    nids_args = command[app_file + 1 :]
    assert nids_args[:3] == ["score-batch", "--engine", "spark"]
    group = typer.main.get_command(build_app())
    sub = group.get_command(None, "score-batch")  # type: ignore[attr-defined]
    ctx = sub.make_context("score-batch", nids_args[1:])
    assert ctx.params["engine"] == "spark"
    assert ctx.params["input_"].startswith("s3://sec-ai-raw/netflow/")
