"""Dockerfile structure the issue requires (no Docker engine here: parsed statically)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from infra_helpers import DOCKERFILES, dockerfile_instructions, final_stage

from support import REPO_ROOT

PINNED_BASE = re.compile(r"^python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?$")
BUILD_TOOLS = ("gcc", "build-essential", "make ", "git ", "curl", "wget", "apt-get")


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_multi_stage_on_a_pinned_base(dockerfile: Path) -> None:
    froms = [
        args.split()[0] for word, args in dockerfile_instructions(dockerfile) if word == "FROM"
    ]
    assert len(froms) >= 2, "not multi-stage"
    for image in froms:
        assert PINNED_BASE.match(image), f"base image not pinned to an exact tag: {image}"


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_dependencies_have_their_own_layer_before_the_code(dockerfile: Path) -> None:
    instructions = dockerfile_instructions(dockerfile)
    copies = [
        i for i, (word, args) in enumerate(instructions) if word == "COPY" and "--from" not in args
    ]
    lock = next(i for i in copies if "requirements.lock" in instructions[i][1])
    src = next(i for i in copies if instructions[i][1].startswith("src"))
    assert "src" not in instructions[lock][1]
    installs = [
        i for i, (w, a) in enumerate(instructions) if w == "RUN" and "requirements.lock" in a
    ]
    assert installs and lock < installs[0] < src


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_final_stage_is_lean_and_unprivileged(dockerfile: Path) -> None:
    stage = final_stage(dockerfile)
    users = [args for word, args in stage if word == "USER"]
    assert users, "final stage runs as root"
    uid = users[-1].split(":")[0]
    assert uid not in {"0", "root"}
    assert int(uid) >= 10000
    assert any(word == "HEALTHCHECK" and "NONE" not in args for word, args in stage)
    runs = " ".join(args for word, args in stage if word == "RUN")
    for tool in BUILD_TOOLS:
        assert tool not in runs, f"final stage installs {tool.strip()}"
    secrets = [
        args
        for word, args in stage
        if word in {"ENV", "ARG"} and re.search(r"(?i)secret|password|token", args)
    ]
    assert secrets == []


def test_service_image_checks_health_without_curl() -> None:
    stage = final_stage(DOCKERFILES[0])
    (health,) = [args for word, args in stage if word == "HEALTHCHECK"]
    assert "urllib.request" in health and "/healthz" in health
    assert any(word == "EXPOSE" and args == "8080" for word, args in stage)


def test_dockerignore_keeps_the_context_small_and_clean() -> None:
    lines = [
        line.strip()
        for line in (REPO_ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "**", "the context must start from an empty allow-list"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    for excluded in (".venv", "data", "mlruns", "tests", ".git", ".tools", "notebooks"):
        assert excluded not in allowed
    # Everything the Dockerfiles COPY from the context is let in.
    for dockerfile in DOCKERFILES:
        for word, args in dockerfile_instructions(dockerfile):
            if word == "COPY" and "--from" not in args:
                for source in args.split()[:-1]:
                    assert source.split("/")[0].rstrip("/") in allowed, source
