"""Model registry: versions with SHA-256 manifests and semver, verified loading,
gated promotion with audit history, rollback. MLflow is imported only when called."""

from nids.registry.loader import LoadedModel, load_model, verify_version
from nids.registry.versions import VersionInfo, get_version, register_model_version

__all__ = [
    "LoadedModel",
    "VersionInfo",
    "get_version",
    "load_model",
    "register_model_version",
    "verify_version",
]
