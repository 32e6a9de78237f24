"""Connection to the MLflow tracking store and registry, shared by every domain.

The embedded default is a SQLite database under ``mlruns/`` with artefacts on local
disk, so a new user needs no server. A remote ``http(s)://`` tracking server is used
as is (it manages artefact locations itself).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from nids.errors import ServiceUnavailableError
from nids.settings import Settings

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient


def is_local_store(uri: str) -> bool:
    """True for stores on this machine's disk (SQLite file or file: URI)."""
    return uri.startswith(("sqlite:", "file:")) or "://" not in uri


def configure_mlflow(settings: Settings) -> MlflowClient:
    """Point MLflow at the configured tracking/registry URIs and return a client.

    Creates the directory of an embedded SQLite database so the first run just works.
    """
    import mlflow
    from mlflow.tracking import MlflowClient

    uri = absolute_tracking_uri(settings.mlflow_tracking_uri)
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    registry_uri = absolute_tracking_uri(settings.mlflow_registry_uri or uri)
    if settings.mlflow_registry_uri:
        mlflow.set_registry_uri(registry_uri)
    return MlflowClient(tracking_uri=uri, registry_uri=registry_uri)


def absolute_tracking_uri(uri: str) -> str:
    """Anchor a relative ``sqlite:///`` path to the current directory.

    MLflow caches stores by URI string: a relative path reused after a ``chdir`` would
    silently keep writing to the first database. An absolute URI names one file.
    """
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        return "sqlite:///" + str(Path(uri.removeprefix("sqlite:///")).resolve())
    return uri


def ensure_experiment(settings: Settings, name: str | None = None) -> str:
    """Return the id of the named experiment (default: settings.experiment_name), creating it.

    On a local store new experiments put artefacts under ``settings.artifact_root``
    (an absolute ``file://`` URI, so runs started from another directory still find them).
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    configure_mlflow(settings)
    name = name or settings.experiment_name
    try:
        experiment = mlflow.get_experiment_by_name(name)
        if experiment is not None:
            return str(experiment.experiment_id)
        location = None
        if is_local_store(settings.mlflow_tracking_uri):
            root = Path(settings.artifact_root).resolve()
            root.mkdir(parents=True, exist_ok=True)
            location = root.as_uri()
        try:
            return str(mlflow.create_experiment(name, artifact_location=location))
        except MlflowException as exc:
            # Another process or thread created it between our read and our write.
            existing = mlflow.get_experiment_by_name(name)
            if exc.error_code != "RESOURCE_ALREADY_EXISTS" or existing is None:
                raise
            return str(existing.experiment_id)
    except MlflowException as exc:
        raise ServiceUnavailableError(
            f"MLflow tracking store {settings.mlflow_tracking_uri} failed: {exc.message}"
        ) from exc
    except OSError as exc:  # connection refused, DNS failure, unreachable server
        raise ServiceUnavailableError(
            f"MLflow tracking store {settings.mlflow_tracking_uri} is unreachable: {exc}"
        ) from exc
