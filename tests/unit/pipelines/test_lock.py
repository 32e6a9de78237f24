"""The database lock: one holder at a time, named in the refusal, stale locks taken over."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from nids.errors import LockHeldError
from nids.pipelines.lock import DatabaseLock, locks_table


def _url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ops.db'}"


def test_second_holder_is_refused_naming_the_first(tmp_path: Path) -> None:
    first = DatabaseLock(_url(tmp_path), "retrain", ttl_s=60, holder="alice (scheduled retrain)")
    second = DatabaseLock(_url(tmp_path), "retrain", ttl_s=60, holder="bob (manual retrain)")
    assert first.acquire() is None
    try:
        with pytest.raises(
            LockHeldError, match=r"alice \(scheduled retrain\) \(pid \d+ on "
        ) as err:
            second.acquire()
        assert err.value.exit_code == 6
        # another lock name is independent
        other = DatabaseLock(_url(tmp_path), "retrain:other-model", ttl_s=60, holder="carol")
        with other:
            assert other.current() is not None
    finally:
        first.release()
    assert first.current() is None
    with second:
        info = second.current()
        assert info is not None and info.holder == "bob (manual retrain)"


def test_heartbeat_keeps_a_short_lock_alive_and_expiry_frees_a_silent_one(tmp_path: Path) -> None:
    holder = DatabaseLock(_url(tmp_path), "retrain", ttl_s=0.6, holder="worker")
    holder.acquire()
    try:
        time.sleep(1.2)  # twice the ttl: only the heartbeat keeps it
        with pytest.raises(LockHeldError):
            DatabaseLock(_url(tmp_path), "retrain", ttl_s=0.6, holder="late").acquire()
    finally:
        holder.release()
    # A holder that stopped renewing (hung, or on a host we cannot inspect) expires.
    engine = sa.create_engine(_url(tmp_path))
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            locks_table.insert().values(
                name="retrain", token="t0", holder="ghost", host="elsewhere", pid=1,
                acquired_at=now - timedelta(hours=7), expires_at=now - timedelta(hours=1),
            )
        )  # fmt: skip
    engine.dispose()
    taker = DatabaseLock(_url(tmp_path), "retrain", ttl_s=60, holder="next")
    replaced = taker.acquire()
    try:
        assert replaced is not None and replaced.holder == "ghost"
        assert taker.stale(replaced) == "expired"
    finally:
        taker.release()


def test_lock_of_a_killed_process_on_this_host_is_taken_over(tmp_path: Path) -> None:
    code = (
        "import sys, time\n"
        "from nids.pipelines.lock import DatabaseLock\n"
        f"DatabaseLock({_url(tmp_path)!r}, 'retrain', ttl_s=3600, holder='victim').acquire()\n"
        "print('held', flush=True)\n"
        "time.sleep(600)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        with pytest.raises(LockHeldError, match="victim"):
            DatabaseLock(_url(tmp_path), "retrain", ttl_s=60, holder="me").acquire()
        proc.kill()
        proc.wait(timeout=10)
        taker = DatabaseLock(_url(tmp_path), "retrain", ttl_s=60, holder="me")
        replaced = taker.acquire()
        assert replaced is not None and replaced.holder == "victim"
        assert "is gone" in (taker.stale(replaced) or "")
        taker.release()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def test_release_never_frees_someone_elses_lock(tmp_path: Path) -> None:
    a = DatabaseLock(_url(tmp_path), "retrain", ttl_s=0.2, holder="a")
    a.acquire()
    a._stop.set()  # a hangs: no more heartbeats
    time.sleep(0.4)
    b = DatabaseLock(_url(tmp_path), "retrain", ttl_s=60, holder="b")
    assert b.acquire() is not None  # a's lock expired
    a.release()  # a wakes up and releases: must not free b's lock
    info = b.current()
    assert info is not None and info.holder == "b"
    b.release()
