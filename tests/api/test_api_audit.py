"""``/v1/audit``: list and filter entries, show one, verify the chain."""

from __future__ import annotations

from api_factories import assert_problem, make_policy, store_plan
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from api.roles import Role
from executor import audit

Headers = dict[Role, dict[str, str]]


# --- GET /v1/audit ------------------------------------------------------------------------------


def test_list_audit_entries_newest_first_with_filters(client: TestClient, session: Session,
                                                      headers: Headers) -> None:
    make_policy(session)
    plan_id = store_plan(session)
    client.post(f"/v1/plans/{plan_id}/reject", headers=headers[Role.APPROVER],
                json={"reason": "not now"})
    finance = headers[Role.FINANCE]

    body = client.get("/v1/audit", headers=finance).json()
    seqs = [item["seq"] for item in body["items"]]
    assert seqs == sorted(seqs, reverse=True) and body["total"] == len(seqs)
    about_plan = client.get(f"/v1/audit?subject=plan:{plan_id}", headers=finance).json()
    assert [item["event"] for item in about_plan["items"]] == ["plan.status"]
    assert about_plan["items"][0]["actor"] == "approver-holder"
    assert client.get("/v1/audit?event=policy.update", headers=finance).json()["total"] == 1
    assert client.get("/v1/audit?actor=approver-holder",
                      headers=finance).json()["total"] == 1


def test_list_audit_rejects_bad_parameters(client: TestClient, headers: Headers) -> None:
    for query in ("event=Plan%20Status", "subject=a%20b", "start=2026-01-02&end=2026-01-01",
                  "offset=1000001"):
        assert_problem(client.get(f"/v1/audit?{query}", headers=headers[Role.ADMIN]), 422)


# --- GET /v1/audit/{seq} ------------------------------------------------------------------------


def test_show_entry_and_missing_entry(client: TestClient, session: Session,
                                      headers: Headers) -> None:
    entry = audit.append(session, actor="alice", event="test.event", subject="test:1",
                         reason="because", data={"x": 1})

    response = client.get(f"/v1/audit/{entry.seq}", headers=headers[Role.APPROVER])

    assert response.status_code == 200
    assert response.json()["hash"] == entry.hash and response.json()["data"] == {"x": 1}
    assert_problem(client.get("/v1/audit/424242", headers=headers[Role.ADMIN]), 404)
    assert_problem(client.get("/v1/audit/zero", headers=headers[Role.ADMIN]), 422)


# --- GET /v1/audit/verify -------------------------------------------------------------------------


def test_verify_reports_a_sound_chain_and_its_head(client: TestClient, session: Session,
                                                   headers: Headers) -> None:
    make_policy(session)

    body = client.get("/v1/audit/verify", headers=headers[Role.FINANCE]).json()

    assert body["ok"] is True and body["problems"] == []
    assert body["entries"] == body["head_seq"] >= 5  # four keys and the policy
    assert len(body["head_hash"]) == 64


def test_verify_reports_a_head_that_does_not_match_the_log(
    client: TestClient, session: Session, headers: Headers
) -> None:
    from sqlalchemy import update

    from core.db.models import AuditHeadRow

    session.execute(update(AuditHeadRow).values(seq=AuditHeadRow.seq + 1))

    body = client.get("/v1/audit/verify", headers=headers[Role.ADMIN]).json()

    assert body["ok"] is False and "head" in body["problems"][0]
