"""Registering model versions: immutable artefacts, a SHA-256 manifest, a semantic version.

``register_model_version`` is the only way our code creates a version. Every artefact
file is hashed before the version exists, the manifest and the metadata tags are
written with the version in one call, and the registered copy is then re-read and
verified; if anything fails after creation the version is deleted again, so a version
without verified artefacts is never left behind.
"""

from __future__ import annotations

import functools
import getpass
import json
import os
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from nids.errors import ModelIntegrityError, NidsError, RegistryError, ServiceUnavailableError
from nids.registry import manifest as mf
from nids.registry.semver import SemVer, VersionFacts, classify_change, next_semver
from nids.registry.store import configure_mlflow
from nids.settings import Settings

if TYPE_CHECKING:
    from collections.abc import Callable

    from mlflow.entities.model_registry import ModelVersion
    from mlflow.tracking import MlflowClient

P = ParamSpec("P")
R = TypeVar("R")

# Version tags we write.
TAG_SEMVER = "nids.semver"
TAG_BUMP = "nids.semver_bump"
TAG_REASON = "nids.semver_reason"
TAG_MANIFEST = "nids.manifest"
TAG_MANIFEST_SHA = "nids.manifest_sha256"
TAG_MANIFEST_ARTIFACT = "nids.manifest_artifact"
TAG_SIGNATURE_SHA = "nids.signature_sha256"
TAG_METRICS = "nids.metrics"
TAG_REGISTERED_BY = "nids.registered_by"
TAG_REGISTERED_AT = "nids.registered_at"
TAG_ADOPTED = "nids.adopted"
# Run tags the training code logs and we copy onto the version.
RUN_TAG_FEATURE_SET = "nids.feature_set_version"
RUN_TAG_RECALIBRATED_FROM = "nids.recalibrated_from"
COPIED_RUN_TAGS = (
    "nids.training_date",
    "nids.dataset_digest",
    "nids.dataset_source",
    "nids.git_commit",
    RUN_TAG_FEATURE_SET,
    RUN_TAG_RECALIBRATED_FROM,
    "nids.detector",
)
# File the MLflow models:/ downloader adds to a copy; not part of the model.
_IGNORED_FILES = frozenset({"registered_model_meta"})


@dataclass(frozen=True)
class VersionInfo:
    """A registered model version as our tools see it."""

    name: str
    version: int
    semver: str | None
    run_id: str | None
    source: str
    current_stage: str
    aliases: tuple[str, ...]
    tags: dict[str, str] = field(default_factory=dict)
    created: bool = True

    @property
    def uri(self) -> str:
        """``models:/name/version``."""
        return f"models:/{self.name}/{self.version}"

    @property
    def metrics(self) -> dict[str, float]:
        """The metrics snapshot recorded at registration."""
        return parse_metrics(self.tags.get(TAG_METRICS))


def parse_metrics(text: str | None) -> dict[str, float]:
    """Decode the ``nids.metrics`` tag (empty when absent or unreadable)."""
    if not text:
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return {}
    return {str(k): float(v) for k, v in data.items()} if isinstance(data, dict) else {}


def actor(settings: Settings) -> str:
    """Who is acting: ``NIDS_ACTOR`` (settings.actor), else the OS user."""
    if settings.registry_actor:
        return settings.registry_actor
    try:
        return os.environ.get("USER") or getpass.getuser()
    except OSError:  # no passwd entry in some containers
        return "unknown"


def version_info(mv: ModelVersion, *, created: bool = True) -> VersionInfo:
    """Convert MLflow's ModelVersion to :class:`VersionInfo`."""
    tags = dict(mv.tags or {})
    return VersionInfo(
        name=mv.name,
        version=int(mv.version),
        semver=tags.get(TAG_SEMVER),
        run_id=mv.run_id or None,
        source=str(mv.source),
        current_stage=str(mv.current_stage or "None"),
        aliases=tuple(sorted(getattr(mv, "aliases", None) or [])),
        tags=tags,
        created=created,
    )


def _translate(settings: Settings | None, what: str, exc: Exception) -> NidsError:
    """Our error for an MLflow or network failure."""
    where = settings.mlflow_tracking_uri if settings is not None else "the registry"
    code = getattr(exc, "error_code", None)
    message = getattr(exc, "message", None) or str(exc)
    if code in {"RESOURCE_DOES_NOT_EXIST", "NOT_FOUND"}:
        return RegistryError(f"{what}: {message}")
    if isinstance(exc, OSError):
        return ServiceUnavailableError(f"{what}: registry {where} is unreachable: {message}")
    return ServiceUnavailableError(f"{what} failed on {where}: {message}")


def _registry_call(settings: Settings, what: str, func: Any, *args: Any, **kwargs: Any) -> Any:
    """Run an MLflow call, turning store failures into our errors."""
    from mlflow.exceptions import MlflowException

    try:
        return func(*args, **kwargs)
    except (MlflowException, OSError) as exc:
        raise _translate(settings, what, exc) from exc


def registry_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Decorate a public registry function: MLflow/network failures become NidsErrors."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        from mlflow.exceptions import MlflowException

        try:
            return func(*args, **kwargs)
        except (MlflowException, OSError) as exc:
            settings = next((a for a in (*args, *kwargs.values()) if isinstance(a, Settings)), None)
            raise _translate(settings, func.__name__.replace("_", " "), exc) from exc

    return wrapper


def all_versions(client: MlflowClient, name: str) -> list[ModelVersion]:
    """Every version of a registered model (all pages), oldest first."""
    versions: list[ModelVersion] = []
    token: str | None = None
    while True:
        page = client.search_model_versions(f"name = '{name}'", page_token=token)
        versions.extend(page)
        token = page.token
        if not token:
            break
    return sorted(versions, key=lambda v: int(v.version))


def download_version(client: MlflowClient, name: str, version: int | str, dst: Path) -> Path:
    """Download a version's artefacts (its real storage location) into ``dst``."""
    import mlflow

    uri = client.get_model_version_download_uri(name, str(version))
    local = mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(dst))
    return Path(local)


def local_manifest(root: Path) -> mf.Manifest:
    """Manifest of a downloaded model copy (downloader bookkeeping files excluded)."""
    return {k: v for k, v in mf.compute_manifest(root).items() if k not in _IGNORED_FILES}


def recorded_manifest(client: MlflowClient, mv: ModelVersion) -> mf.Manifest | None:
    """The manifest registered with a version, checked against its digest; None if absent."""
    tags = dict(mv.tags or {})
    digest = tags.get(TAG_MANIFEST_SHA)
    where = f"model {mv.name} version {mv.version}"
    if digest is None:
        return None
    if TAG_MANIFEST in tags:
        return mf.decode_manifest(tags[TAG_MANIFEST], expected_digest=digest, where=where)
    location = tags.get(TAG_MANIFEST_ARTIFACT)
    if not location:
        raise ModelIntegrityError(f"{where}: manifest digest recorded but the manifest is missing")
    import mlflow

    with tempfile.TemporaryDirectory(prefix="nids-manifest-") as tmp:
        path = mlflow.artifacts.download_artifacts(artifact_uri=location, dst_path=tmp)
        text = Path(path).read_text(encoding="utf-8")
    return mf.decode_manifest(text, expected_digest=digest, where=where)


def verify_local_copy(client: MlflowClient, mv: ModelVersion, root: Path) -> mf.Manifest:
    """Check a downloaded copy against the version's manifest; return the manifest."""
    expected = recorded_manifest(client, mv)
    where = f"model {mv.name} version {mv.version}"
    if expected is None:
        raise ModelIntegrityError(f"{where} has no SHA-256 manifest (not registered by nids)")
    problems = mf.diff_manifest(expected, local_manifest(root))
    if problems:
        shown = "; ".join(problems[:5])
        raise ModelIntegrityError(
            f"{where}: artefacts do not match the registered SHA-256 manifest: {shown}",
            hint="the model was tampered with or only partially written",
        )
    return expected


def _signature_digest(model_dir: Path) -> str | None:
    """SHA-256 of the model's input schema (None when logged without a signature)."""
    import hashlib

    from mlflow.models import Model

    try:
        model = Model.load(str(model_dir))
    except Exception as exc:  # any parse error means the artefacts are not an MLflow model
        raise ModelIntegrityError(f"{model_dir}: not a readable MLflow model ({exc})") from exc
    if model.signature is None or model.signature.inputs is None:
        return None
    return hashlib.sha256(model.signature.inputs.to_json().encode()).hexdigest()


def _facts(tags: dict[str, str]) -> VersionFacts:
    return VersionFacts(tags.get(TAG_SIGNATURE_SHA), tags.get(RUN_TAG_FEATURE_SET))


def _assign_semver(
    versions: list[ModelVersion], new_facts: VersionFacts, run_tags: dict[str, str]
) -> tuple[SemVer, str, str]:
    """Semantic version, bump kind and reason for a new version of a model."""
    ours = [v for v in versions if (v.tags or {}).get(TAG_SEMVER)]
    taken = [SemVer.parse(v.tags[TAG_SEMVER]) for v in ours]
    previous = ours[-1] if ours else None
    recal_from = run_tags.get(RUN_TAG_RECALIBRATED_FROM)
    base = previous
    if recal_from:
        source = [v for v in ours if v.run_id == recal_from or recal_from.endswith(f"/{v.version}")]
        base = source[-1] if source else previous
    base_facts = _facts(dict(base.tags)) if base is not None else None
    bump, reason = classify_change(new_facts, base_facts, recalibrated=bool(recal_from))
    base_semver = SemVer.parse(base.tags[TAG_SEMVER]) if base is not None else None
    return next_semver(bump, base_semver, taken), bump, reason


def _metrics_snapshot(metrics: dict[str, float]) -> str:
    snapshot = {k: round(float(v), 6) for k, v in sorted(metrics.items())}
    text = json.dumps(snapshot, separators=(",", ":"))
    while len(text) > mf.INLINE_LIMIT and snapshot:  # keep the tag portable
        snapshot.pop(next(reversed(snapshot)))
        text = json.dumps(snapshot, separators=(",", ":"))
    return text


def _version_tags(
    settings: Settings,
    client: MlflowClient,
    *,
    name: str,
    run_id: str | None,
    model_dir: Path,
    versions: list[ModelVersion],
) -> dict[str, str]:
    """Every tag of a new version: manifest, semver, lineage and metrics."""
    run_tags: dict[str, str] = {}
    metrics: dict[str, float] = {}
    if run_id:
        run = _registry_call(settings, f"run {run_id}", client.get_run, run_id)
        run_tags, metrics = dict(run.data.tags), dict(run.data.metrics)
    manifest = local_manifest(model_dir)
    if "MLmodel" not in manifest:
        raise ModelIntegrityError(f"{model_dir}: no MLmodel file: not a complete MLflow model")
    tags = {k: run_tags[k] for k in COPIED_RUN_TAGS if run_tags.get(k)}
    signature = _signature_digest(model_dir)
    if signature:
        tags[TAG_SIGNATURE_SHA] = signature
    semver, bump, reason = _assign_semver(versions, _facts(tags), run_tags)
    tags.update(
        {
            TAG_SEMVER: str(semver),
            TAG_BUMP: bump,
            TAG_REASON: reason,
            TAG_METRICS: _metrics_snapshot(metrics),
            TAG_REGISTERED_BY: actor(settings),
            TAG_REGISTERED_AT: datetime.now(UTC).isoformat(timespec="seconds"),
            TAG_MANIFEST_SHA: mf.manifest_digest(manifest),
        }
    )
    encoded = mf.encode_manifest(manifest)
    if len(encoded) <= mf.INLINE_LIMIT:
        tags[TAG_MANIFEST] = encoded
    elif run_id:
        tags[TAG_MANIFEST_ARTIFACT] = _log_manifest_artifact(client, run_id, name, encoded)
    else:
        raise RegistryError(f"manifest of {name} too large for a tag and no run to store it in")
    return tags


def _log_manifest_artifact(client: MlflowClient, run_id: str, name: str, encoded: str) -> str:
    """Store a large manifest as a run artefact named by its digest (content-addressed)."""
    import hashlib

    digest = hashlib.sha256(encoded.encode()).hexdigest()
    with tempfile.TemporaryDirectory(prefix="nids-manifest-") as tmp:
        path = Path(tmp) / f"{name}-{digest[:16]}.json"
        path.write_text(encoded, encoding="utf-8")
        client.log_artifact(run_id, str(path), artifact_path="nids-registry")
    return f"runs:/{run_id}/nids-registry/{path.name}"


def _model_uri(client: MlflowClient, experiment_id: str, run_id: str, artifact_path: str) -> str:
    """``models:/<model_id>`` of the model the run logged under that name (MLflow 3),
    else the classic ``runs:/`` artefact path."""
    found = client.search_logged_models(
        [experiment_id], filter_string=f"source_run_id = '{run_id}' AND name = '{artifact_path}'"
    )
    if len(found) == 1:
        return f"models:/{found[0].model_id}"
    return f"runs:/{run_id}/{artifact_path}"


def _existing_for_run(client: MlflowClient, name: str, run_id: str) -> ModelVersion | None:
    found = client.search_model_versions(f"name = '{name}' and run_id = '{run_id}'")
    return min(found, key=lambda v: int(v.version)) if found else None


@registry_errors
def get_version(settings: Settings, name: str, version: int | str) -> VersionInfo:
    """One version with its aliases."""
    client = configure_mlflow(settings)
    mv = _registry_call(
        settings, f"model {name} version {version}", client.get_model_version, name, str(version)
    )
    return version_info(mv)


@registry_errors
def register_model_version(
    settings: Settings, run_id: str, *, name: str | None = None, artifact_path: str = "model"
) -> VersionInfo:
    """Register the model logged by ``run_id`` as a new, verified, semver-tagged version.

    Re-registering a run that already has a version returns that version
    (``created=False``) instead of creating a duplicate.
    """
    import mlflow

    client = configure_mlflow(settings)
    name = name or settings.model_name
    existing = _registry_call(settings, "search versions", _existing_for_run, client, name, run_id)
    if existing is not None:
        if TAG_MANIFEST_SHA not in (existing.tags or {}):
            return adopt_version(settings, name, int(existing.version))
        return version_info(client.get_model_version(name, existing.version), created=False)
    run = _registry_call(settings, f"run {run_id}", client.get_run, run_id)
    model_uri = _model_uri(client, run.info.experiment_id, run_id, artifact_path)
    with tempfile.TemporaryDirectory(prefix="nids-register-") as tmp:
        try:
            local = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=tmp))
        except Exception as exc:  # MlflowException or OSError: no such artefact
            raise RegistryError(f"run {run_id} has no model at '{artifact_path}': {exc}") from exc
        versions = _registry_call(settings, "list versions", all_versions, client, name)
        tags = _version_tags(
            settings, client, name=name, run_id=run_id, model_dir=local, versions=versions
        )
    mv = _registry_call(
        settings, f"register {model_uri}", mlflow.register_model, model_uri, name, tags=tags
    )
    try:
        with tempfile.TemporaryDirectory(prefix="nids-verify-") as tmp:
            copy = download_version(client, name, mv.version, Path(tmp))
            verify_local_copy(client, client.get_model_version(name, mv.version), copy)
    except BaseException:
        # A version whose stored artefacts do not match what we hashed must not stay.
        client.delete_model_version(name, mv.version)
        raise
    return version_info(client.get_model_version(name, mv.version))


@registry_errors
def adopt_version(settings: Settings, name: str, version: int) -> VersionInfo:
    """Give a version registered outside nids (e.g. ``mlflow.register_model``) its manifest.

    Trust on first use: the artefacts as stored now are hashed and recorded, with the
    semantic version and lineage tags, and ``nids.adopted=true`` marks the version.
    """
    client = configure_mlflow(settings)
    mv = _registry_call(
        settings, f"{name} version {version}", client.get_model_version, name, str(version)
    )
    if TAG_MANIFEST_SHA in (mv.tags or {}):
        return version_info(mv, created=False)
    versions = [v for v in all_versions(client, name) if int(v.version) != int(version)]
    with tempfile.TemporaryDirectory(prefix="nids-adopt-") as tmp:
        local = download_version(client, name, version, Path(tmp))
        tags = _version_tags(
            settings, client, name=name, run_id=mv.run_id, model_dir=local, versions=versions
        )
    tags[TAG_ADOPTED] = "true"
    # The digest goes last: a reader never sees a digest without its manifest.
    digest = tags.pop(TAG_MANIFEST_SHA)
    for key, value in [*tags.items(), (TAG_MANIFEST_SHA, digest)]:
        _registry_call(
            settings, "tag version", client.set_model_version_tag, name, str(version), key, value
        )
    return version_info(client.get_model_version(name, str(version)), created=False)
