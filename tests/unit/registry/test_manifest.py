"""The SHA-256 manifest detects modified, missing and added files, and its own edits."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from nids.errors import ModelIntegrityError
from nids.registry import manifest as mf


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    root = tmp_path / "model"
    (root / "artifacts").mkdir(parents=True)
    (root / "MLmodel").write_text("flavors: {}\n")
    (root / "artifacts" / "pipeline.skops").write_bytes(b"\x00\x01weights")
    return root


def test_manifest_lists_every_file_with_its_sha256(model_dir: Path) -> None:
    manifest = mf.compute_manifest(model_dir)
    assert sorted(manifest) == ["MLmodel", "artifacts/pipeline.skops"]
    assert manifest["artifacts/pipeline.skops"] == hashlib.sha256(b"\x00\x01weights").hexdigest()
    mf.verify_directory(model_dir, manifest, where="m/1")  # unchanged: no error


def test_round_trip_and_digest_is_canonical(model_dir: Path) -> None:
    manifest = mf.compute_manifest(model_dir)
    reordered = dict(reversed(list(manifest.items())))
    assert mf.manifest_digest(reordered) == mf.manifest_digest(manifest)
    text = mf.encode_manifest(manifest)
    assert (
        mf.decode_manifest(text, expected_digest=mf.manifest_digest(manifest), where="m")
        == manifest
    )


def test_edited_manifest_is_detected(model_dir: Path) -> None:
    manifest = mf.compute_manifest(model_dir)
    digest = mf.manifest_digest(manifest)
    forged = dict(manifest, MLmodel="0" * 64)
    with pytest.raises(ModelIntegrityError, match="edited after registration"):
        mf.decode_manifest(mf.encode_manifest(forged), expected_digest=digest, where="m")
    with pytest.raises(ModelIntegrityError, match="not valid JSON"):
        mf.decode_manifest("{oops", expected_digest=digest, where="m")


@pytest.mark.parametrize("change", ["modify", "delete", "add"])
def test_tampering_is_detected(model_dir: Path, change: str) -> None:
    manifest = mf.compute_manifest(model_dir)
    weights = model_dir / "artifacts" / "pipeline.skops"
    if change == "modify":
        weights.write_bytes(b"\x00\x01weightz")
        expected = "modified file artifacts/pipeline.skops"
    elif change == "delete":
        weights.unlink()
        expected = "missing file artifacts/pipeline.skops"
    else:
        (model_dir / "extra.py").write_text("import os\n")
        expected = "unexpected file extra.py"
    with pytest.raises(ModelIntegrityError, match=expected):
        mf.verify_directory(model_dir, manifest, where="nids-isoforest/1")


def test_missing_directory_is_an_integrity_error(tmp_path: Path) -> None:
    with pytest.raises(ModelIntegrityError, match="not a directory"):
        mf.compute_manifest(tmp_path / "absent")
