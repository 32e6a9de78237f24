"""Model registry: versions with SHA-256 manifests and semver, verified loading,
gated promotion with audit history, rollback. MLflow is imported only when called."""

from nids.registry.audit import AuditEvent, history
from nids.registry.loader import LoadedModel, load_model, verify_version
from nids.registry.promotion import PromotionResult, compare, promote, rollback
from nids.registry.versions import VersionInfo, get_version, register_model_version

__all__ = [
    "AuditEvent",
    "LoadedModel",
    "PromotionResult",
    "VersionInfo",
    "compare",
    "get_version",
    "history",
    "load_model",
    "promote",
    "register_model_version",
    "rollback",
    "verify_version",
]
