"""Fixtures of the API tests: the app on the test's session, keys of every role, a client.

The app's session dependency is overridden with the test's ``session`` (a
savepoint of a transaction rolled back after the test) with the production
semantics: committed when the route returns, rolled back when it raises. So
every test runs on SQLite and, with ``LADDER_TEST_DATABASE_URL``, on PostgreSQL.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_factories import RecordingLauncher, build_app, make_key, use_session
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from api.roles import Role

# The reporting tests' hand-computed fixture, as pytest would put it on the path.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "reporting"))


@pytest.fixture
def launcher() -> RecordingLauncher:
    """The launcher the app starts runs with."""
    return RecordingLauncher()


@pytest.fixture(scope="session")
def shared_app(database: Any) -> FastAPI:
    """One app per backend for the whole session: building one takes a fifth of a second."""
    return build_app(database.engine, None, launcher=None)


@pytest.fixture
def app(shared_app: FastAPI, session: Session, launcher: RecordingLauncher) -> Iterator[FastAPI]:
    """The API on the test's session, with a recording run launcher."""
    use_session(shared_app, session)
    shared_app.state.run_launcher = launcher
    try:
        yield shared_app
    finally:
        shared_app.dependency_overrides.clear()
        shared_app.state.run_launcher = None


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
