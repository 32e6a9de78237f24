"""SHA-256 manifests of model artefacts: the proof that what we load is what we registered.

A manifest maps every artefact file (POSIX path relative to the model root) to the
SHA-256 of its bytes. It is stored on the model version as tags: ``nids.manifest``
(compact JSON) when it fits in :data:`INLINE_LIMIT` characters, otherwise as a JSON
artefact of the training run with its location in ``nids.manifest_artifact``; in both
cases ``nids.manifest_sha256`` holds the digest of the manifest itself, so a manifest
edited after registration is detected too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path

from nids.errors import ModelIntegrityError

# Inline in a tag up to this size. MLflow 3's own limit is 100,000 characters, but
# some registries (older servers, Databricks) cap tag values at 5,000: stay portable.
INLINE_LIMIT = 5000
_CHUNK = 1024 * 1024

Manifest = dict[str, str]


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def compute_manifest(root: Path) -> Manifest:
    """Manifest of every regular file under ``root`` (sorted, POSIX relative paths)."""
    root = Path(root)
    if not root.is_dir():
        raise ModelIntegrityError(f"model artefacts missing: {root} is not a directory")
    return {
        path.relative_to(root).as_posix(): file_sha256(path)
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def encode_manifest(manifest: Mapping[str, str]) -> str:
    """Canonical compact JSON (sorted keys), the form that is stored and digested."""
    return json.dumps(dict(manifest), sort_keys=True, separators=(",", ":"))


def manifest_digest(manifest: Mapping[str, str]) -> str:
    """SHA-256 of the canonical JSON of a manifest."""
    return hashlib.sha256(encode_manifest(manifest).encode()).hexdigest()


def decode_manifest(text: str, *, expected_digest: str | None, where: str) -> Manifest:
    """Parse a stored manifest and check it against its recorded digest."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelIntegrityError(f"{where}: stored manifest is not valid JSON ({exc})") from exc
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise ModelIntegrityError(f"{where}: stored manifest is not a path -> sha256 map")
    if expected_digest is not None and manifest_digest(data) != expected_digest:
        raise ModelIntegrityError(
            f"{where}: the stored manifest does not match its recorded SHA-256 "
            "(the manifest was edited after registration)"
        )
    return data


def diff_manifest(expected: Mapping[str, str], actual: Mapping[str, str]) -> list[str]:
    """Human-readable differences: missing, unexpected and modified files."""
    problems = [f"missing file {p}" for p in sorted(set(expected) - set(actual))]
    problems += [f"unexpected file {p}" for p in sorted(set(actual) - set(expected))]
    problems += [
        f"modified file {p}"
        for p in sorted(set(expected) & set(actual))
        if expected[p] != actual[p]
    ]
    return problems


def verify_directory(root: Path, expected: Mapping[str, str], *, where: str) -> None:
    """Raise :class:`ModelIntegrityError` unless ``root`` holds exactly the manifest's files."""
    problems = diff_manifest(expected, compute_manifest(root))
    if problems:
        shown = "; ".join(problems[:5]) + (
            f"; and {len(problems) - 5} more" if len(problems) > 5 else ""
        )
        raise ModelIntegrityError(
            f"{where}: artefacts do not match the registered SHA-256 manifest: {shown}",
            hint="the model was tampered with or only partially written; re-register it from its run",
        )
