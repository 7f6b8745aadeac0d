"""``/v1/keys`` and API-key authentication: hashed keys, roles, revocation, both headers."""

from __future__ import annotations

from api_factories import assert_problem, make_key
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.keys.service import authenticate, key_hash
from api.roles import Role
from core.db.models import ApiKeyRow, AuditEntryRow


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


# --- authentication -----------------------------------------------------------------------


def test_key_is_stored_only_as_its_keyed_hash(session: Session) -> None:
    key = make_key(session, role=Role.VIEWER, name="dana")

    row = session.scalars(select(ApiKeyRow).where(ApiKeyRow.name == "dana")).one()
    assert key not in (row.hash, row.prefix)
    assert key.split("_")[1] == row.prefix
    assert row.hash == key_hash(key, "")
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

    assert authenticate(session, key, pepper="") is not None
    assert authenticate(session, key, pepper="pepper") is None


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
