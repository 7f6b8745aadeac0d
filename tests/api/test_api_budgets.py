"""``/v1/budgets``: create, read, update, delete (finance role), and status."""

from __future__ import annotations

from typing import Any

import pytest
from api_factories import assert_problem
from fastapi.testclient import TestClient
from reporting_factories import PROVIDER, store_hand_fixture
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.roles import Role
from core.db.models import AuditEntryRow

Headers = dict[Role, dict[str, str]]
BUDGET = {"name": "compute", "amount": 1000.0, "provider": PROVIDER, "thresholds": [0.5, 0.9]}


def _create(client: TestClient, headers: Headers, **fields: Any) -> dict[str, Any]:
    response = client.post("/v1/budgets", headers=headers[Role.FINANCE],
                           json={**BUDGET, **fields})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


# --- POST /v1/budgets ---------------------------------------------------------------------------


def test_finance_creates_a_budget_and_it_is_audited(client: TestClient, session: Session,
                                                    headers: Headers) -> None:
    created = _create(client, headers)

    assert created["period"] == "month" and created["basis"] == "amortized"
    assert created["thresholds"] == [0.5, 0.9] and created["currency"] == "USD"
    entry = session.scalars(select(AuditEntryRow).where(
        AuditEntryRow.subject == f"budget:{created['id']}")).one()
    assert entry.event == "budget.create" and entry.actor == "finance-holder"


def test_a_taken_name_is_409(client: TestClient, headers: Headers) -> None:
    _create(client, headers)
    assert_problem(client.post("/v1/budgets", headers=headers[Role.FINANCE], json=BUDGET), 409)


@pytest.mark.parametrize(("change", "field"), [
    ({"amount": -1}, "amount"),
    ({"amount": "100"}, "amount"),
    ({"period": "week"}, "period"),
    ({"thresholds": [0]}, "thresholds.0"),
    ({"thresholds": [0.5] * 11}, "thresholds"),
    ({"currency": "dollars"}, "currency"),
    ({"name": " padded"}, "name"),
    ({"tag_key": "team"}, "tag_key"),
    ({"service": "ec2"}, "service"),
    ({"provider": "p" * 65}, "provider"),
    ({"account": "a" * 129}, "account"),
    ({"tag_key": "k" * 129, "tag_value": "v"}, "tag_key"),
])
def test_an_invalid_budget_is_422_naming_the_field(client: TestClient, headers: Headers,
                                                   change: dict[str, Any], field: str) -> None:
    body = assert_problem(client.post("/v1/budgets", headers=headers[Role.FINANCE],
                                      json={**BUDGET, **change}), 422)
    assert field in [error["field"] for error in body["errors"]], body


# --- GET /v1/budgets, GET /v1/budgets/{budget_id} -----------------------------------------------


def test_list_and_show_budgets(client: TestClient, headers: Headers) -> None:
    first = _create(client, headers, name="b-one")
    _create(client, headers, name="a-two", provider="aws")
    finance = headers[Role.FINANCE]

    listed = client.get("/v1/budgets", headers=finance).json()
    only_aws = client.get("/v1/budgets?provider=aws", headers=finance).json()

    assert [b["name"] for b in listed["items"]] == ["a-two", "b-one"] and listed["total"] == 2
    assert only_aws["total"] == 1
    assert client.get(f"/v1/budgets/{first['id']}", headers=finance).json() == first
    assert_problem(client.get("/v1/budgets/424242", headers=finance), 404)
    assert_problem(client.get("/v1/budgets?limit=1000", headers=finance), 422)


# --- PATCH /v1/budgets/{budget_id} --------------------------------------------------------------


def test_patch_changes_only_the_given_fields(client: TestClient, session: Session,
                                             headers: Headers) -> None:
    created = _create(client, headers)

    response = client.patch(f"/v1/budgets/{created['id']}", headers=headers[Role.FINANCE],
                            json={"amount": 2500, "provider": None, "basis": "cash"})

    assert response.status_code == 200, response.text
    updated = response.json()
    assert (updated["amount"], updated["provider"], updated["basis"]) == (2500, None, "cash")
    assert updated["name"] == "compute" and updated["thresholds"] == [0.5, 0.9]
    events = session.scalars(select(AuditEntryRow.event).where(
        AuditEntryRow.subject == f"budget:{created['id']}")).all()
    assert sorted(events) == ["budget.create", "budget.update"]


def test_patch_refuses_nulls_for_required_fields_missing_budgets_and_taken_names(
    client: TestClient, headers: Headers
) -> None:
    created = _create(client, headers)
    _create(client, headers, name="other")
    finance = headers[Role.FINANCE]
    path = f"/v1/budgets/{created['id']}"

    assert_problem(client.patch(path, headers=finance, json={"name": None}), 422)
    assert_problem(client.patch(path, headers=finance, json={"amount": True}), 422)
    assert_problem(client.patch(path, headers=finance, json={"name": "other"}), 409)
    assert_problem(client.patch("/v1/budgets/424242", headers=finance, json={"amount": 1}),
                   404)


# --- DELETE /v1/budgets/{budget_id} -------------------------------------------------------------


def test_delete_removes_the_budget(client: TestClient, headers: Headers) -> None:
    created = _create(client, headers)
    finance = headers[Role.FINANCE]

    response = client.delete(f"/v1/budgets/{created['id']}", headers=finance)

    assert response.status_code == 204 and response.content == b""
    assert_problem(client.get(f"/v1/budgets/{created['id']}", headers=finance), 404)
    assert_problem(client.delete(f"/v1/budgets/{created['id']}", headers=finance), 404)
    assert_problem(client.delete("/v1/budgets/abc", headers=finance), 422)


# --- GET /v1/budgets/{budget_id}/status -------------------------------------------------------


def test_status_gives_actual_forecast_variance_and_thresholds(
    client: TestClient, session: Session, headers: Headers
) -> None:
    store_hand_fixture(session)
    created = _create(client, headers, amount=100.0)

    body = client.get(f"/v1/budgets/{created['id']}/status",
                      headers=headers[Role.FINANCE]).json()

    assert body["period"] == "2025-02" and body["as_of"] == "2025-02-02"
    assert body["actual"] == 25.92  # Feb 1: $1.08/h amortized × 24
    assert body["variance"] == pytest.approx(body["forecast"] - 100.0)
    assert [t["threshold"] for t in body["thresholds"]] == [0.5, 0.9]
    assert body["state"] in ("warning", "forecast_over", "over_budget")
    assert "actual" in body["definitions"]


def test_status_of_a_missing_budget_or_without_data_is_404(
    client: TestClient, headers: Headers
) -> None:
    created = _create(client, headers)
    finance = headers[Role.FINANCE]

    assert_problem(client.get("/v1/budgets/424242/status", headers=finance), 404)
    assert_problem(client.get(f"/v1/budgets/{created['id']}/status", headers=finance), 404)
    assert_problem(client.get(f"/v1/budgets/{created['id']}/status?as_of=2025-13-01",
                              headers=finance), 422)
