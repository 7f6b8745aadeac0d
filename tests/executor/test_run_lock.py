"""One run at a time per scope: the advisory lock (PostgreSQL) and the lease row (SQLite)."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import Engine, text, update

from core.db.models import RunLockRow, utc_now
from core.db.session import session_scope
from executor.locks import (
    LeaseLock,
    LockLost,
    ScopeLocked,
    holder_alive,
    kept_alive,
    process_alive,
    run_lock,
)


def test_a_second_run_of_the_scope_is_refused_until_the_first_ends(
    engine: Engine, db_url: str
) -> None:
    with run_lock(engine, "sample", "all") as first:
        first.check()
        with pytest.raises(ScopeLocked, match="sample/all"), run_lock(engine, "sample", "all"):
            pass
        with run_lock(engine, "sample", "other-scope") as other:  # scopes are independent
            other.check()
    with run_lock(engine, "sample", "all") as again:
        again.check()


def test_a_waiting_run_gets_the_lock_when_it_is_released(engine: Engine, db_url: str) -> None:
    released = threading.Event()

    def hold() -> None:
        with run_lock(engine, "sample", "all"):
            started.set()
            released.wait(0.6)

    started = threading.Event()
    holder = threading.Thread(target=hold)
    holder.start()
    started.wait(5)
    with run_lock(engine, "sample", "all", wait_s=10, poll_s=0.05) as lock:
        lock.check()
    holder.join()


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_process_alive_knows_a_dead_process() -> None:
    assert process_alive(_dead_pid()) is False
    import os

    assert process_alive(os.getpid()) is True


def test_sqlite_lock_of_a_dead_process_on_this_machine_is_taken_over(
    engine: Engine, db_url: str, backend: str
) -> None:
    if backend != "sqlite":
        pytest.skip("the lease row is SQLite's lock")
    now = utc_now()
    with session_scope(engine) as session:
        session.add(RunLockRow(scope_key="sample/all", owner="ghost", host=socket.gethostname(),
                               pid=_dead_pid(), acquired_at=now,
                               expires_at=now + timedelta(hours=1)))
    with run_lock(engine, "sample", "all") as lock:
        lock.check()


def test_sqlite_lock_of_a_live_process_elsewhere_holds_until_its_lease_ends(
    engine: Engine, db_url: str, backend: str
) -> None:
    if backend != "sqlite":
        pytest.skip("the lease row is SQLite's lock")
    now = utc_now()
    with session_scope(engine) as session:
        session.add(RunLockRow(scope_key="sample/all", owner="other-host:1:x",
                               host="other-host", pid=1, acquired_at=now,
                               expires_at=now + timedelta(hours=1)))
    with pytest.raises(ScopeLocked, match="held by other-host:1:x"), \
            run_lock(engine, "sample", "all"):
        pass
    with session_scope(engine) as session:
        session.execute(update(RunLockRow).values(expires_at=now - timedelta(seconds=1)))
    with run_lock(engine, "sample", "all") as lock:
        lock.check()


def test_sqlite_holder_whose_lease_was_taken_over_stops(
    engine: Engine, db_url: str, backend: str
) -> None:
    if backend != "sqlite":
        pytest.skip("the lease row is SQLite's lock")
    with run_lock(engine, "sample", "all", lease_s=0.01) as lock:
        assert isinstance(lock, LeaseLock)
        with session_scope(engine) as session:  # the lease ran out; someone took the lock
            session.execute(update(RunLockRow).values(owner="newcomer"))
        with pytest.raises(LockLost, match="taken over"):
            lock.check()


def test_postgres_lock_dies_with_its_connection(
    engine: Engine, db_url: str, backend: str
) -> None:
    if backend != "postgresql":
        pytest.skip("the advisory lock is PostgreSQL's")
    with run_lock(engine, "sample", "all") as lock:
        pid = lock.connection.execute(text("SELECT pg_backend_pid()")).scalar_one()  # type: ignore[attr-defined]
        with engine.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        with pytest.raises(LockLost):
            lock.check()
        with run_lock(engine, "sample", "all") as second:  # the server released it
            second.check()


def test_sqlite_lock_naming_this_pid_but_not_held_here_is_a_dead_predecessors(
    engine: Engine, db_url: str, backend: str
) -> None:
    # A restarted server in a container often gets the pid its killed predecessor had.
    if backend != "sqlite":
        pytest.skip("the lease row is SQLite's lock")
    import os

    now = utc_now()
    with session_scope(engine) as session:
        session.add(RunLockRow(scope_key="sample/all", owner="predecessor",
                               host=socket.gethostname(), pid=os.getpid(), acquired_at=now,
                               expires_at=now + timedelta(hours=1)))
        assert holder_alive(session, "sample", "all") is False
    with run_lock(engine, "sample", "all") as lock:
        lock.check()
        with session_scope(engine) as session:  # now it is held here, by this process
            assert holder_alive(session, "sample", "all") is True
        with pytest.raises(ScopeLocked), run_lock(engine, "sample", "all"):
            pass


def test_holder_alive_sees_a_lock_held_by_another_connection(
    engine: Engine, db_url: str
) -> None:
    with session_scope(engine) as session:
        assert holder_alive(session, "sample", "all") is False
    with run_lock(engine, "sample", "all"), session_scope(engine) as session:
        assert holder_alive(session, "sample", "all") is True
        assert holder_alive(session, "sample", "other") is False
    with session_scope(engine) as session:
        assert holder_alive(session, "sample", "all") is False


def test_a_long_step_keeps_the_sqlite_lease_alive(
    engine: Engine, db_url: str, backend: str
) -> None:
    if backend != "sqlite":
        pytest.skip("the lease row is SQLite's lock")
    with run_lock(engine, "sample", "all", lease_s=0.4) as lock, kept_alive(lock, 0.1):
        time.sleep(1.2)  # three leases long, without a check of its own
        with pytest.raises(ScopeLocked), run_lock(engine, "sample", "all", lease_s=0.4):
            pass
        lock.check()
