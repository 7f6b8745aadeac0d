"""One run at a time per scope, across processes and machines.

* **PostgreSQL**: a session-level advisory lock, held on a connection of its own
  for the whole run. The server releases it when that connection ends, so a
  killed process never leaves it behind. The key is a hash of the database, the
  schema and the scope.
* **SQLite**: a row of ``run_locks`` claimed with a conditional UPDATE (the
  first statement of its transaction is a write, so it queues on SQLite's write
  lock). The holder has a lease that it renews as it goes; another process may
  take the lock once the lease has run out, or at once when the holder ran on
  the same machine and its process is gone.

Before every purchase the executor calls :meth:`RunLock.check`: a holder whose
lease ran out (and was taken over) or whose PostgreSQL connection died stops
before it buys anything.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from sqlalchemy import Connection, Engine, select, text, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from core.db.models import RunLockRow, utc_now
from core.errors import Conflict

_ADVISORY_KEY = (
    "hashtextextended(current_database() || ':' || current_schema() || ':' || :name, 0)"
)

_ADVISORY_HELD = f"""
    SELECT EXISTS (
        SELECT 1 FROM pg_locks, (SELECT {_ADVISORY_KEY} AS k) AS key
        WHERE locktype = 'advisory' AND granted AND objsubid = 1
          AND classid::bigint = ((key.k >> 32) & 4294967295)
          AND objid::bigint = (key.k & 4294967295))
"""
"""Whether any session holds the advisory lock (a bigint key shows as two 32-bit halves)."""


class ScopeLocked(Conflict):
    """Another run holds the scope's lock."""


class LockLost(Conflict):
    """This process no longer holds the scope's lock: it must stop before buying."""


class RunLock(Protocol):
    """A held run lock."""

    name: str
    owner: str

    def check(self) -> None:
        """Confirm the lock is still held (and renew its lease); raise LockLost otherwise."""
        ...


def lock_name(provider: str, scope: str) -> str:
    """The lock's name for a scope: ``provider/scope``."""
    return f"{provider}/{scope}"


def owner_token() -> str:
    """This process's token: host, pid and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


_HELD: set[str] = set()
"""Owner tokens of the locks this process holds now (a restarted process may get its dead
predecessor's pid: a lock row naming this pid is ours only if its token is here)."""


def _holder_gone(host: str | None, pid: int | None, owner: str | None) -> bool:
    """Whether the recorded holder of a lock certainly ended: it ran on this machine and its
    process is gone, or its pid is this process's own and the lock is not among ours."""
    if host != socket.gethostname() or pid is None:
        return False
    if pid == os.getpid():
        return owner not in _HELD
    return not process_alive(pid)


def process_alive(pid: int) -> bool:
    """Whether a process with this pid runs on this machine (zombies count as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


# --- PostgreSQL ---------------------------------------------------------------------------


class AdvisoryLock:
    """A PostgreSQL advisory lock held on its own connection."""

    def __init__(self, connection: Connection, name: str, owner: str) -> None:
        self.connection = connection
        self.name = name
        self.owner = owner

    def check(self) -> None:
        """The lock lives as long as its connection: check the connection answers."""
        try:
            held = self.connection.execute(
                text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                     "AND pid = pg_backend_pid()")
            ).scalar_one()
        except SQLAlchemyError as exc:
            raise LockLost(f"the connection holding the run lock of {self.name} is gone") from exc
        if not held:
            raise LockLost(f"the run lock of {self.name} is no longer held")


@contextmanager
def _advisory_lock(engine: Engine, name: str, owner: str, *, wait_s: float,
                   poll_s: float) -> Iterator[AdvisoryLock]:
    connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    try:
        deadline = time.monotonic() + wait_s
        while not connection.execute(text(f"SELECT pg_try_advisory_lock({_ADVISORY_KEY})"),
                                     {"name": name}).scalar_one():
            if time.monotonic() >= deadline:
                raise ScopeLocked(f"another run holds the run lock of {name}")
            time.sleep(poll_s)
        lock = AdvisoryLock(connection, name, owner)
        _HELD.add(owner)
        try:
            yield lock
        finally:
            _HELD.discard(owner)
            try:
                connection.execute(text(f"SELECT pg_advisory_unlock({_ADVISORY_KEY})"),
                                   {"name": name})
            except SQLAlchemyError:
                connection.invalidate()  # the server drops the lock with the connection
    finally:
        connection.close()


# --- SQLite -------------------------------------------------------------------------------


class LeaseLock:
    """A SQLite lock row held under a renewable lease."""

    def __init__(self, engine: Engine, name: str, owner: str, lease_s: float) -> None:
        self.engine = engine
        self.name = name
        self.owner = owner
        self.lease_s = lease_s

    def check(self) -> None:
        """Renew the lease if this process still holds the lock; raise LockLost otherwise."""
        now = utc_now()
        with self.engine.begin() as connection:
            renewed = connection.execute(
                update(RunLockRow)
                .where(RunLockRow.scope_key == self.name, RunLockRow.owner == self.owner)
                .values(expires_at=now + timedelta(seconds=self.lease_s))
            ).rowcount
        if renewed != 1:
            raise LockLost(f"the run lock of {self.name} was taken over by another process "
                           "(the lease ran out)")

    def release(self) -> None:
        """Give the lock back, if still held."""
        _HELD.discard(self.owner)
        with self.engine.begin() as connection:
            connection.execute(
                update(RunLockRow)
                .where(RunLockRow.scope_key == self.name, RunLockRow.owner == self.owner)
                .values(owner=None, host=None, pid=None, acquired_at=None, expires_at=None)
            )


def _try_claim(engine: Engine, name: str, owner: str, lease_s: float) -> str | None:
    """Claim the lock row; None on success, else a description of the holder."""
    # Ours from the moment the claim may commit, so that no thread of this process
    # takes the row for a dead predecessor's (its pid is ours).
    _HELD.add(owner)
    try:
        holder = _claim(engine, name, owner, lease_s)
    except BaseException:
        _HELD.discard(owner)
        raise
    if holder is not None:
        _HELD.discard(owner)
    return holder


def _claim(engine: Engine, name: str, owner: str, lease_s: float) -> str | None:
    host, pid = socket.gethostname(), os.getpid()
    now = utc_now()
    claim = {"owner": owner, "host": host, "pid": pid, "acquired_at": now,
             "expires_at": now + timedelta(seconds=lease_s)}
    with engine.begin() as connection:
        connection.execute(sqlite_insert(RunLockRow).values(scope_key=name)
                           .on_conflict_do_nothing())
        free = (RunLockRow.owner.is_(None)) | (RunLockRow.expires_at < now)
        taken = connection.execute(
            update(RunLockRow).where(RunLockRow.scope_key == name, free).values(**claim)
        ).rowcount
        if taken == 1:
            return None
        holder = connection.execute(
            select(RunLockRow.owner, RunLockRow.host, RunLockRow.pid, RunLockRow.expires_at)
            .where(RunLockRow.scope_key == name)
        ).one()
        if _holder_gone(holder.host, holder.pid, holder.owner):
            taken = connection.execute(
                update(RunLockRow)
                .where(RunLockRow.scope_key == name, RunLockRow.owner == holder.owner)
                .values(**claim)
            ).rowcount
            if taken == 1:
                return None
    until: datetime | None = holder.expires_at
    return (f"held by {holder.owner}"
            + (f" until {until:%Y-%m-%d %H:%M:%S} UTC unless renewed" if until else ""))


@contextmanager
def _lease_lock(engine: Engine, name: str, owner: str, *, lease_s: float, wait_s: float,
                poll_s: float) -> Iterator[LeaseLock]:
    deadline = time.monotonic() + wait_s
    while True:
        try:
            holder = _try_claim(engine, name, owner, lease_s)
        except OperationalError as exc:  # the database stayed write-locked past the timeout
            holder = f"unknown (the database is busy: {exc.orig})"
        if holder is None:
            break
        if time.monotonic() >= deadline:
            raise ScopeLocked(f"another run holds the run lock of {name}: {holder}")
        time.sleep(poll_s)
    lock = LeaseLock(engine, name, owner, lease_s)
    try:
        yield lock
    finally:
        lock.release()


@contextmanager
def kept_alive(lock: RunLock, every_s: float) -> Iterator[None]:
    """Renew a SQLite lock's lease every ``every_s`` seconds in the background for the block.

    A long step (planning can take minutes) would otherwise let the lease run out
    while the run is alive. A PostgreSQL advisory lock needs no renewal (its
    connection is not shared with another thread either).
    """
    if not isinstance(lock, LeaseLock):
        yield
        return
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(every_s):
            try:
                lock.check()
            except LockLost:
                return  # the run's own next check stops it
            except SQLAlchemyError:
                continue  # a busy database: try at the next beat, well within the lease

    thread = threading.Thread(target=beat, name=f"lease-{lock.name}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5.0)


def holder_alive(session: Session, provider: str, scope: str) -> bool:
    """Whether some live process may hold the scope's run lock, read in ``session``.

    PostgreSQL: whether ``pg_locks`` shows the advisory lock granted (the server
    drops it with the connection of a dead process). SQLite: the lock row is held,
    its lease has not run out, and its holder is not known to be gone. Call it in
    a transaction that writes (on SQLite, the write lock then keeps anyone from
    taking the lock meanwhile).
    """
    name = lock_name(provider, scope)
    if session.get_bind().dialect.name == "postgresql":
        return bool(session.execute(text(_ADVISORY_HELD), {"name": name}).scalar_one())
    row = session.get(RunLockRow, name)
    if row is None or row.owner is None:
        return False
    if row.expires_at is not None and row.expires_at < utc_now():
        return False
    return not _holder_gone(row.host, row.pid, row.owner)


@contextmanager
def run_lock(
    engine: Engine, provider: str, scope: str, *, lease_s: float = 900.0, wait_s: float = 0.0,
    poll_s: float = 0.5,
) -> Iterator[RunLock]:
    """Hold the scope's run lock for the block; ScopeLocked if not had within ``wait_s``."""
    name, owner = lock_name(provider, scope), owner_token()
    if engine.dialect.name == "postgresql":
        with _advisory_lock(engine, name, owner, wait_s=wait_s, poll_s=poll_s) as lock:
            yield lock
    else:
        with _lease_lock(engine, name, owner, lease_s=lease_s, wait_s=wait_s,
                         poll_s=poll_s) as held:
            yield held
