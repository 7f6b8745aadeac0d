"""A database that is unreachable or locked: 503 with Retry-After, never a 500, never the
URL's password."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from api_factories import PROBLEM, build_app, make_key
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.roles import Role
from core.db.session import create_engine_for, migrate, session_scope
from core.settings import sqlite_url

PASSWORD = "s3cret-Pa55"
UNREACHABLE = f"postgresql+psycopg://ladder:{PASSWORD}@127.0.0.1:1/ladder?connect_timeout=2"


def _assert_unavailable(response: object) -> None:
    from httpx import Response

    assert isinstance(response, Response)
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == PROBLEM
    assert int(response.headers["Retry-After"]) > 0
    body = response.json()
    assert body["title"] == "Database unavailable" and body["status"] == 503
    assert PASSWORD not in response.text and "127.0.0.1" not in response.text


def test_an_unreachable_database_is_503_with_retry_after_and_no_password() -> None:
    engine = create_engine_for(UNREACHABLE)
    try:
        app = build_app(engine, None, launcher=None)
        with TestClient(app, raise_server_exceptions=False) as client:
            headers = {"Authorization": "Bearer ladder_0123456789ab_" + "a" * 43}
            _assert_unavailable(client.get("/v1/plans", headers=headers))
            _assert_unavailable(client.put("/v1/policies/sample/all", headers=headers,
                                           json={"policy": {}, "reason": "x"}))
            health = client.get("/healthz")
            assert health.status_code == 503 and PASSWORD not in health.text
    finally:
        engine.dispose()


def _locked_sqlite(tmp_path: Path) -> tuple[Engine, str, sqlite3.Connection]:
    """A migrated SQLite file with a key, an engine that waits 0.1 s for its write lock, and
    another connection holding that lock."""
    url = sqlite_url(tmp_path / "locked.db")
    migrate(url)
    engine = create_engine_for(url, sqlite_immediate=True, sqlite_busy_timeout_s=0.1)
    with session_scope(engine) as session:
        key = make_key(session, role=Role.ADMIN)
    holder = sqlite3.connect(tmp_path / "locked.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    return engine, key, holder


def test_a_write_on_a_locked_sqlite_database_is_503(tmp_path: Path) -> None:
    engine, key, holder = _locked_sqlite(tmp_path)
    try:
        app = build_app(engine, None, launcher=None)
        with TestClient(app, raise_server_exceptions=False) as client:
            response = client.put("/v1/policies/sample/all",
                                  headers={"Authorization": f"Bearer {key}"},
                                  json={"policy": {}, "reason": "locked"})
            _assert_unavailable(response)
            holder.execute("ROLLBACK")
            again = client.put("/v1/policies/sample/all",
                               headers={"Authorization": f"Bearer {key}"},
                               json={"policy": {}, "reason": "free again"})
            assert again.status_code == 200, again.text
    finally:
        holder.close()
        engine.dispose()


def test_the_openapi_document_names_the_503_and_its_retry_after(tmp_path: Path) -> None:
    engine = create_engine_for(sqlite_url(tmp_path / "doc.db"))
    try:
        document = build_app(engine, None, launcher=None).openapi()
    finally:
        engine.dispose()
    response = document["paths"]["/v1/plans"]["get"]["responses"]["503"]
    assert "Retry-After" in response["headers"]
