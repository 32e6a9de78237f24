"""Resolve a model URI, verify the artefacts against their manifest, load the pyfunc.

Every load of a registered version downloads the artefacts to a private directory,
checks each file's SHA-256 against the manifest recorded at registration and only
then hands the directory to ``mlflow.pyfunc.load_model``: what runs is exactly what
was registered. Aliases are resolved before stages (``models:/name/Production`` is
the ``production`` alias when it exists), so both vocabularies name the same version.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import threading
import weakref
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nids.errors import ModelIntegrityError, RegistryError
from nids.registry import versions as rv
from nids.registry.store import configure_mlflow
from nids.settings import Settings

if TYPE_CHECKING:
    from mlflow.entities.model_registry import ModelVersion
    from mlflow.tracking import MlflowClient

_MODELS_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/]+)|/(?P<ref>[^/]+))$")
_RUNS_URI = re.compile(r"^runs:/(?P<run_id>[^/]+)/(?P<path>.+)$")
_LOGGED_MODEL_URI = re.compile(r"^models:/(?P<model_id>m-[0-9a-f]+)$")  # MLflow 3 model id


@dataclass(frozen=True)
class LoadedModel:
    """A verified, loaded model and the registry facts about it."""

    pyfunc: Any
    nids_model: Any
    uri: str
    name: str | None
    version: int | None
    semver: str | None
    tags: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    loaded_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    verified: bool = True


def find_version(
    client: MlflowClient, name: str, ref: str, *, what: str | None = None
) -> ModelVersion:
    """A version of ``name`` by number, ``latest``, semver (``1.2.0``), alias or stage.

    Aliases win over stages: ``Production`` is the ``production`` alias when it is set.
    """
    from mlflow.exceptions import MlflowException

    what = what or f"models:/{name}/{ref}"
    if ref.isdigit():
        try:
            return client.get_model_version(name, ref)
        except MlflowException as exc:
            raise RegistryError(f"{what}: no version {ref} of model {name}") from exc
    versions = rv.all_versions(client, name)
    if not versions:
        raise RegistryError(f"{what}: no registered model {name} (or it has no versions)")
    if ref.lower() == "latest":
        return versions[-1]
    semver = [v for v in versions if (v.tags or {}).get(rv.TAG_SEMVER) == ref.removeprefix("v")]
    if semver:
        return semver[-1]
    try:
        return client.get_model_version_by_alias(name, ref.lower())
    except MlflowException:
        pass  # no such alias: try the stage vocabulary
    staged = [v for v in versions if str(v.current_stage).lower() == ref.lower()]
    if staged:
        return staged[-1]
    raise RegistryError(f"{what}: no version of {name} has alias or stage '{ref}'")


def resolve_uri(client: MlflowClient, uri: str) -> ModelVersion | None:
    """The registered version a URI names; None for an unregistered run model."""
    from mlflow.exceptions import MlflowException

    match = _MODELS_URI.match(uri)
    if match:
        name = match["name"]
        if match["alias"]:
            try:
                return client.get_model_version_by_alias(name, match["alias"])
            except MlflowException as exc:
                raise RegistryError(f"{uri}: model {name} has no alias '{match['alias']}'") from exc
        return find_version(client, name, match["ref"], what=uri)
    match = _RUNS_URI.match(uri)
    if match:
        found = client.search_model_versions(f"run_id = '{match['run_id']}'")
        return min(found, key=lambda v: int(v.version)) if found else None
    match = _LOGGED_MODEL_URI.match(uri)
    if match:  # what training returns as model_uri; registered versions keep it as source
        run_id = client.get_logged_model(match["model_id"]).source_run_id
        same = [v for v in client.search_model_versions(f"run_id = '{run_id}'") if v.source == uri]
        return min(same, key=lambda v: int(v.version)) if same else None
    raise RegistryError(
        f"unsupported model URI {uri!r}",
        hint="use models:/NAME@ALIAS, models:/NAME/STAGE, models:/NAME/VERSION, models:/MODEL_ID "
        "or runs:/RUN_ID/PATH",
    )


def _checked_version(settings: Settings, client: MlflowClient, mv: ModelVersion) -> ModelVersion:
    """The version with a manifest, adopting it first when trust on first use allows."""
    if rv.TAG_MANIFEST_SHA in (mv.tags or {}):
        return mv
    if not settings.registry_trust_on_first_use:
        raise ModelIntegrityError(
            f"model {mv.name} version {mv.version} has no SHA-256 manifest",
            hint="register it with `nids models register` or enable NIDS_REGISTRY_TRUST_ON_FIRST_USE",
        )
    rv.adopt_version(settings, mv.name, int(mv.version))
    return client.get_model_version(mv.name, mv.version)


def split_ref(ref: str, default_name: str) -> tuple[str, str]:
    """``NAME/VERSION`` or ``VERSION`` (number, semver, alias, stage) -> (name, version ref)."""
    name, sep, version = ref.rpartition("/")
    return (name, version) if sep and name else (default_name, ref)


@rv.registry_errors
def verify_ref(settings: Settings, ref: str) -> rv.VersionInfo:
    """:func:`verify_version` for ``NAME/VERSION`` or ``VERSION`` of the default model."""
    return verify_version(settings, *split_ref(ref, settings.model_name))


@rv.registry_errors
def verify_version(settings: Settings, name: str, ref: str) -> rv.VersionInfo:
    """Download a version and check every artefact against its manifest."""
    client = configure_mlflow(settings)
    mv = find_version(client, name, ref)
    with tempfile.TemporaryDirectory(prefix="nids-verify-") as tmp:
        local = rv.download_version(client, mv.name, mv.version, Path(tmp))
        rv.verify_local_copy(client, mv, local)
    return rv.version_info(client.get_model_version(mv.name, mv.version))


# MLflow loads a models-from-code pyfunc with a mock ``dbutils`` module swapped into
# sys.modules and back, without a lock: two loads at once in one process (a hot reload
# beside A/B variants) can leave the mock behind. One load at a time.
_PYFUNC_LOAD_LOCK = threading.Lock()


def _load_pyfunc(local: Path, uri: str) -> tuple[Any, Any]:
    import mlflow

    try:
        with _PYFUNC_LOAD_LOCK:
            pyfunc = mlflow.pyfunc.load_model(str(local))
    except ModelIntegrityError:
        raise
    except Exception as exc:  # any loader failure means an unusable model
        raise ModelIntegrityError(f"{uri}: model cannot be loaded: {exc}") from exc
    try:
        nids_model = pyfunc.unwrap_python_model()
    except Exception as exc:  # a flavour that is not our custom pyfunc
        raise RegistryError(f"{uri} is not a nids model (custom pyfunc): {exc}") from exc
    return pyfunc, nids_model


@rv.registry_errors
def load_model(uri: str, settings: Settings) -> LoadedModel:
    """Resolve ``uri``, verify the artefacts against the manifest, and load the model.

    Raises :class:`ModelIntegrityError` when any file is missing, added or modified.
    A ``runs:/`` or ``models:/<model_id>`` URI of a model that was never registered has
    no manifest to check: it loads with ``verified=False``.
    """
    import mlflow

    client = configure_mlflow(settings)
    mv = rv._registry_call(settings, f"resolve {uri}", resolve_uri, client, uri)
    tmp = Path(tempfile.mkdtemp(prefix="nids-model-"))
    try:
        if mv is None:
            local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(tmp)))
        else:
            mv = _checked_version(settings, client, mv)
            local = rv.download_version(client, mv.name, mv.version, tmp)
            rv.verify_local_copy(client, mv, local)
        pyfunc, nids_model = _load_pyfunc(local, uri)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    # The copy lives as long as the model object (a model may read files lazily).
    weakref.finalize(pyfunc, shutil.rmtree, str(tmp), True)
    if mv is None:
        return LoadedModel(pyfunc, nids_model, uri, None, None, None, verified=False)
    info = rv.version_info(client.get_model_version(mv.name, mv.version))
    return LoadedModel(
        pyfunc=pyfunc,
        nids_model=nids_model,
        uri=uri,
        name=info.name,
        version=info.version,
        semver=info.semver,
        tags=info.tags,
        metrics=info.metrics,
    )
