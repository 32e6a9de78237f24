"""hadolint and checkov pass on what we ship; every waiver carries its reason in place.

Each scanner also runs on a deliberately bad canary, so a scanner that silently checks
nothing fails the test instead of passing it.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from infra_helpers import CHECKOV, DOCKERFILES, TARGETS, VENV_BIN, render, render_text

BAD_DOCKERFILE = """FROM python:latest
RUN apt-get update && apt-get install -y curl
RUN pip install requests
"""
BAD_POD = """apiVersion: v1
kind: Pod
metadata:
  name: canary
  namespace: default
spec:
  containers:
    - name: canary
      image: nginx:latest
      securityContext:
        privileged: true
"""
WAIVER_COMMENT = re.compile(r"#\s*checkov:skip=([A-Z0-9_]+)(?::(.*))?")


def _hadolint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VENV_BIN / "hadolint"), "--no-color", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_hadolint_passes(dockerfile: Path) -> None:
    proc = _hadolint(dockerfile)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_hadolint_catches_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text(BAD_DOCKERFILE)
    proc = _hadolint(bad)
    assert proc.returncode != 0
    assert "DL3007" in proc.stdout  # :latest


def _checkov(paths: list[Path]) -> list[dict[str, Any]]:
    if not CHECKOV.exists():
        pytest.fail(f"checkov is not installed at {CHECKOV}: run `make tools`")
    proc = subprocess.run(
        [
            str(CHECKOV),
            "--skip-download",  # offline: no Prisma/Bridgecrew mapping download
            "--framework",
            "kubernetes",
            "dockerfile",
            "--output",
            "json",
            "--quiet",
            *(arg for path in paths for arg in ("-f", str(path))),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
        env={"BC_SKIP_MAPPING": "TRUE", "PATH": "/usr/bin:/bin", "HOME": "/tmp"},
    )
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    return report if isinstance(report, list) else [report]


@pytest.mark.slow
def test_checkov_passes_with_justified_waivers_only(tmp_path: Path) -> None:
    files = []
    for target in TARGETS:
        path = tmp_path / f"{target}.yaml"
        path.write_text(render_text(target))
        files.append(path)
    canary = tmp_path / "canary" / "pod.yaml"
    canary.parent.mkdir()
    canary.write_text(BAD_POD)
    results = _checkov([*files, *DOCKERFILES, canary])
    failed = [
        (check["check_id"], check["resource"], check["file_path"])
        for report in results
        for check in report.get("results", {}).get("failed_checks", [])
    ]
    ours = [f for f in failed if "canary" not in f[2]]
    assert ours == [], ours
    canary_ids = {f[0] for f in failed if "canary" in f[2]}
    assert {"CKV_K8S_16", "CKV_K8S_14"} <= canary_ids  # privileged, :latest
    passed = sum(r["summary"]["passed"] for r in results)
    assert passed > 500  # the manifests were really scanned
    frameworks = {r.get("check_type") for r in results}
    assert {"kubernetes", "dockerfile"} <= frameworks


def _annotation_waivers(obj: dict[str, Any]) -> list[str]:
    annotations = obj["metadata"].get("annotations") or {}
    return [v for k, v in annotations.items() if k.startswith("checkov.io/skip")]


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_every_kubernetes_waiver_is_justified(target: str) -> None:
    for obj in render(target):
        for waiver in _annotation_waivers(obj):
            check, sep, reason = waiver.partition("=")
            assert re.fullmatch(r"CKV2?_K8S_\d+", check), waiver
            assert sep and len(reason.split()) >= 6, f"unjustified waiver {waiver!r}"


def test_prod_drops_the_latest_tag_waiver() -> None:
    """Prod pins the retrain image, so checkov must check the tag again there."""
    cron = next(o for o in render("prod") if o["metadata"]["name"] == "nids-retrain")
    assert not any(w.startswith("CKV_K8S_14=") for w in _annotation_waivers(cron))


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_every_dockerfile_waiver_is_justified(dockerfile: Path) -> None:
    for match in WAIVER_COMMENT.finditer(dockerfile.read_text()):
        assert match.group(2) and len(match.group(2).split()) >= 6, match.group(0)


def test_no_secret_values_in_manifests() -> None:
    """Secrets are referenced (secretKeyRef), never written into the manifests."""
    for target in TARGETS:
        for obj in yaml.safe_load_all(render_text(target)):
            assert obj["kind"] != "Secret", f"{target} renders a Secret"
