"""infra/compose.yaml describes a runnable local stack (checked statically: no Docker here)."""

from __future__ import annotations

from typing import Any

import yaml
from infra_helpers import INFRA

from support import REPO_ROOT


def _compose() -> dict[str, Any]:
    return yaml.safe_load((INFRA / "compose.yaml").read_text())


def test_stack_has_mlflow_postgres_s3_and_nids() -> None:
    services = _compose()["services"]
    assert {"postgres", "s3", "mlflow", "nids"} <= set(services)
    mlflow = services["mlflow"]["command"]
    assert mlflow[:2] == ["mlflow", "server"]
    assert mlflow[mlflow.index("--backend-store-uri") + 1].startswith("postgresql+psycopg2://")
    assert mlflow[mlflow.index("--artifacts-destination") + 1].startswith("s3://")
    assert services["mlflow"]["environment"]["MLFLOW_S3_ENDPOINT_URL"] == "http://s3:9000"
    nids = services["nids"]
    assert nids["environment"]["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
    assert nids["environment"]["AWS_ENDPOINT_URL"] == "http://s3:9000"


def test_images_are_pinned_and_builds_exist() -> None:
    for name, svc in _compose()["services"].items():
        image = svc.get("image", "")
        assert ":" in image and not image.endswith(":latest"), f"{name}: {image!r}"
        build = svc.get("build")
        if build:
            context = (INFRA / build["context"]).resolve()
            assert context == REPO_ROOT
            assert (context / build["dockerfile"]).is_file()


def test_dependencies_name_real_services_with_valid_conditions() -> None:
    services = _compose()["services"]
    conditions = {"service_started", "service_healthy", "service_completed_successfully"}
    for name, svc in services.items():
        for dep, spec in (svc.get("depends_on") or {}).items():
            assert dep in services, f"{name} depends on unknown {dep}"
            assert spec["condition"] in conditions
            if spec["condition"] == "service_healthy":
                assert "healthcheck" in services[dep], f"{dep} has no healthcheck"


def test_volumes_and_mounted_files_exist() -> None:
    doc = _compose()
    declared = set(doc.get("volumes") or {})
    for svc in doc["services"].values():
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (INFRA / source).exists(), source
            else:
                assert source in declared, source


def test_ports_bind_to_loopback_only() -> None:
    for name, svc in _compose()["services"].items():
        for port in svc.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} on all interfaces"
