"""``/v1/keys`` and API-key authentication: hashed keys, roles, revocation, both headers."""

from __future__ import annotations

import logging
import stat
from datetime import timedelta
from pathlib import Path

import pytest
from api_factories import PEPPER, assert_problem, build_app, make_key
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from api.app import create_app
from api.keys.service import UnpepperedKey, authenticate, create_key, key_hash
from api.roles import Role
from core.db.models import ApiKeyRow, AuditEntryRow, utc_now
from core.settings import PEPPER_FILENAME, Settings, with_api_key_pepper


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


# --- authentication -----------------------------------------------------------------------


def test_key_is_stored_only_as_its_keyed_hash(session: Session) -> None:
    key = make_key(session, role=Role.VIEWER, name="dana")

    row = session.scalars(select(ApiKeyRow).where(ApiKeyRow.name == "dana")).one()
    assert key not in (row.hash, row.prefix)
    assert key.split("_")[1] == row.prefix
    assert row.hash == key_hash(key, PEPPER)
    assert row.hash != key_hash(key, "another pepper")


def test_key_works_as_bearer_and_as_x_api_key(client: TestClient, keys: dict[Role, str]) -> None:
    assert client.get("/v1/plans", headers=_bearer(keys[Role.VIEWER])).status_code == 200
    assert client.get("/v1/plans", headers={"X-API-Key": keys[Role.VIEWER]}).status_code == 200


def test_a_key_with_a_wrong_secret_is_401(client: TestClient, keys: dict[Role, str]) -> None:
    key = keys[Role.ADMIN]
    tampered = key[:-1] + ("A" if key[-1] != "A" else "B")

    assert_problem(client.get("/v1/plans", headers=_bearer(tampered)), 401)
    assert_problem(client.get("/v1/plans", headers=_bearer("not-a-key")), 401)
    assert_problem(client.get("/v1/plans", headers={"Authorization": f"Basic {key}"}), 401)


def test_the_pepper_is_part_of_the_hash(session: Session) -> None:
    key = make_key(session, role=Role.VIEWER, name="erin")

    assert authenticate(session, key, pepper=PEPPER) is not None
    assert authenticate(session, key, pepper="pepper") is None


# --- the pepper -----------------------------------------------------------------------------


def test_without_a_configured_pepper_one_is_generated_once_readable_by_its_owner_only(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.api_key_pepper.get_secret_value() == ""
    with caplog.at_level(logging.WARNING, logger="ladder.settings"):
        first = with_api_key_pepper(settings)
    pepper = first.api_key_pepper.get_secret_value()
    assert len(pepper) >= 40
    assert "LADDER_API_KEY_PEPPER is not set" in caplog.text
    path = tmp_path / PEPPER_FILENAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().strip() == pepper
    assert first.api_key_unpeppered_before is not None
    again = with_api_key_pepper(Settings(data_dir=tmp_path))
    assert again.api_key_pepper.get_secret_value() == pepper  # read back, not replaced
    assert [p.name for p in tmp_path.iterdir()] == [PEPPER_FILENAME]


def test_a_configured_pepper_is_used_as_is(tmp_path: Path) -> None:
    settings = with_api_key_pepper(Settings(data_dir=tmp_path,
                                            api_key_pepper=SecretStr("configured")))
    assert settings.api_key_pepper.get_secret_value() == "configured"
    assert settings.api_key_unpeppered_before is None
    assert not (tmp_path / PEPPER_FILENAME).exists()


def test_the_app_never_serves_with_an_empty_pepper(engine: Engine, tmp_path: Path) -> None:
    app = build_app(engine, None, launcher=None)
    assert app.state.settings.api_key_pepper.get_secret_value() == PEPPER
    generated = create_app(Settings(data_dir=tmp_path), engine=engine, migrate_on_start=False)
    assert generated.state.settings.api_key_pepper.get_secret_value() == (
        tmp_path / PEPPER_FILENAME).read_text().strip()


def test_a_key_made_before_the_pepper_keeps_working_and_is_rehashed(session: Session) -> None:
    legacy = create_key(session, name="old-timer", role=Role.VIEWER, pepper="", actor="test").key
    since = utc_now() + timedelta(seconds=1)  # the pepper came after the key

    caller = authenticate(session, legacy, pepper=PEPPER, unpeppered_before=since)
    assert caller is not None and caller.name == "old-timer"
    row = session.scalars(select(ApiKeyRow).where(ApiKeyRow.name == "old-timer")).one()
    session.refresh(row)
    assert row.hash == key_hash(legacy, PEPPER)
    assert session.scalars(select(AuditEntryRow.event).where(
        AuditEntryRow.subject == f"api_key:{row.id}")).all()[-1] == "api_key.rehash"
    # Re-hashed: it no longer depends on the allowance for keys made without a pepper.
    assert authenticate(session, legacy, pepper=PEPPER) is not None
    assert authenticate(session, legacy, pepper="") is None


def test_an_unpeppered_key_made_after_the_pepper_is_refused_saying_what_to_do(
    session: Session, client: TestClient
) -> None:
    late = create_key(session, name="latecomer", role=Role.VIEWER, pepper="", actor="test").key
    with pytest.raises(UnpepperedKey):
        authenticate(session, late, pepper=PEPPER, unpeppered_before=utc_now() - timedelta(1))
    problem = assert_problem(client.get("/v1/plans", headers=_bearer(late)), 401)
    assert "without the server's pepper" in problem["detail"]


def test_use_of_a_key_is_recorded(client: TestClient, session: Session,
                                  keys: dict[Role, str]) -> None:
    client.get("/v1/plans", headers=_bearer(keys[Role.FINANCE]))

    row = session.scalars(select(ApiKeyRow).where(ApiKeyRow.role == "finance")).one()
    assert row.last_used_at is not None


# --- GET /v1/keys ---------------------------------------------------------------------------


def test_list_keys_shows_every_active_key_but_never_a_key_or_hash(
    client: TestClient, headers: dict[Role, dict[str, str]], keys: dict[Role, str]
) -> None:
    response = client.get("/v1/keys", headers=headers[Role.ADMIN])

    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 4
    assert {item["role"] for item in body["items"]} == {str(role) for role in Role}
    for key in keys.values():
        assert key not in response.text
    assert "hash" not in body["items"][0]


def test_list_keys_rejects_a_bad_limit(client: TestClient,
                                       headers: dict[Role, dict[str, str]]) -> None:
    body = assert_problem(client.get("/v1/keys?limit=501", headers=headers[Role.ADMIN]), 422)
    assert body["errors"][0]["field"] == "limit"


# --- POST /v1/keys ------------------------------------------------------------------------


def test_created_key_is_shown_once_and_works(
    client: TestClient, session: Session, headers: dict[Role, dict[str, str]]
) -> None:
    response = client.post("/v1/keys", headers=headers[Role.ADMIN],
                           json={"name": "frank", "role": "approver"})

    assert response.status_code == 201
    created = response.json()
    assert created["role"] == "approver" and created["key"].startswith("ladder_")
    listed = client.get(f"/v1/keys/{created['id']}", headers=headers[Role.ADMIN]).json()
    assert "key" not in listed
    assert client.get("/v1/plans", headers=_bearer(created["key"])).status_code == 200
    entry = session.scalars(select(AuditEntryRow).where(AuditEntryRow.event == "api_key.create",
                                                       AuditEntryRow.subject ==
                                                       f"api_key:{created['id']}")).one()
    assert entry.actor == "admin-holder"
    assert created["key"] not in str(entry.data)


def test_create_key_rejects_an_unknown_role_and_a_reserved_name(
    client: TestClient, headers: dict[Role, dict[str, str]]
) -> None:
    admin = headers[Role.ADMIN]
    body = assert_problem(client.post("/v1/keys", headers=admin,
                                      json={"name": "gina", "role": "boss"}), 422)
    assert body["errors"][0]["field"] == "role"
    assert_problem(client.post("/v1/keys", headers=admin,
                               json={"name": "policy", "role": "viewer"}), 422)
    assert_problem(client.post("/v1/keys", headers=admin, json={"role": "viewer"}), 422)


# --- GET /v1/keys/{key_id} ------------------------------------------------------------------


def test_show_a_missing_key_is_404(client: TestClient,
                                   headers: dict[Role, dict[str, str]]) -> None:
    assert_problem(client.get("/v1/keys/424242", headers=headers[Role.ADMIN]), 404)
    assert_problem(client.get("/v1/keys/0", headers=headers[Role.ADMIN]), 422)


# --- DELETE /v1/keys/{key_id} ----------------------------------------------------------------


def test_revoked_key_stops_working_at_once(
    client: TestClient, session: Session, headers: dict[Role, dict[str, str]]
) -> None:
    key = make_key(session, role=Role.VIEWER, name="hank")
    key_id = session.scalars(select(ApiKeyRow.id).where(ApiKeyRow.name == "hank")).one()

    response = client.delete(f"/v1/keys/{key_id}", headers=headers[Role.ADMIN])

    assert response.status_code == 200
    assert response.json()["revoked_at"] is not None
    assert_problem(client.get("/v1/plans", headers=_bearer(key)), 401)
    assert_problem(client.delete(f"/v1/keys/{key_id}", headers=headers[Role.ADMIN]), 409)
    assert_problem(client.delete("/v1/keys/424242", headers=headers[Role.ADMIN]), 404)
