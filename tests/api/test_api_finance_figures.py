"""Finance figures through the API (issue 18, point 6): budgets in their data's currency,
one unreportable budget never breaking the others, and reports that say through when their
data runs and whether it is older than the newest commitment."""

from __future__ import annotations

from typing import Any

import pytest
from api_factories import assert_problem
from fastapi.testclient import TestClient
from reporting_factories import COMMITMENTS, END, PROVIDER, store_hand_fixture
from sqlalchemy.orm import Session

from api.roles import Role
from core.db.reporting_models import BudgetRow
from core.db.repository import replace_inventory
from reporting import refresh_facts

Headers = dict[Role, dict[str, str]]
BUDGET = {"name": "compute", "amount": 100.0, "provider": PROVIDER}


def _errors(body: dict[str, Any]) -> dict[str, str]:
    return {error["field"]: error.get("message", "") for error in body.get("errors", [])}


def test_a_budget_in_a_currency_its_data_is_not_in_is_refused(
    client: TestClient, session: Session, headers: Headers
) -> None:
    store_hand_fixture(session)  # billed in USD
    finance = headers[Role.FINANCE]

    for body in ({**BUDGET, "currency": "EUR"}, {"name": "all", "amount": 1.0,
                                                  "currency": "EUR"}):
        refused = assert_problem(client.post("/v1/budgets", headers=finance, json=body), 422)
        assert "currency" in _errors(refused), refused
        assert "EUR" in refused["detail"] and "USD" in refused["detail"], refused

    created = client.post("/v1/budgets", headers=finance, json={**BUDGET, "currency": "USD"})
    assert created.status_code == 201, created.text
    changed = client.patch(f"/v1/budgets/{created.json()['id']}", headers=finance,
                           json={"currency": "GBP"})
    assert "currency" in _errors(assert_problem(changed, 422))
    assert client.get("/v1/budgets", headers=finance).json()["total"] == 1


def test_one_budget_that_cannot_be_reported_on_leaves_the_others_report(
    client: TestClient, session: Session, headers: Headers
) -> None:
    store_hand_fixture(session)
    finance = headers[Role.FINANCE]
    assert client.post("/v1/budgets", headers=finance, json=BUDGET).status_code == 201
    # Stored before currencies were checked, and one for a provider with no data at all.
    session.add_all([
        BudgetRow(name="in euros", amount=90.0, currency="EUR", period="month",
                  basis="amortized", thresholds=[1.0], provider=PROVIDER),
        BudgetRow(name="no data", amount=10.0, currency="USD", period="month",
                  basis="amortized", thresholds=[1.0], provider="aws"),
    ])
    session.flush()

    response = client.get("/v1/reports/budgets", headers=finance)

    assert response.status_code == 200, response.text
    items = {item["budget"]["name"]: item for item in response.json()["items"]}
    assert set(items) == {"compute", "in euros", "no data"}
    assert items["compute"]["actual"] == 25.92  # Feb 1: $1.08/h amortized × 24
    assert items["compute"]["state"] != "unavailable" and items["compute"]["problem"] is None
    for name, words in (("in euros", ("EUR", "USD")), ("no data", ("aws",))):
        assert items[name]["state"] == "unavailable", items[name]
        assert items[name]["actual"] is None and items[name]["forecast"] is None
        assert all(word in items[name]["problem"] for word in words), items[name]


def test_reports_say_through_when_their_data_runs_and_when_it_is_stale(
    client: TestClient, session: Session, headers: Headers
) -> None:
    store_hand_fixture(session)  # ri-c5-future starts 2025-03-01, after the data
    finance = headers[Role.FINANCE]
    for path in ("savings", "chargeback", "payment-schedule", "calendar"):
        body = client.get(f"/v1/reports/{path}", headers=finance).json()
        assert body["data_through"] == END.isoformat(), path
        assert body["stale"] is True, path
        assert body["newest_commitment_start"] == "2025-03-01T00:00:00+00:00", path
        [warning] = body["warnings"]
        assert "ri-c5-future" in warning and "2025-02-02 00:00 UTC" in warning, path

    status = client.get("/v1/reports/budgets", headers=finance).json()
    assert status["items"] == []  # no budgets: nothing to say

    # Without the commitment that starts after the data, the data is not older than any.
    replace_inventory(session, PROVIDER, [c for c in COMMITMENTS
                                          if c.commitment_id != "ri-c5-future"])
    refresh_facts(session, PROVIDER)
    body = client.get("/v1/reports/savings", headers=finance).json()
    assert body["data_through"] == END.isoformat()
    assert body["stale"] is False and body["warnings"] == []


def test_a_commitment_received_in_an_exchange_shows_the_true_up_it_paid(
    client: TestClient, session: Session, headers: Headers
) -> None:
    from reporting_factories import RI_C5, START
    from sqlalchemy import select

    from core.db.models import ActionRow
    from core.db.repository import add_plan
    from core.domain import HOUR, Action, ActionKind, Commitment, Plan

    store_hand_fixture(session)
    received = Commitment(RI_C5, 2.0, START + 24 * HOUR, "exch-c5")
    replace_inventory(session, PROVIDER, [*COMMITMENTS, received])
    action = Action(kind=ActionKind.EXCHANGE, offering_id="ri-m5", quantity=1.0,
                    upfront_cost=3.21, hourly_cost=0.0, amortized_hourly_cost=0.01,
                    commitment_id="ri-m5", target_offering_id="ri-c5", target_quantity=2.0,
                    cash_effect=3.21, reason="test exchange")
    plan_id = add_plan(session, provider=PROVIDER, dataset_id=None, plan=Plan(
        actions=(action,), window_start=START, window_hours=48, on_demand_equivalent=1.0,
        cost_before=1.0, cost_after=1.0, esr_before=0.0, esr_after=0.0, upfront_cash=3.21,
        monthly_commitment=7.3), build_seconds=0.0, solve_seconds=0.0)
    row = session.scalars(select(ActionRow).where(ActionRow.plan_id == plan_id)).one()
    row.status, row.commitment_ids = "done", ["exch-c5"]
    session.flush()

    listed = client.get("/v1/commitments", headers=headers[Role.VIEWER]).json()["items"]
    by_id = {item["commitment_id"]: item for item in listed}
    assert by_id["exch-c5"]["upfront_cost"] == 3.21  # not 2 × $100 list
    assert by_id["ri-c5-future"]["upfront_cost"] == 500.0  # bought: 5 × $100
    # The amortized rate stays the received offering's (the value given up carries over).
    assert by_id["exch-c5"]["amortized_hourly_cost"] == pytest.approx(
        2 * RI_C5.amortized_hourly)


def test_a_csv_report_says_through_when_its_data_runs_in_its_headers(
    client: TestClient, session: Session, headers: Headers
) -> None:
    store_hand_fixture(session)
    response = client.get("/v1/reports/savings?format=csv", headers=headers[Role.VIEWER])
    assert response.status_code == 200, response.text
    assert response.headers["ladder-data-through"] == END.isoformat()
    assert response.headers["ladder-stale"] == "true"
