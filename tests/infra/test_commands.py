"""The commands and settings the manifests, Dockerfiles and compose file use really exist.

Each container command is run with ``--help`` through the real CLI (an unknown command
or option fails), and every ``NIDS_*`` variable must be a field of ``nids.settings``
whose value validates.
"""

from __future__ import annotations

import pytest
import yaml
from infra_helpers import (
    DOCKERFILES,
    INFRA,
    TARGETS,
    config_maps,
    container_env,
    containers,
    image_command,
    render,
    run_help,
    run_mlflow_help,
)

from nids.cli.config import env_var_names
from nids.settings import Settings

SETTINGS_ENV = {name for field in Settings.model_fields for name in env_var_names(field)}
# Variables read by libraries rather than by nids.settings (AWS SDK, MLflow server).
LIBRARY_ENV = {
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_DEFAULT_REGION",
    "MLFLOW_S3_ENDPOINT_URL",
    "MLFLOW_BACKEND_STORE_URI",
    "MLFLOW_ARTIFACTS_DESTINATION",
}


def _manifest_commands() -> dict[str, list[str]]:
    commands: dict[str, list[str]] = {}
    for target in TARGETS:
        for workload, container in containers(render(target)):
            argv = [*container.get("command", []), *container.get("args", [])]
            assert argv, f"{workload['metadata']['name']}/{container['name']} relies on the image"
            commands.setdefault(" ".join(argv), argv)
    return commands


def _compose() -> dict[str, dict[str, object]]:
    return yaml.safe_load((INFRA / "compose.yaml").read_text())["services"]


def _compose_nids_commands() -> dict[str, list[str]]:
    """Commands of the compose services built from our images."""
    out: dict[str, list[str]] = {}
    for name, svc in _compose().items():
        image = str(svc.get("image", ""))
        if not image.startswith("sec-ai/"):
            continue
        entry = svc.get("entrypoint")
        command = svc.get("command")
        if entry is None and image.startswith("sec-ai/nids:"):
            entry = ["nids"]  # Dockerfile.nids' ENTRYPOINT
        argv = [*(entry or []), *(command or [])]  # type: ignore[misc]
        out[f"compose:{name}"] = [str(a) for a in argv]
    return out


MANIFEST_COMMANDS = _manifest_commands()


def _all_commands() -> dict[str, list[str]]:
    """Manifest, Dockerfile and compose commands, each distinct argv once."""
    argvs = [
        *MANIFEST_COMMANDS.values(),
        *(image_command(path) for path in DOCKERFILES),
        *_compose_nids_commands().values(),
    ]
    return {" ".join(argv): argv for argv in argvs}


ALL_COMMANDS = _all_commands()


def test_the_expected_commands_are_rendered() -> None:
    firsts = {tuple(argv[:3]) for argv in MANIFEST_COMMANDS.values()}
    assert ("nids", "serve", "--host") in firsts
    assert ("python", "models/nids/train.py", "--data") in firsts
    assert ("nids", "monitor", "run") in firsts
    assert ("mlflow", "server", "--backend-store-uri") in firsts
    # Dockerfile.nids runs the service; Dockerfile.train defaults to the training usage.
    assert image_command(DOCKERFILES[0]) == ["nids", "serve", "--host", "0.0.0.0", "--port", "8080"]
    assert image_command(DOCKERFILES[1])[:2] == ["python", "models/nids/train.py"]


NIDS_COMMANDS = {k: v for k, v in ALL_COMMANDS.items() if v[0] != "mlflow"}
MLFLOW_COMMANDS = [v for v in ALL_COMMANDS.values() if v[0] == "mlflow"]


@pytest.mark.parametrize("argv", list(NIDS_COMMANDS.values()), ids=list(NIDS_COMMANDS))
def test_command_is_accepted_by_the_cli(argv: list[str]) -> None:
    proc = run_help(argv)
    assert proc.returncode == 0, f"{' '.join(argv)} --help failed:\n{proc.stdout}\n{proc.stderr}"
    assert "Usage" in proc.stdout


@pytest.mark.slow
def test_mlflow_server_commands_are_accepted() -> None:
    assert len(MLFLOW_COMMANDS) == 2  # the k8s component and compose
    # A misspelt option in the same run proves the check can fail.
    bad = ["mlflow", "server", "--no-such-option", "1"]
    codes = run_mlflow_help([*MLFLOW_COMMANDS, bad])
    assert codes[:-1] == [0] * len(MLFLOW_COMMANDS)
    assert codes[-1] != 0


def test_an_unknown_option_is_refused() -> None:
    """--help does not mask a misspelt option (the checks above can fail)."""
    proc = run_help(["nids", "config", "show", "--no-such-option"])
    assert proc.returncode != 0


def _env_sets() -> dict[str, dict[str, str | None]]:
    out: dict[str, dict[str, str | None]] = {}
    for target in TARGETS:
        objs = render(target)
        cms = config_maps(objs)
        for workload, container in containers(objs):
            key = f"{target}:{workload['metadata']['name']}/{container['name']}"
            out[key] = container_env(container, cms)
    for name, svc in _compose().items():
        env = svc.get("environment") or {}
        assert isinstance(env, dict)
        out[f"compose:{name}"] = {k: None if v is None else str(v) for k, v in env.items()}
    return out


@pytest.mark.parametrize("where", sorted(_env_sets()))
def test_env_vars_are_real_settings(where: str, monkeypatch: pytest.MonkeyPatch) -> None:
    env = _env_sets()[where]
    ours = {k for k in env if k.startswith(("NIDS_", "MLFLOW_", "AWS_"))}
    unknown = sorted(ours - SETTINGS_ENV - LIBRARY_ENV)
    assert unknown == [], f"{where}: not settings of nids.settings.Settings: {unknown}"
    # The literal values must validate (secret references are filled with a placeholder;
    # compose ${VAR:-default} interpolation is replaced by its default).
    for key in ours & SETTINGS_ENV:
        value = env[key]
        if value is None:
            value = "placeholder"
        elif value.startswith("${") and ":-" in value and value.endswith("}"):
            value = value[value.index(":-") + 2 : -1]
        monkeypatch.setenv(key, value)
    Settings()


def test_unknown_setting_is_detected() -> None:
    assert "NIDS_MODEL_URI" in SETTINGS_ENV
    assert "MLFLOW_TRACKING_URI" in SETTINGS_ENV
    assert "NIDS_MODEL_URL" not in SETTINGS_ENV
