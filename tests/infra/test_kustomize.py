"""Every kustomize target builds, and every object is valid Kubernetes 1.34 (strict)."""

from __future__ import annotations

import copy
from typing import Any

import kubernetes_validate
import pytest
from infra_helpers import K8S_VERSION, NAMESPACE, TARGETS, find, pod_spec, render, workloads

# Prometheus Operator CRDs: no bundled schema, so their required structure is checked here.
CRD_REQUIRED = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): ("selector", "endpoints"),
    ("monitoring.coreos.com/v1", "PrometheusRule"): ("groups",),
}


def _validate(obj: dict[str, Any]) -> None:
    key = (obj["apiVersion"], obj["kind"])
    if key in CRD_REQUIRED:
        missing = [field for field in CRD_REQUIRED[key] if field not in obj.get("spec", {})]
        assert not missing, f"{obj['kind']}/{obj['metadata']['name']} lacks spec.{missing}"
        return
    kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_target_renders_valid_objects(target: str) -> None:
    objs = render(target)
    assert len(objs) >= 10
    for obj in objs:
        _validate(obj)


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_everything_lives_in_the_sec_ai_namespace(target: str) -> None:
    objs = render(target)
    find(objs, "Namespace", NAMESPACE)
    stray = [
        f"{o['kind']}/{o['metadata']['name']}"
        for o in objs
        if o["kind"] != "Namespace" and o["metadata"].get("namespace") != NAMESPACE
    ]
    assert stray == []


def test_strict_validation_rejects_an_unknown_field() -> None:
    """The validator really is strict: a misspelt field fails."""
    deployment = copy.deepcopy(find(render("base"), "Deployment", "nids-inference"))
    deployment["spec"]["replica"] = 3
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_config_map_references_resolve(target: str) -> None:
    """Generated (hash-suffixed) ConfigMaps are referenced by their final names."""
    objs = render(target)
    names = {o["metadata"]["name"] for o in objs if o["kind"] == "ConfigMap"}
    for obj in workloads(objs):
        for container in pod_spec(obj)["containers"]:
            for source in container.get("envFrom", []):
                if "configMapRef" in source:
                    assert source["configMapRef"]["name"] in names
