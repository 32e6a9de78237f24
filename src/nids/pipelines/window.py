"""Resolve a retrain's data window into a fixed list of objects and a dataset digest.

A window is either a ``--data`` source (file, directory, glob, ``s3://`` glob) or a
``--since/--until`` range over a *dated layout*: objects under a root whose names
carry their date and, optionally, hour (``2025-11-03T05.parquet``,
``2025-11-03-05.parquet``, ``dt=2025-11-03/hour=05/part-0.parquet``,
``2025/11/03/...``). The digest identifies the dataset version without reading it:
SHA-256 over every object's URI, size and ETag (or modification time), so the same
objects give the same digest and a rewritten object gives a new one.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from nids.errors import ConfigError, EmptyDataError

#: Date (and optional hour) in an object path: 2025-11-03, 2025/11/03, dt=2025-11-03/hour=05.
_DATED = re.compile(
    r"(?P<y>20\d\d)[-/](?P<m>[01]\d)[-/](?P<d>[0-3]\d)"
    r"(?:(?:[T_\-/ ]|/hour=|/h=)(?P<h>[0-2]\d)(?!\d))?"
)


@dataclass(frozen=True)
class WindowObject:
    """One object of the window: URI, size and a version marker (ETag or mtime)."""

    uri: str
    size: int
    version: str


@dataclass
class DataWindow:
    """The objects a retrain reads and the digest that names them."""

    source: str
    objects: list[WindowObject]
    since: datetime | None = None
    until: datetime | None = None
    skipped_undated: list[str] = field(default_factory=list)

    @property
    def digest(self) -> str:
        """Dataset digest: SHA-256 (first 16 hex digits) of the sorted object identities."""
        h = hashlib.sha256()
        for obj in sorted(self.objects, key=lambda o: o.uri):
            h.update(f"{obj.uri}\t{obj.size}\t{obj.version}\n".encode())
        return h.hexdigest()[:16]

    @property
    def total_bytes(self) -> int:
        """Bytes of every object in the window."""
        return sum(o.size for o in self.objects)

    def lineage(self) -> dict[str, Any]:
        """JSON-serialisable reference to the data (URIs, sizes, versions, digest)."""
        return {
            "source": self.source,
            "digest": self.digest,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "objects": [{"uri": o.uri, "size": o.size, "version": o.version} for o in self.objects],
            "total_bytes": self.total_bytes,
        }


def parse_when(text: str) -> datetime:
    """An ISO date or date-time (naive = UTC) for ``--since``/``--until``."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ConfigError(f"not an ISO date or date-time: {text!r} (e.g. 2025-11-01)") from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def object_time(path: str) -> datetime | None:
    """The date (and hour) a dated-layout object name carries, or None."""
    # The last date in the path is the most specific (a file's name beats its directory).
    matches = list(_DATED.finditer(path))
    if not matches:
        return None
    match = matches[-1]
    try:
        day = datetime(int(match["y"]), int(match["m"]), int(match["d"]), tzinfo=UTC)
    except ValueError:
        return None
    hour = int(match["h"]) if match["h"] is not None else 0
    return day + timedelta(hours=hour) if hour < 24 else None


def _version(info: dict[str, Any]) -> str:
    for key in ("ETag", "etag", "mtime", "LastModified", "last_modified", "created"):
        if info.get(key) is not None:
            return str(info[key]).strip('"')
    return ""


def _objects(source: str, s3_endpoint_url: str | None) -> list[WindowObject]:
    from nids.data.readers.sources import expand

    files = expand(source, s3_endpoint_url)
    out = []
    for sf in files:
        try:
            info = sf.fs.info(sf.path)  # cached from the listing for S3
        except Exception:  # the version marker is best effort; size and URI still count
            info = {}
        out.append(WindowObject(sf.name, sf.size, _version(info)))
    return out


def resolve_window(
    *,
    data: str | None,
    since: datetime | None,
    until: datetime | None,
    root: str | None,
    s3_endpoint_url: str | None = None,
) -> DataWindow:
    """The objects of a retrain window (``data``, or ``root`` filtered by [since, until))."""
    if data and (since or until):
        raise ConfigError("give either --data or --since/--until, not both")
    if data:
        return DataWindow(data, _objects(data, s3_endpoint_url))
    if not (since or until):
        raise ConfigError("no data window: pass --data GLOB, or --since/--until")
    if not root:
        raise ConfigError(
            "--since/--until need the dated data root",
            hint="set NIDS_RETRAIN_DATA_ROOT (e.g. s3://sec-ai-raw/netflow/) or pass --root",
        )
    until = until or datetime.now(UTC)
    if since is not None and since >= until:
        raise ConfigError(f"empty window: --since {since.isoformat()} is not before --until")
    selected, undated = [], []
    for obj in _objects(root, s3_endpoint_url):
        when = object_time(obj.uri.removeprefix(root))
        if when is None:
            undated.append(obj.uri)
        elif (since is None or when >= since) and when < until:
            selected.append(obj)
    if not selected:
        raise EmptyDataError(
            f"no object dated in [{since.isoformat() if since else '-inf'}, "
            f"{until.isoformat()}) under the data root",
            source=root,
        )
    return DataWindow(root, selected, since, until, undated)
