"""The manifests render the names, numbers and commands the MLOps guide specifies."""

from __future__ import annotations

import re

import pytest
from infra_helpers import (
    NAMESPACE,
    TARGETS,
    config_maps,
    container_env,
    containers,
    find,
    pod_labels,
    pod_spec,
    render,
    workloads,
)

from nids.errors import EXIT_DRIFT

RETRAIN_COMMAND = [
    "python",
    "models/nids/train.py",
    "--data",
    "s3://sec-ai-raw/netflow/2025-11-*.parquet",
]
PINNED_VERSION = re.compile(r"^models:/[A-Za-z0-9_.-]+/(\d+)$")


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


@pytest.mark.parametrize("target", ["base", "dev", "prod"])
def test_inference_deployment_matches_the_guide(target: str) -> None:
    objs = render(target)
    deployment = find(objs, "Deployment", "nids-inference")
    assert deployment["metadata"]["namespace"] == NAMESPACE
    container = pod_spec(deployment)["containers"][0]
    assert container["name"] == "nids"  # `kubectl set image ... nids=sec-ai/nids:v2`
    assert container["image"].startswith("sec-ai/nids:")
    assert container["command"][:2] == ["nids", "serve"]
    strategy = deployment["spec"]["strategy"]
    assert strategy["type"] == "RollingUpdate"
    assert strategy["rollingUpdate"]["maxUnavailable"] == 0
    hpa = find(objs, "HorizontalPodAutoscaler", "nids-inference")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "nids-inference"
    assert 1 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
    # The autoscaler owns the scale: a replicas field would reset it on every apply.
    assert "replicas" not in deployment["spec"]
    pdb = find(objs, "PodDisruptionBudget", "nids-inference")
    assert _selects(pdb["spec"]["selector"]["matchLabels"], pod_labels(deployment))


def test_prod_pins_release_images() -> None:
    prod = render("prod")
    hpa = find(prod, "HorizontalPodAutoscaler", "nids-inference")
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (4, 20)
    for _, container in containers(prod):
        image = container["image"]
        assert ":" in image, image
        assert not image.endswith(":latest"), image


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_service_fronts_every_inference_pod(target: str) -> None:
    objs = render(target)
    service = find(objs, "Service", "nids-service")
    assert service["spec"]["selector"] == {"app": "nids"}
    assert [p["port"] for p in service["spec"]["ports"]] == [80]
    port_name = service["spec"]["ports"][0]["targetPort"]
    inference = [w for w in workloads(objs) if _selects(service["spec"]["selector"], pod_labels(w))]
    assert inference, "nids-service selects no pods"
    for workload in inference:
        assert workload["kind"] == "Deployment"
        ports = pod_spec(workload)["containers"][0]["ports"]
        assert port_name in {p["name"] for p in ports}


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_probes_and_hardening(target: str) -> None:
    objs = render(target)
    for workload, container in containers(objs):
        where = f"{target}:{workload['metadata']['name']}/{container['name']}"
        spec = pod_spec(workload)
        assert spec["securityContext"]["runAsNonRoot"] is True, where
        assert spec["automountServiceAccountToken"] is False, where
        ctx = container["securityContext"]
        assert ctx["readOnlyRootFilesystem"] is True, where
        assert ctx["allowPrivilegeEscalation"] is False, where
        assert ctx["capabilities"]["drop"] == ["ALL"], where
        assert {"cpu", "memory"} <= set(container["resources"]["requests"]), where
        assert {"cpu", "memory"} <= set(container["resources"]["limits"]), where
        if container["name"] == "nids":
            assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", where
            assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", where


def test_retrain_cronjob_is_the_guides() -> None:
    base = render("base")
    cron = find(base, "CronJob", "nids-retrain")
    assert cron["metadata"]["namespace"] == NAMESPACE
    assert cron["spec"]["schedule"] == "0 2 * * 0"
    spec = pod_spec(cron)
    assert spec["restartPolicy"] == "OnFailure"
    (container,) = spec["containers"]
    assert container["name"] == "train"
    assert container["image"] == "sec-ai/nids-train:latest"
    assert container["command"] == RETRAIN_COMMAND
    env = container_env(container, config_maps(base))
    assert env["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
    # Production runs the same job from a pinned image instead of :latest.
    prod_container = pod_spec(find(render("prod"), "CronJob", "nids-retrain"))["containers"][0]
    assert prod_container["command"] == RETRAIN_COMMAND
    assert prod_container["image"] == "sec-ai/nids-train:v2"


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_cronjobs_never_overlap_and_keep_short_history(target: str) -> None:
    objs = render(target)
    monitor = find(objs, "CronJob", "nids-monitor")
    assert monitor["spec"]["schedule"] == "0 * * * *"
    assert pod_spec(monitor)["containers"][0]["command"] == ["nids", "monitor", "run"]
    # Drift (EXIT_DRIFT) fails the Job at once instead of being retried.
    (rule,) = monitor["spec"]["jobTemplate"]["spec"]["podFailurePolicy"]["rules"]
    assert rule["action"] == "FailJob"
    assert rule["onExitCodes"]["values"] == [EXIT_DRIFT]
    for cron in (o for o in objs if o["kind"] == "CronJob"):
        assert cron["spec"]["concurrencyPolicy"] == "Forbid"
        assert cron["spec"]["successfulJobsHistoryLimit"] <= 5
        assert cron["spec"]["failedJobsHistoryLimit"] <= 5


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_network_policies_cover_every_pod(target: str) -> None:
    objs = render(target)
    policies = [o for o in objs if o["kind"] == "NetworkPolicy"]
    deny = find(objs, "NetworkPolicy", "default-deny-all")
    assert deny["spec"]["podSelector"] == {}
    assert set(deny["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    for workload in workloads(objs):
        labels = pod_labels(workload)
        specific = [
            p
            for p in policies
            if p["spec"]["podSelector"] and _matches(p["spec"]["podSelector"], labels)
        ]
        assert specific, f"no NetworkPolicy allows traffic for {workload['metadata']['name']}"


def _matches(selector: dict[str, object], labels: dict[str, str]) -> bool:
    match_labels = selector.get("matchLabels", {})
    assert isinstance(match_labels, dict)
    if not _selects(match_labels, labels):
        return False
    expressions = selector.get("matchExpressions", [])
    assert isinstance(expressions, list)
    for expr in expressions:
        assert expr["operator"] == "In"
        if labels.get(expr["key"]) not in expr["values"]:
            return False
    return True


def test_ab_overlay_splits_80_20_between_pinned_versions() -> None:
    objs = render("ab")
    names = {o["metadata"]["name"] for o in objs if o["kind"] == "Deployment"}
    assert "nids-inference" not in names
    service = find(objs, "Service", "nids-service")
    uris = {}
    for variant, replicas in (("v1", 8), ("v2", 2)):
        deployment = find(objs, "Deployment", f"nids-{variant}")
        assert deployment["metadata"]["namespace"] == NAMESPACE
        assert deployment["spec"]["replicas"] == replicas
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert selector == {"app": "nids", "version": variant}
        labels = pod_labels(deployment)
        assert labels["app"] == "nids"
        assert labels["version"] == variant
        assert _selects(service["spec"]["selector"], labels)
        container = pod_spec(deployment)["containers"][0]
        assert container["name"] == "nids"
        env = container_env(container, config_maps(objs))
        match = PINNED_VERSION.match(env["NIDS_MODEL_URI"] or "")
        assert match, f"nids-{variant} is not pinned to a model version: {env['NIDS_MODEL_URI']}"
        uris[variant] = int(match.group(1))
    assert uris == {"v1": 1, "v2": 2}
    # An autoscaler would change the 8:2 replica ratio that makes the split.
    scaled = {
        o["spec"]["scaleTargetRef"]["name"] for o in objs if o["kind"] == "HorizontalPodAutoscaler"
    }
    assert not scaled & {"nids-v1", "nids-v2"}
