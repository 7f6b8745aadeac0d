"""Sign-in with an API key: the form, refusals, the session cookie, sign-out, revocation."""

from __future__ import annotations

from dashboard_fixtures import Seeded, sign_in
from fastapi import FastAPI
from fastapi.testclient import TestClient
from page_parsing import parse

from api.roles import Role
from core.db.session import session_scope
from dashboard.sessions import COOKIE_NAME


def _is_sign_in_form(html: str) -> bool:
    forms = parse(html).forms
    return any(form.attrs.get("action") == "/login" and "key" in form.fields for form in forms)


def test_the_overview_without_a_session_is_the_sign_in_form_and_nothing_else(
    client: TestClient
) -> None:
    response = client.get("/")

    assert response.status_code == 200
    assert _is_sign_in_form(response.text)
    parsed = parse(response.text)
    assert parsed.figures == [] and parsed.tables == {}
    assert "/plans" not in parsed.links


def test_every_page_without_a_session_asks_to_sign_in(client: TestClient) -> None:
    for path in ("/plans", "/plans/1", "/commitments", "/budgets", "/chargeback", "/runs",
                 "/audit", "/?csv=daily"):
        response = client.get(path)
        assert response.status_code == 401, path
        assert _is_sign_in_form(response.text), path
        assert not parse(response.text).figures, path


def test_a_wrong_key_is_refused_with_the_form_again(client: TestClient, seeded: Seeded) -> None:
    wrong = seeded.keys[Role.ADMIN][:-4] + "AAAA"
    for key in ("not-a-key", wrong, ""):
        response = client.post("/login", data={"key": key}, follow_redirects=False)
        assert response.status_code == 401, key
        assert _is_sign_in_form(response.text) and "data-refused" in response.text
        assert COOKIE_NAME not in response.headers.get("set-cookie", "")
        assert not parse(response.text).figures
    assert _is_sign_in_form(client.get("/").text)


def test_a_revoked_key_is_refused(client: TestClient, seeded: Seeded) -> None:
    response = client.post("/login", data={"key": seeded.revoked_key}, follow_redirects=False)

    assert response.status_code == 401 and "data-refused" in response.text
    assert _is_sign_in_form(client.get("/").text)


def test_a_valid_key_starts_an_http_only_strict_session_holding_its_role(
    client: TestClient, seeded: Seeded
) -> None:
    response = client.post("/login", data={"key": seeded.keys[Role.FINANCE], "next": "/budgets"},
                           follow_redirects=False)

    assert response.status_code == 303 and response.headers["location"] == "/budgets"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE_NAME}=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "Secure" not in cookie  # served over http here
    assert seeded.keys[Role.FINANCE] not in cookie  # the key never leaves the server again
    page = client.get("/budgets")
    assert page.status_code == 200 and "finance-holder · finance" in page.text


def test_the_cookie_is_secure_over_https(dashboard_app: FastAPI, seeded: Seeded) -> None:
    with TestClient(dashboard_app, base_url="https://testserver") as secure:
        response = secure.post("/login", data={"key": seeded.keys[Role.VIEWER]},
                               follow_redirects=False)
    assert response.status_code == 303
    assert "Secure" in response.headers["set-cookie"]


def test_sign_in_goes_back_only_to_a_path_of_this_site(client: TestClient,
                                                       seeded: Seeded) -> None:
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        response = client.post("/login", data={"key": seeded.keys[Role.VIEWER],
                                               "next": target}, follow_redirects=False)
        assert response.headers["location"] == "/", target


def test_logout_ends_the_session(client: TestClient, seeded: Seeded) -> None:
    sign_in(client, seeded.keys[Role.VIEWER])
    assert parse(client.get("/").text).figures

    response = client.get("/logout", follow_redirects=False)

    assert response.status_code == 303
    assert _is_sign_in_form(client.get("/").text)
    assert client.get("/plans").status_code == 401


def test_revoking_the_key_ends_its_sessions(client: TestClient, seeded: Seeded) -> None:
    with session_scope(seeded.engine) as session:
        from api.keys.service import create_key, revoke_key

        made = create_key(session, name="temporary", role=Role.ADMIN,
                          pepper="pepper-of-the-tests", actor="test")
    sign_in(client, made.key)
    assert client.get("/audit").status_code == 200

    with session_scope(seeded.engine) as session:
        revoke_key(session, made.row.id, actor="test")

    assert client.get("/audit").status_code == 401
    assert _is_sign_in_form(client.get("/").text)
