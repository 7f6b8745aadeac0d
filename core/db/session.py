"""Engines, sessions and migrations for SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import URL, Connection, Engine, create_engine, event, make_url, text
from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

import core.migrations
from core.errors import DatabaseUnavailable

MIGRATIONS_DIR = Path(core.migrations.__file__).resolve().parent

# Any constant works; it only has to be the same for every Ladder process.
_MIGRATION_LOCK_ID = 0x4C414444  # "LADD"


RETRY_AFTER_S = 5
"""What a caller is told to wait before trying again when the database is unavailable."""

_SQLITE_UNAVAILABLE = ("database is locked", "database table is locked", "database is busy",
                       "unable to open database file", "disk i/o error")
"""SQLite's messages of a database that is there but cannot be used now; its other
``OperationalError`` messages (no such table, syntax) are bugs, not unavailability."""


def redact(text: str, *urls: str | URL) -> str:
    """``text`` with the password of each URL replaced by ``***``."""
    for url in urls:
        try:
            password = make_url(url).password
        except Exception:  # not a URL: nothing of it can be in the text
            continue
        if password:
            text = text.replace(str(password), "***")
    return text


def shown_url(url: str | URL) -> str:
    """The URL as it may be shown: its password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(a database URL that cannot be parsed)"


def database_unavailable(exc: BaseException,
                         url: str | URL | None = None) -> DatabaseUnavailable | None:
    """The :class:`DatabaseUnavailable` a database error means, or None if it means another
    failure: unreachable (connection refused, dropped, timed out), locked or busy, the
    connection pool exhausted. The message names the cause, never the password."""
    if isinstance(exc, DatabaseUnavailable):
        return exc
    if not isinstance(exc, SQLAlchemyError):
        return None
    original = getattr(exc, "orig", None)
    cause = str(original if original is not None else exc).strip().splitlines()
    detail = cause[0] if cause else type(exc).__name__
    if isinstance(exc, PoolTimeout):
        detail = "every connection of the pool is busy"
    elif isinstance(exc, DBAPIError) and exc.connection_invalidated:
        pass
    elif isinstance(exc, OperationalError):
        sqlite = type(original).__module__.startswith("sqlite3")
        if sqlite and not any(m in detail.lower() for m in _SQLITE_UNAVAILABLE):
            return None
    elif not isinstance(exc, InterfaceError | DisconnectionError):
        return None
    where = f" ({shown_url(url)})" if url is not None else ""
    detail = redact(detail, *(() if url is None else (url,)))
    return DatabaseUnavailable(f"the database{where} is unavailable: {detail}",
                               retry_after_s=RETRY_AFTER_S)


def _is_sqlite_memory(url: URL) -> bool:
    return url.database in (None, "", ":memory:") or url.query.get("mode") == "memory"


def create_engine_for(
    url: str | URL,
    *,
    sqlite_immediate: bool = False,
    sqlite_busy_timeout_s: float = 5.0,
    **kwargs: Any,
) -> Engine:
    """Create an engine for a database URL, configured for Ladder.

    SQLite gets foreign keys enforced, write-ahead logging with ``synchronous=NORMAL``
    (file databases), a busy timeout, and real transactions: SQLAlchemy emits
    ``BEGIN`` itself, so reads are repeatable and savepoints nest (the sqlite3
    driver's legacy mode does neither). An in-memory database uses one shared
    connection. Other backends get ``pool_pre_ping``. ``kwargs`` go to
    ``sqlalchemy.create_engine``.

    ``sqlite_immediate`` makes every SQLite transaction ``BEGIN IMMEDIATE``: it takes
    the write lock at once, so that processes sharing the file queue on the busy
    timeout instead of failing when a transaction that has read tries to write
    after another process committed (SQLite's stale-snapshot error). Processes that
    run concurrently (``ladder run``, ``ladder serve``) use it with a longer
    ``sqlite_busy_timeout_s``.
    """
    url = make_url(url)
    if url.get_backend_name() != "sqlite":
        kwargs.setdefault("pool_pre_ping", True)
        return create_engine(url, **kwargs)

    memory = _is_sqlite_memory(url)
    if memory:
        kwargs.setdefault("poolclass", StaticPool)
        kwargs.setdefault("connect_args", {"check_same_thread": False})
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN (below)
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(sqlite_busy_timeout_s * 1000)}")
            if not memory:
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _begin_sqlite(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE" if sqlite_immediate else "BEGIN")

    return engine


@contextmanager
def session_scope(bind: Engine | Connection) -> Iterator[Session]:
    """A session in one transaction: committed when the block ends, rolled back on error.

    Objects stay readable after the commit (``expire_on_commit=False``). Given a
    ``Connection`` already inside a transaction, the session works in a savepoint
    of it, so that a test can roll everything back at its end.
    """
    with (
        Session(
            bind=bind,
            expire_on_commit=False,
            join_transaction_mode="create_savepoint",
        ) as session,
        session.begin(),
    ):
        yield session


def alembic_config(url: str | URL | None = None) -> Config:
    """An Alembic configuration for Ladder's migrations, without any ini file."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        # ConfigParser interpolates '%': URL-escaped passwords would break without doubling.
        rendered = make_url(url).render_as_string(hide_password=False)
        config.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    return config


def _set_sqlite_foreign_keys(connection: Connection, *, enabled: bool) -> None:
    # The pragma is a no-op inside a transaction, so it goes to the driver connection
    # directly, outside SQLAlchemy's BEGIN.
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(f"PRAGMA foreign_keys={'ON' if enabled else 'OFF'}")
    finally:
        cursor.close()


def migrate(target: str | URL | Engine, revision: str = "head") -> None:
    """Upgrade the database to ``revision`` (Alembic ``upgrade head``); a no-op when current.

    On SQLite, foreign keys are off during the migration, as batch migrations
    recreate tables, and checked before the commit. On PostgreSQL, an advisory
    lock serialises concurrent migrations (the scheduler and the API starting
    together).
    """
    engine = target if isinstance(target, Engine) else create_engine_for(target)
    sqlite = engine.dialect.name == "sqlite"
    try:
        with engine.connect() as connection:
            if sqlite:
                _set_sqlite_foreign_keys(connection, enabled=False)
            try:
                with connection.begin():
                    if engine.dialect.name == "postgresql":
                        connection.execute(
                            text("SELECT pg_advisory_xact_lock(:lock)"),
                            {"lock": _MIGRATION_LOCK_ID},
                        )
                    config = alembic_config()
                    config.attributes["connection"] = connection
                    command.upgrade(config, revision)
                    if sqlite:
                        violations = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                        if violations:
                            raise RuntimeError(
                                f"migration to {revision} broke foreign keys: {violations[:5]}"
                            )
            finally:
                if sqlite:
                    _set_sqlite_foreign_keys(connection, enabled=True)
    finally:
        if engine is not target:
            engine.dispose()
