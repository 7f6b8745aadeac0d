"""Fixtures shared by the whole suite: isolated settings, and databases on both backends.

Every fixture built on ``database`` runs once on SQLite and once on PostgreSQL.
PostgreSQL needs ``LADDER_TEST_DATABASE_URL`` (for example
``postgresql+psycopg://postgres@127.0.0.1:5432/test``) and is skipped without it.
Each pytest session (each xdist worker) works in a schema of its own there,
migrated once and dropped at the end.

Which fixture to use:

* ``session``: an ORM session inside a transaction rolled back after the test;
  ``session_scope(connection)`` nests in it as a savepoint. For repository tests.
* ``db_url``: the URL of the migrated database, emptied after the test, for code
  that opens its own engine and commits (the CLI, the scheduler).
* ``ladder_settings``: ``LADDER_DATABASE_URL`` set to ``db_url``, settings re-read.
* ``empty_db_url``: a database with no tables at all (migration tests).
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, make_url, text
from sqlalchemy.orm import Session

from core.db.models import Base
from core.db.session import create_engine_for, migrate
from core.settings import Settings, get_settings, sqlite_url

POSTGRES_URL_ENV = "LADDER_TEST_DATABASE_URL"


@dataclass(frozen=True, slots=True)
class DatabaseUnderTest:
    """A migrated database for the test session: its backend, URL and engine."""

    backend: str
    url: str
    engine: Engine


def _backends() -> list[object]:
    return [
        pytest.param("sqlite", id="sqlite"),
        pytest.param(
            "postgresql",
            id="postgresql",
            marks=[
                pytest.mark.postgres,
                pytest.mark.skipif(
                    not os.environ.get(POSTGRES_URL_ENV), reason=f"{POSTGRES_URL_ENV} is not set"
                ),
            ],
        ),
    ]


def _url_in_schema(base_url: str, schema: str) -> str:
    url = make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[Engine]:
    """An engine on the PostgreSQL test database itself, to create and drop schemas."""
    url = os.environ.get(POSTGRES_URL_ENV)
    if not url:
        pytest.skip(f"{POSTGRES_URL_ENV} is not set")
    engine = create_engine_for(url)
    yield engine
    engine.dispose()


def _new_postgres_schema(admin: Engine) -> tuple[str, str]:
    schema = f"ladder_test_{uuid.uuid4().hex[:12]}"
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    return schema, _url_in_schema(admin.url.render_as_string(hide_password=False), schema)


def _drop_postgres_schema(admin: Engine, schema: str) -> None:
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


@pytest.fixture(scope="session", params=_backends())
def backend(request: pytest.FixtureRequest) -> str:
    """The backend under test: "sqlite" or "postgresql"."""
    return str(request.param)


@pytest.fixture(scope="session")
def database(
    backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DatabaseUnderTest]:
    """A database migrated to head once per session and backend."""
    if backend == "sqlite":
        url = sqlite_url(tmp_path_factory.mktemp("database") / "ladder.db")
        migrate(url)
        engine = create_engine_for(url)
        yield DatabaseUnderTest(backend, url, engine)
        engine.dispose()
        return
    admin: Engine = request.getfixturevalue("postgres_admin")
    schema, url = _new_postgres_schema(admin)
    try:
        migrate(url)
        engine = create_engine_for(url)
        yield DatabaseUnderTest(backend, url, engine)
        engine.dispose()
    finally:
        _drop_postgres_schema(admin, schema)


@pytest.fixture
def engine(database: DatabaseUnderTest) -> Engine:
    """The migrated database's engine; what it commits stays, so prefer ``session``."""
    return database.engine


@pytest.fixture
def connection(database: DatabaseUnderTest) -> Iterator[Connection]:
    """A connection inside a transaction that is rolled back after the test."""
    with database.engine.connect() as connection:
        transaction = connection.begin()
        try:
            yield connection
        finally:
            if transaction.is_active:
                transaction.rollback()


@pytest.fixture
def session(connection: Connection) -> Iterator[Session]:
    """An ORM session joined to ``connection``: its commits are savepoints, undone at the end."""
    with Session(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    ) as session:
        yield session


def _empty_tables(database: DatabaseUnderTest) -> None:
    tables = [table.name for table in reversed(Base.metadata.sorted_tables)]
    with database.engine.begin() as connection:
        if database.backend == "postgresql":
            names = ", ".join(f'"{name}"' for name in tables)
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for name in tables:
                connection.execute(text(f'DELETE FROM "{name}"'))


@pytest.fixture
def db_url(database: DatabaseUnderTest) -> Iterator[str]:
    """The URL of the migrated database, for code that makes its own engine; emptied after."""
    try:
        yield database.url
    finally:
        _empty_tables(database)


@pytest.fixture
def empty_db_url(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[str]:
    """The URL of a database without any table, dropped after the test."""
    if backend == "sqlite":
        yield sqlite_url(tmp_path / "empty.db")
        return
    admin: Engine = request.getfixturevalue("postgres_admin")
    schema, url = _new_postgres_schema(admin)
    try:
        yield url
    finally:
        _drop_postgres_schema(admin, schema)


@pytest.fixture(autouse=True)
def _isolated_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """Keep every test away from the real per-user data directory and LADDER_* variables."""
    for name in list(os.environ):
        if name.startswith("LADDER_") and name != POSTGRES_URL_ENV:
            monkeypatch.delenv(name)
    monkeypatch.setenv("LADDER_DATA_DIR", str(tmp_path_factory.getbasetemp() / "ladder-data"))
    # Never let a credential chain probe a cloud metadata service from a test.
    monkeypatch.setenv("NO_GCE_CHECK", "True")
    monkeypatch.setattr(socket.socket, "connect", _connect_unless_metadata)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


_REAL_CONNECT = socket.socket.connect
METADATA_HOSTS = {"169.254.169.254", "metadata.google.internal", "fd00:ec2::254"}


def _connect_unless_metadata(sock: socket.socket, address: object) -> None:
    """socket.connect that refuses the cloud metadata endpoints (GCE, Azure IMDS, EC2)."""
    host = address[0] if isinstance(address, tuple) else address
    if host in METADATA_HOSTS:
        raise ConnectionRefusedError(f"tests may not reach the cloud metadata service ({host})")
    _REAL_CONNECT(sock, address)  # type: ignore[arg-type]


@pytest.fixture
def ladder_settings(
    db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Settings:
    """Settings pointing at ``db_url`` and a fresh data directory, as the CLI will read them."""
    monkeypatch.setenv("LADDER_DATABASE_URL", db_url)
    monkeypatch.setenv("LADDER_DATA_DIR", str(tmp_path / "ladder-data"))
    get_settings.cache_clear()
    return get_settings()


@pytest.fixture
def no_cloud_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No credentials of any cloud: empty environment, an empty home, no metadata service."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                 "AWS_PROFILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                 "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE",
                 "GOOGLE_APPLICATION_CREDENTIALS", "AZURE_CLIENT_ID", "AZURE_TENANT_ID",
                 "AZURE_FEDERATED_TOKEN_FILE", "IDENTITY_ENDPOINT", "MSI_ENDPOINT",
                 "LADDER_AWS_PRICES", "LADDER_AZURE_PRICES", "LADDER_GCP_PRICES",
                 "LADDER_AZURE_SUBSCRIPTION_IDS", "LADDER_GCP_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(home / "gcloud"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(home / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
