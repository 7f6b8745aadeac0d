"""Fixtures of the API tests: the app on the test's session, keys of every role, a client.

The app's session dependency is overridden with the test's ``session`` (a
savepoint of a transaction rolled back after the test) with the production
semantics: committed when the route returns, rolled back when it raises. So
every test runs on SQLite and, with ``LADDER_TEST_DATABASE_URL``, on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from api_factories import RecordingLauncher, build_app, make_key
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from api.roles import Role


@pytest.fixture
def launcher() -> RecordingLauncher:
    """The launcher the app starts runs with."""
    return RecordingLauncher()


@pytest.fixture
def app(engine: Engine, session: Session, launcher: RecordingLauncher) -> FastAPI:
    """The API on the test's session, with a recording run launcher."""
    return build_app(engine, session, launcher=launcher)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """A client of the app; server errors are raised in the test, not turned into 500s."""
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def keys(session: Session) -> dict[Role, str]:
    """One API key of every role, by role."""
    return {role: make_key(session, role=role, name=f"{role}-holder") for role in Role}


@pytest.fixture
def headers(keys: dict[Role, str]) -> dict[Role, dict[str, str]]:
    """The Authorization header of each role's key, by role."""
    return {role: {"Authorization": f"Bearer {key}"} for role, key in keys.items()}
