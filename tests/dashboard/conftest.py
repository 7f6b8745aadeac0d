"""Fixtures of the dashboard tests: a database seeded with the bundled sample (SQLite, and
PostgreSQL with ``LADDER_TEST_DATABASE_URL``), keys of every role, the app on it, clients
signed in by role, and fresh plans to decide.

The database is made once per test session (ingesting the sample and building its
reporting facts takes seconds); tests that change it decide plans of their own
(``fresh_plan``), so they never disturb each other.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

# The API tests' factories, as pytest would put them on the path.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "api"))

from api_factories import build_app, make_key
from dashboard_fixtures import Seeded, add_plan, seed_sample, sign_in

from api.keys.repository import find_by_prefix
from api.keys.service import revoke_key
from api.roles import Role
from core.db.session import create_engine_for, migrate, session_scope
from core.settings import sqlite_url


def _schema_url(admin: Engine, schema: str) -> str:
    url = admin.url.update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def seeded(backend: str, request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """The sample in a database of the session (SQLite, and PostgreSQL in a schema of its own
    when ``LADDER_TEST_DATABASE_URL`` is set), with keys of every role."""
    schema = f"ladder_dashboard_{uuid.uuid4().hex[:12]}"
    admin: Engine | None = None
    if backend == "sqlite":
        url = sqlite_url(tmp_path_factory.mktemp("dashboard") / "ladder.db")
    else:
        admin = request.getfixturevalue("postgres_admin")
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = _schema_url(admin, schema)
    migrate(url)
    engine = create_engine_for(url)
    with session_scope(engine) as session:
        seed_sample(session)
        keys = {role: make_key(session, role=role, name=f"{role}-holder") for role in Role}
        revoked = make_key(session, role=Role.ADMIN, name="gone")
        plan_id = add_plan(session)
    with session_scope(engine) as session:
        prefix = revoked.split("_")[1]
        found = find_by_prefix(session, prefix)
        assert found is not None
        revoke_key(session, found.id, actor="test")
    yield Seeded(url, engine, keys, revoked, plan_id)
    engine.dispose()
    if admin is not None:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


@pytest.fixture(scope="session")
def dashboard_app(seeded: Seeded) -> FastAPI:
    """The app (API and dashboard) on the seeded database."""
    return build_app(seeded.engine, None, launcher=None)


@pytest.fixture
def client(dashboard_app: FastAPI) -> Iterator[TestClient]:
    """A client with cookies of its own, signed in as no one."""
    with TestClient(dashboard_app) as test_client:
        yield test_client


@pytest.fixture
def signed_in(client: TestClient, seeded: Seeded) -> Callable[[Role], TestClient]:
    """``signed_in(role)``: the client, signed in with that role's key."""

    def as_role(role: Role) -> TestClient:
        sign_in(client, seeded.keys[role])
        return client

    return as_role


@pytest.fixture
def fresh_plan(seeded: Seeded) -> int:
    """A proposed plan of the test's own."""
    with session_scope(seeded.engine) as session:
        return add_plan(session)
