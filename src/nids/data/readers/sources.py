"""Expand a source argument (file, directory, glob, ``s3://`` prefix) into files."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from nids.errors import DataError, EmptyDataError, ServiceUnavailableError

_GLOB_CHARS = set("*?[")


@dataclass(frozen=True)
class SourceFile:
    """One file to read: its filesystem, path on it, display name and size."""

    fs: Any
    path: str
    name: str
    size: int


def is_s3(path: str) -> bool:
    """True for ``s3://`` / ``s3a://`` URLs."""
    return path.startswith(("s3://", "s3a://"))


def filesystem(path: str, s3_endpoint_url: str | None = None) -> Any:
    """The fsspec filesystem for ``path``: s3fs (configurable endpoint) or local."""
    if is_s3(path):
        import s3fs

        if s3_endpoint_url is None:
            from nids.settings import get_settings

            s3_endpoint_url = get_settings().s3_endpoint_url
        kwargs: dict[str, Any] = {}
        if s3_endpoint_url:
            kwargs["endpoint_url"] = s3_endpoint_url
        # Credentials come from the standard AWS environment variables / config files.
        # Few, quick retries: an unreachable endpoint should fail in seconds, not minutes.
        config = {"retries": {"max_attempts": 3, "mode": "standard"}, "connect_timeout": 10}
        return s3fs.S3FileSystem(
            client_kwargs=kwargs, config_kwargs=config, skip_instance_cache=True
        )
    from fsspec.implementations.local import LocalFileSystem

    return LocalFileSystem()


def _strip(path: str) -> str:
    return path.split("://", 1)[1] if is_s3(path) else path


def _display(path: str, s3: bool) -> str:
    return f"s3://{path}" if s3 else path


def expand(source: str | os.PathLike[str], s3_endpoint_url: str | None = None) -> list[SourceFile]:
    """Files named by ``source`` in sorted order; hidden files and quarantine files skipped."""
    text = os.fspath(source)
    s3 = is_s3(text)
    fs = filesystem(text, s3_endpoint_url)
    target = _strip(text)
    storage_errors: tuple[type[BaseException], ...] = (OSError, *s3_service_errors())
    try:
        if _GLOB_CHARS & set(target):
            infos = [(p, fs.info(p)) for p in sorted(fs.glob(target))]
        else:
            # One request for a named file (a retrain reads a week of hourly objects one
            # by one; isdir + exists + info cost three S3 round trips each).
            info = fs.info(target)
            if info.get("type") == "directory":
                infos = [(p, fs.info(p)) for p in sorted(fs.find(target))]
            else:
                infos = [(target, info)]
    except FileNotFoundError:
        raise DataError("no such file or directory", source=text) from None
    except storage_errors as exc:
        if s3:
            raise ServiceUnavailableError(f"{text}: cannot list S3 objects: {exc}") from exc
        raise DataError(f"cannot list files: {exc}", source=text) from exc
    files = [
        SourceFile(fs, p, _display(p, s3), int(info.get("size") or 0))
        for p, info in infos
        if info.get("type", "file") == "file" and _wanted(p)
    ]
    if not files:
        raise EmptyDataError("no input files match", source=text)
    return files


def s3_service_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean the S3 endpoint itself failed (unreachable, refused)."""
    try:
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:  # pragma: no cover - botocore comes with s3fs
        return ()
    return (BotoCoreError, ClientError)


def _wanted(path: str) -> bool:
    name = path.rstrip("/").rsplit("/", 1)[-1]
    return not name.startswith((".", "_")) and not name.endswith(
        (".quarantine.jsonl", ".quarantine.jsonl.tmp")
    )
