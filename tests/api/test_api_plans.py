"""``/v1/plans``: list, show with actions and reasons, approve and reject (approver role)."""

from __future__ import annotations

from datetime import timedelta

from api_factories import assert_problem, make_policy, store_plan
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.roles import Role
from core.db.models import AuditEntryRow, PlanRow, utc_now

Headers = dict[Role, dict[str, str]]


# --- GET /v1/plans ----------------------------------------------------------------------------


def test_list_plans_newest_first_with_total_and_pagination(
    client: TestClient, session: Session, headers: Headers
) -> None:
    now = utc_now()
    ids = [store_plan(session, created_at=now - timedelta(hours=hours)) for hours in (3, 2, 1)]

    response = client.get("/v1/plans?limit=2&offset=0", headers=headers[Role.VIEWER])

    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 3 and body["limit"] == 2 and body["offset"] == 0
    assert [item["id"] for item in body["items"]] == [ids[2], ids[1]]
    assert body["items"][0]["actions_count"] == 2
    second = client.get("/v1/plans?limit=2&offset=2", headers=headers[Role.VIEWER]).json()
    assert [item["id"] for item in second["items"]] == [ids[0]]


def test_list_plans_filters_by_status_provider_scope_and_period(
    client: TestClient, session: Session, headers: Headers
) -> None:
    old = store_plan(session, created_at=utc_now() - timedelta(days=40), status="rejected")
    recent = store_plan(session, scope="prod")
    store_plan(session, provider="aws")
    viewer = headers[Role.VIEWER]

    def ids(query: str) -> list[int]:
        response = client.get(f"/v1/plans?{query}", headers=viewer)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    today = utc_now().date()
    assert ids("status=rejected") == [old]
    assert ids("scope=prod") == [recent]
    assert len(ids("provider=sample")) == 2
    assert ids(f"end={today - timedelta(days=30)}") == [old]
    assert old not in ids(f"start={today - timedelta(days=1)}")


def test_list_plans_rejects_bad_parameters_with_problem_documents(
    client: TestClient, headers: Headers
) -> None:
    viewer = headers[Role.VIEWER]
    for query, field in (("limit=0", "limit"), ("limit=501", "limit"), ("offset=-1", "offset"),
                         ("status=bought", "status"), ("start=2025-13-01", "start"),
                         ("start=2025-02-01&end=2025-02-01", "end"),
                         ("provider=a%20b", "provider")):
        body = assert_problem(client.get(f"/v1/plans?{query}", headers=viewer), 422)
        assert [error["field"] for error in body["errors"]] == [field], query


# --- GET /v1/plans/{plan_id} ------------------------------------------------------------------


def test_show_plan_has_actions_with_reasons_and_policy_reasons(
    client: TestClient, session: Session, headers: Headers
) -> None:
    plan_id = store_plan(session, actions=3)
    plan = session.get(PlanRow, plan_id)
    assert plan is not None
    plan.policy_reasons = [{"check": "run_caps", "severity": "limit",
                            "message": "new commitment $2.00/h is over the run cap $1.00/h"}]
    session.flush()

    response = client.get(f"/v1/plans/{plan_id}", headers=headers[Role.FINANCE])

    assert response.status_code == 200
    body = response.json()
    assert [action["position"] for action in body["actions"]] == [0, 1, 2]
    assert body["actions"][1]["reason"] == "covers the low forecast of key 1"
    assert body["policy_reasons"][0]["severity"] == "limit"
    assert body["expected_savings"] == body["cost_before"] - body["cost_after"]


def test_show_a_missing_plan_is_404_and_a_bad_id_422(client: TestClient,
                                                     headers: Headers) -> None:
    assert_problem(client.get("/v1/plans/424242", headers=headers[Role.VIEWER]), 404)
    assert_problem(client.get("/v1/plans/abc", headers=headers[Role.VIEWER]), 422)


# --- POST /v1/plans/{plan_id}/approve ------------------------------------------------------


def test_approver_approves_a_plan_and_accepts_its_limit_violations(
    client: TestClient, session: Session, headers: Headers
) -> None:
    plan_id = store_plan(session)  # no policy: a limit violation an approver may accept

    response = client.post(f"/v1/plans/{plan_id}/approve", headers=headers[Role.APPROVER],
                           json={"note": "reviewed with finance"})

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["approved"] is True and body["status"] == "approved"
    assert body["plan"]["approved_by"] == "approver-holder"
    assert {v["severity"] for v in body["violations"]} == {"limit"}
    entry = session.scalars(select(AuditEntryRow).where(
        AuditEntryRow.subject == f"plan:{plan_id}", AuditEntryRow.event == "plan.status")).one()
    assert entry.actor == "approver-holder" and "reviewed with finance" in entry.reason


def test_approve_without_a_body_works(client: TestClient, session: Session,
                                      headers: Headers) -> None:
    plan_id = store_plan(session)
    response = client.post(f"/v1/plans/{plan_id}/approve", headers=headers[Role.ADMIN])
    assert response.status_code == 200 and response.json()["approved"] is True


def test_approving_a_plan_that_breaks_a_rule_is_403_policy_violation(
    client: TestClient, session: Session, headers: Headers
) -> None:
    make_policy(session, allowed_offerings=("sp-*",))
    plan_id = store_plan(session)

    body = assert_problem(client.post(f"/v1/plans/{plan_id}/approve",
                                      headers=headers[Role.APPROVER]), 403)

    assert body["type"].endswith("policy-violation")
    assert session.get(PlanRow, plan_id).status == "proposed"  # type: ignore[union-attr]
    # The refusal is audited even though the request failed (its transaction rolled back).
    refusal = session.scalars(select(AuditEntryRow).where(
        AuditEntryRow.event == "plan.approval_refused",
        AuditEntryRow.subject == f"plan:{plan_id}")).one()
    assert refusal.reason and refusal.reason in body["detail"]


def test_approving_a_stale_plan_expires_it(client: TestClient, session: Session,
                                           headers: Headers) -> None:
    plan_id = store_plan(session, created_at=utc_now() - timedelta(days=3))

    response = client.post(f"/v1/plans/{plan_id}/approve", headers=headers[Role.APPROVER])

    assert response.status_code == 200
    assert response.json()["approved"] is False and response.json()["status"] == "expired"
    assert session.get(PlanRow, plan_id).status == "expired"  # type: ignore[union-attr]


def test_approving_a_missing_or_rejected_plan_is_404_or_409(
    client: TestClient, session: Session, headers: Headers
) -> None:
    rejected = store_plan(session, status="rejected")
    approver = headers[Role.APPROVER]
    assert_problem(client.post("/v1/plans/424242/approve", headers=approver), 404)
    assert_problem(client.post(f"/v1/plans/{rejected}/approve", headers=approver), 409)
    assert_problem(client.post(f"/v1/plans/{rejected}/approve", headers=approver,
                               json={"note": "x" * 2001}), 422)
    assert_problem(client.post(f"/v1/plans/{rejected}/approve", headers=approver,
                               json={"approved": True}), 422)


# --- POST /v1/plans/{plan_id}/reject -------------------------------------------------------


def test_approver_rejects_a_plan_with_a_reason(client: TestClient, session: Session,
                                               headers: Headers) -> None:
    plan_id = store_plan(session)

    response = client.post(f"/v1/plans/{plan_id}/reject", headers=headers[Role.APPROVER],
                           json={"reason": "usage is about to drop"})

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "rejected" and body["approved"] is False
    assert body["plan"]["status_reason"] == "usage is about to drop"
    assert_problem(client.post(f"/v1/plans/{plan_id}/reject", headers=headers[Role.APPROVER],
                               json={"reason": "again"}), 409)


def test_reject_needs_a_reason_and_an_existing_plan(client: TestClient, session: Session,
                                                    headers: Headers) -> None:
    plan_id = store_plan(session)
    approver = headers[Role.APPROVER]
    for body in ({}, {"reason": ""}, {"reason": "bad\u0000byte"}):
        assert_problem(client.post(f"/v1/plans/{plan_id}/reject", headers=approver, json=body),
                       422)
    assert_problem(client.post("/v1/plans/424242/reject", headers=approver,
                               json={"reason": "no"}), 404)
