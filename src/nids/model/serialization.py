"""Saving and loading the fitted pipeline with skops, trusting an explicit list of types.

skops refuses to instantiate any type it does not trust by default (scikit-learn
estimators and plain containers are trusted; an IsolationForest's
``sklearn.tree._tree.Tree`` and our own transformer/detector classes are not). We never
pass a blanket list: the types a file needs are enumerated with
``skops.io.get_untrusted_types`` and loading proceeds only when every one of them is
in :data:`TRUSTED_TYPES`. Anything else is refused as a possibly tampered model.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from nids.errors import ModelIntegrityError, TrainingError

#: Exact fully qualified type names a NIDS pipeline may contain beyond skops' own
#: defaults. Adding a detector or transformer class means adding its name here (the
#: round-trip test of every detector fails until then).
TRUSTED_TYPES: frozenset[str] = frozenset(
    {
        "sklearn.tree._tree.Tree",
        "nids.features.transformer.FlowFeatureTransformer",
        "nids.model.detectors.HBOS",
        "nids.model.detectors.IsolationHBOSEnsemble",
    }
)


def _untrusted(path: Path) -> list[str]:
    import skops.io as sio

    try:
        return list(sio.get_untrusted_types(file=path))
    except Exception as exc:  # a truncated/garbled zip must not surface as a traceback
        raise ModelIntegrityError(f"{path}: not a readable skops file ({exc})") from exc


def save_pipeline(pipeline: Any, path: str | os.PathLike[str]) -> Path:
    """Write ``pipeline`` to ``path`` (atomically) and check it will load again.

    Raises :class:`TrainingError` when the pipeline holds a type outside
    :data:`TRUSTED_TYPES`, so a model that could not be loaded is never logged.
    """
    import skops.io as sio

    target = Path(path)
    tmp = target.with_name(target.name + ".tmp")
    sio.dump(pipeline, tmp)
    unknown = sorted(set(_untrusted(tmp)) - TRUSTED_TYPES)
    if unknown:
        tmp.unlink(missing_ok=True)
        raise TrainingError(
            f"the pipeline contains types outside the serialisation allow-list: {unknown}",
            hint="add the exact type names to nids.model.serialization.TRUSTED_TYPES",
        )
    tmp.replace(target)
    return target


def load_pipeline(path: str | os.PathLike[str]) -> Any:
    """Load a pipeline saved by :func:`save_pipeline`, refusing unexpected types."""
    import skops.io as sio

    source = Path(path)
    if not source.is_file():
        raise ModelIntegrityError(f"{source}: model pipeline file is missing")
    needed = _untrusted(source)
    unknown = sorted(set(needed) - TRUSTED_TYPES)
    if unknown:
        raise ModelIntegrityError(
            f"{source}: refusing to load types outside the allow-list: {unknown}"
        )
    try:
        return sio.load(source, trusted=needed)
    except Exception as exc:
        raise ModelIntegrityError(f"{source}: cannot load the model pipeline ({exc})") from exc
