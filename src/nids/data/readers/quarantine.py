"""Quarantine: rows (or whole files) a reader refused, kept with the reason.

One JSON-lines file per source, ``<quarantine_dir>/<source-stem>.quarantine.jsonl``;
each record holds the source, the 1-based line (or row), the first offending field,
every reason, and the original values (or raw text of an unparseable line). The file is
written to a temporary name and renamed when the read completes, so a failed read
leaves nothing half-written; a rerun replaces it.
"""

from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import IO, Any

import numpy as np
import orjson
import pandas as pd

from nids.data.validation import CheckResult

SUFFIX = ".quarantine.jsonl"


def quarantine_path(source: str, quarantine_dir: Path, *, unique: bool = False) -> Path:
    """Where the quarantine file of ``source`` goes (``unique`` adds a path hash)."""
    stem = PurePosixPath(source.rstrip("/")).name or "input"
    if unique:
        stem += "-" + hashlib.sha1(source.encode()).hexdigest()[:8]
    return quarantine_dir / f"{stem}{SUFFIX}"


class QuarantineWriter:
    """Collects refused records of one source; use as a context manager."""

    def __init__(self, source: str, quarantine_dir: Path | None, *, unique: bool = False) -> None:
        if quarantine_dir is None:
            from nids.settings import get_settings

            quarantine_dir = get_settings().quarantine_dir
        self.source = source
        self.path = quarantine_path(source, Path(quarantine_dir), unique=unique)
        self.count = 0
        self._tmp = self.path.with_name(self.path.name + ".tmp")
        self._fh: IO[bytes] | None = None

    def __enter__(self) -> QuarantineWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()

    def _write(self, record: dict[str, Any]) -> None:
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = self._tmp.open("wb")
        self._fh.write(orjson.dumps(record, default=str, option=orjson.OPT_SERIALIZE_NUMPY) + b"\n")
        self.count += 1

    def write_rows(self, raw: pd.DataFrame, result: CheckResult, lines: np.ndarray) -> None:
        """Write every rejected row of ``result`` with its original values."""
        if len(result.rejected) == 0:
            return
        records = raw.iloc[result.rejected].astype(object).to_dict("records")
        for pos, values, (field, _cat, reason) in zip(
            result.rejected, records, result.reasons, strict=True
        ):
            clean = {str(k): (None if _isna(v) else v) for k, v in values.items()}
            self._write(
                {
                    "source": self.source,
                    "line": int(lines[pos]),
                    "field": field,
                    "reason": reason,
                    "values": clean,
                }
            )

    def write_line(self, line: int | None, reason: str, text: str) -> None:
        """Write one raw line the parser could not split into fields."""
        self._write(
            {"source": self.source, "line": line, "field": None, "reason": reason, "text": text}
        )

    def write_file(self, reason: str) -> None:
        """Record that the whole source was refused (unreadable, unknown format...)."""
        self._write({"source": self.source, "line": None, "field": None, "reason": reason})

    def commit(self) -> None:
        """Close and move the file into place (no file when nothing was refused)."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None
            self._tmp.replace(self.path)

    def abort(self) -> None:
        """Close and delete the partial file."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        with contextlib.suppress(FileNotFoundError):
            self._tmp.unlink()


def _isna(value: object) -> bool:
    try:
        return bool(pd.isna(value))  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return False
