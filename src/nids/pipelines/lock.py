"""A named lock with expiry in the project's database (SQLite or PostgreSQL).

One row per lock name in ``nids_locks``; taking the lock is an INSERT that the
primary key makes atomic, so two processes can never both succeed. The holder
renews ``expires_at`` from a heartbeat thread while it works. A lock is taken over
only when it has expired, or when its holder ran on this host and its process is
gone (a killed run need not wait for the expiry); the takeover is a conditional
DELETE on the old token, so two processes cannot both take over a stale lock.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, TypeVar

import sqlalchemy as sa

from nids.errors import LockHeldError, ServiceUnavailableError

T = TypeVar("T")

_metadata = sa.MetaData()
locks_table = sa.Table(
    "nids_locks",
    _metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("token", sa.String(64), nullable=False),
    sa.Column("holder", sa.String(256), nullable=False),
    sa.Column("host", sa.String(256), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
)


@dataclass(frozen=True)
class LockInfo:
    """Who holds a lock, and until when."""

    name: str
    token: str
    holder: str
    host: str
    pid: int
    acquired_at: datetime
    expires_at: datetime

    def describe(self) -> str:
        """Human-readable holder description."""
        return (
            f"{self.holder} (pid {self.pid} on {self.host}) since "
            f"{self.acquired_at:%Y-%m-%d %H:%M:%S} UTC, expires {self.expires_at:%H:%M:%S} UTC"
        )


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)  # SQLite drops the zone


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


class DatabaseLock:
    """``with DatabaseLock(url, "retrain", ttl_s=..., holder=...):`` or acquire()/release()."""

    def __init__(self, url: str, name: str, *, ttl_s: float, holder: str) -> None:
        self.url, self.name, self.ttl_s, self.holder = url, name, ttl_s, holder
        self.token = uuid.uuid4().hex
        self.host = socket.gethostname()
        self._engine: sa.Engine | None = None
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    # -- database -----------------------------------------------------------------
    def _db(self) -> sa.Engine:
        if self._engine is None:
            if self.url.startswith("sqlite:///"):
                from pathlib import Path

                Path(self.url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
            self._engine = sa.create_engine(self.url, pool_pre_ping=True)
            _metadata.create_all(self._engine, checkfirst=True)
        return self._engine

    def _call(self, func: Callable[..., T], *args: Any) -> T:
        try:
            return func(*args)
        except sa.exc.IntegrityError:
            raise
        except sa.exc.SQLAlchemyError as exc:
            raise ServiceUnavailableError(
                f"lock database {sa.engine.make_url(self.url).render_as_string()} failed: {exc}"
            ) from exc

    def current(self) -> LockInfo | None:
        """The lock's row as stored now (None when free)."""
        return self._call(self._current)

    def _current(self) -> LockInfo | None:
        t = locks_table
        with self._db().connect() as conn:
            row = conn.execute(sa.select(t).where(t.c.name == self.name)).first()
        if row is None:
            return None
        return LockInfo(
            row.name, row.token, row.holder, row.host, row.pid,
            _utc(row.acquired_at), _utc(row.expires_at),
        )  # fmt: skip

    def _insert(self) -> None:
        now = datetime.now(UTC)
        with self._db().begin() as conn:
            conn.execute(
                locks_table.insert().values(
                    name=self.name, token=self.token, holder=self.holder, host=self.host,
                    pid=os.getpid(), acquired_at=now,
                    expires_at=now + timedelta(seconds=self.ttl_s),
                )
            )  # fmt: skip

    def _delete(self, token: str) -> bool:
        t = locks_table
        with self._db().begin() as conn:
            done = conn.execute(t.delete().where(t.c.name == self.name, t.c.token == token))
        return bool(done.rowcount)

    def _renew(self) -> None:
        t = locks_table
        expires = datetime.now(UTC) + timedelta(seconds=self.ttl_s)
        with self._db().begin() as conn:
            conn.execute(
                t.update().where(t.c.name == self.name, t.c.token == self.token)
                .values(expires_at=expires)
            )  # fmt: skip

    # -- protocol -----------------------------------------------------------------
    def stale(self, info: LockInfo) -> str | None:
        """Why ``info``'s lock may be taken over (None: it is live)."""
        if info.expires_at <= datetime.now(UTC):
            return "expired"
        if info.host == self.host and not _pid_alive(info.pid):
            return f"holder process {info.pid} is gone"
        return None

    def acquire(self) -> LockInfo | None:
        """Take the lock; returns the stale holder it replaced, if any.

        Raises :class:`LockHeldError` naming the holder when the lock is live.
        """
        replaced = None
        for _ in range(3):
            try:
                self._call(self._insert)
            except sa.exc.IntegrityError:
                info = self.current()
                if info is None:
                    continue  # released between our insert and read: try again
                if self.stale(info) is None:
                    raise LockHeldError(
                        f"the {self.name} lock is held by {info.describe()}",
                        hint="wait for that run to finish; a killed holder's lock expires or "
                        "is taken over from the same host",
                    ) from None
                if self._call(self._delete, info.token):
                    replaced = info
                continue
            self._start_heartbeat()
            return replaced
        raise LockHeldError(f"the {self.name} lock is contended; try again")

    def release(self) -> None:
        """Stop renewing and free the lock (only if still ours)."""
        self._stop.set()
        if self._beat is not None:
            self._beat.join(timeout=5)
        try:
            self._call(self._delete, self.token)
        finally:
            if self._engine is not None:
                self._engine.dispose()

    def _start_heartbeat(self) -> None:
        interval = max(self.ttl_s / 3, 0.05)

        def beat() -> None:
            while not self._stop.wait(interval):
                # A failed renewal is retried at the next beat; expiry is the safety net.
                with contextlib.suppress(sa.exc.SQLAlchemyError):
                    self._renew()

        self._beat = threading.Thread(target=beat, name=f"lock-{self.name}", daemon=True)
        self._beat.start()

    def __enter__(self) -> DatabaseLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
