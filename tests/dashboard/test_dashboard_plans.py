"""Plan review: forms for those who may decide, CSRF, and decisions through the API's service."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from dashboard_fixtures import Seeded
from fastapi.testclient import TestClient
from page_parsing import parse

from api.roles import Role
from core.db.session import session_scope
from executor import audit

Signed = Callable[[Role], TestClient]


def _plan(client: TestClient, seeded: Seeded, plan_id: int) -> dict[str, object]:
    response = client.get(f"/v1/plans/{plan_id}", headers={"X-API-Key": seeded.keys[Role.ADMIN]})
    assert response.status_code == 200
    body: dict[str, object] = response.json()
    return body


def _token(client: TestClient, plan_id: int) -> str:
    forms = parse(client.get(f"/plans/{plan_id}").text).forms
    return next(f.fields["csrf_token"] for f in forms if f.attrs.get("data-action") == "approve")


@pytest.mark.parametrize("role", [Role.APPROVER, Role.ADMIN])
def test_those_who_may_decide_see_an_approve_and_a_reject_form(
    signed_in: Signed, fresh_plan: int, role: Role
) -> None:
    forms = {f.attrs.get("data-action"): f for f in parse(
        signed_in(role).get(f"/plans/{fresh_plan}").text).forms}

    assert {"approve", "reject"} <= set(forms)
    for action in ("approve", "reject"):
        form = forms[action]
        assert form.attrs["method"] == "post"
        assert form.attrs["action"] == f"/plans/{fresh_plan}/{action}"
        assert "reason" in form.fields and form.fields["csrf_token"]


@pytest.mark.parametrize("role", [Role.VIEWER, Role.FINANCE])
def test_viewers_and_finance_see_the_plan_but_no_form(
    signed_in: Signed, fresh_plan: int, role: Role
) -> None:
    response = signed_in(role).get(f"/plans/{fresh_plan}")

    assert response.status_code == 200
    parsed = parse(response.text)
    assert parsed.figures and "actions" in parsed.tables
    assert not [f for f in parsed.forms if f.attrs.get("data-action")]


def test_an_approver_approves_through_the_form(signed_in: Signed, seeded: Seeded,
                                               fresh_plan: int) -> None:
    client = signed_in(Role.APPROVER)
    response = client.post(f"/plans/{fresh_plan}/approve", follow_redirects=False, data={
        "csrf_token": _token(client, fresh_plan), "reason": "reviewed with finance"})

    assert response.status_code == 303
    page = client.get(response.headers["location"])
    assert "Plan approved." in page.text
    plan = _plan(client, seeded, fresh_plan)
    assert plan["status"] == "approved" and plan["approved_by"] == "approver-holder"
    with session_scope(seeded.engine) as session:
        entries = audit.list_entries(session, subject=f"plan:{fresh_plan}")
    assert any("reviewed with finance" in e.reason and e.actor == "approver-holder"
               for e in entries)


def test_an_approver_rejects_through_the_form_with_a_reason(
    signed_in: Signed, seeded: Seeded, fresh_plan: int
) -> None:
    client = signed_in(Role.APPROVER)
    response = client.post(f"/plans/{fresh_plan}/reject", follow_redirects=False, data={
        "csrf_token": _token(client, fresh_plan), "reason": "too much upfront"})

    assert response.status_code == 303
    plan = _plan(client, seeded, fresh_plan)
    assert plan["status"] == "rejected" and "too much upfront" in str(plan["status_reason"])


def test_a_rejection_without_a_reason_is_refused_and_changes_nothing(
    signed_in: Signed, seeded: Seeded, fresh_plan: int
) -> None:
    client = signed_in(Role.APPROVER)
    response = client.post(f"/plans/{fresh_plan}/reject", data={
        "csrf_token": _token(client, fresh_plan), "reason": ""})

    assert response.status_code == 422 and "data-error" in response.text
    assert _plan(client, seeded, fresh_plan)["status"] == "proposed"


def test_a_decision_on_a_decided_plan_is_refused_with_the_reason(
    signed_in: Signed, seeded: Seeded, fresh_plan: int
) -> None:
    client = signed_in(Role.APPROVER)
    token = _token(client, fresh_plan)
    client.post(f"/plans/{fresh_plan}/reject", data={"csrf_token": token, "reason": "no"})

    response = client.post(f"/plans/{fresh_plan}/approve", data={"csrf_token": token,
                                                                  "reason": ""})

    assert response.status_code == 409 and "data-error" in response.text
    assert _plan(client, seeded, fresh_plan)["status"] == "rejected"


@pytest.mark.parametrize("token", [None, "", "forged-token"])
@pytest.mark.parametrize("action", ["approve", "reject"])
def test_a_post_without_the_session_s_csrf_token_is_refused(
    signed_in: Signed, seeded: Seeded, fresh_plan: int, token: str | None, action: str
) -> None:
    client = signed_in(Role.APPROVER)
    data = {"reason": "forged"} | ({} if token is None else {"csrf_token": token})

    response = client.post(f"/plans/{fresh_plan}/{action}", data=data)

    assert response.status_code == 403
    assert _plan(client, seeded, fresh_plan)["status"] == "proposed"


def test_a_json_post_is_refused(signed_in: Signed, seeded: Seeded, fresh_plan: int) -> None:
    client = signed_in(Role.APPROVER)
    response = client.post(f"/plans/{fresh_plan}/approve",
                           json={"csrf_token": _token(client, fresh_plan), "reason": "x"})
    assert response.status_code == 403
    assert _plan(client, seeded, fresh_plan)["status"] == "proposed"


@pytest.mark.parametrize("role", [Role.VIEWER, Role.FINANCE])
def test_a_role_that_may_not_decide_is_refused_even_with_its_own_token(
    signed_in: Signed, seeded: Seeded, fresh_plan: int, role: Role
) -> None:
    client = signed_in(role)
    forms = parse(client.get("/plans").text).forms
    token = next(f.fields["csrf_token"] for f in forms if f.attrs.get("action") == "/logout")

    response = client.post(f"/plans/{fresh_plan}/approve", data={"csrf_token": token,
                                                                  "reason": "me too"})

    assert response.status_code == 403 and f"The {role} role" in response.text
    assert _plan(client, seeded, fresh_plan)["status"] == "proposed"


def test_a_post_without_a_session_is_refused(client: TestClient, seeded: Seeded,
                                             fresh_plan: int) -> None:
    response = client.post(f"/plans/{fresh_plan}/approve", data={"reason": "anonymous"})
    assert response.status_code == 403
    assert _plan(client, seeded, fresh_plan)["status"] == "proposed"


def test_a_missing_plan_is_a_404_page(signed_in: Signed) -> None:
    response = signed_in(Role.VIEWER).get("/plans/424242")
    assert response.status_code == 404 and "There is no plan 424242" in response.text
