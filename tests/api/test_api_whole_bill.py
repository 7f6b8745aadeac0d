"""The whole bill over HTTP: spend, spend forecast, variance, unit cost, metrics, spend budgets.

The figures are ``reporting``'s (checked there against pandas on the raw FOCUS rows); here
the API passes them through, as JSON and CSV, to finance and admin only.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd
import pytest
from api_factories import assert_problem
from bill_factories import long_bill_rows, store_bill, write_bill
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.roles import Role
from core.db.reporting_models import BusinessMetricRow

Headers = dict[Role, dict[str, str]]
BILL_REPORTS = ("spend", "spend-forecast", "variance")


@pytest.fixture
def bill(tmp_path: Path, session: Session) -> pd.DataFrame:
    """70 days of a bill from 2024-06-01, stored."""
    path = write_bill(tmp_path / "bill.csv", long_bill_rows())
    store_bill(session, path)
    return pd.read_csv(path)


@pytest.mark.parametrize("name", BILL_REPORTS)
def test_each_bill_report_is_refused_to_viewers_and_approvers(
        client: TestClient, headers: Headers, name: str) -> None:
    assert_problem(client.get(f"/v1/reports/{name}"), 401)
    for role in (Role.VIEWER, Role.APPROVER):
        assert_problem(client.get(f"/v1/reports/{name}", headers=headers[role]), 403)


@pytest.mark.parametrize("name", BILL_REPORTS)
def test_each_bill_report_without_a_bill_is_404(client: TestClient, headers: Headers,
                                                name: str) -> None:
    body = assert_problem(client.get(f"/v1/reports/{name}", headers=headers[Role.FINANCE]), 404)
    assert "ingest a FOCUS bill" in body["detail"]


@pytest.mark.parametrize("name", BILL_REPORTS)
def test_each_bill_report_answers_json_and_the_same_rows_as_csv(
        client: TestClient, headers: Headers, bill: pd.DataFrame, name: str) -> None:
    finance = headers[Role.FINANCE]
    body = client.get(f"/v1/reports/{name}", headers=finance).json()
    download = client.get(f"/v1/reports/{name}?format=csv", headers=finance)

    assert body["rows"] and body["total_rows"] == len(body["rows"])
    assert set(body["definitions"]) <= set(body["columns"]) and body["definitions"]
    assert download.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(download.text)))
    assert len(table) == body["total_rows"] and list(table[0]) == body["columns"]


def test_spend_per_month_on_the_cash_basis_is_the_billed_cost(
        client: TestClient, headers: Headers, bill: pd.DataFrame) -> None:
    body = client.get("/v1/reports/spend?basis=cash&group_by=service_category",
                      headers=headers[Role.FINANCE]).json()

    expected = bill.groupby(bill.ChargePeriodStart.str[:7])["BilledCost"].sum()
    found = pd.DataFrame(body["rows"]).groupby("period")["cost"].sum()
    assert found.round(2).to_dict() == expected.round(2).to_dict()
    assert body["parameters"]["basis"] == "cash"
    assert body["totals"]["cost"] == pytest.approx(round(bill.BilledCost.sum(), 2))


def test_spend_forecast_daily_detail_and_one_horizon(client: TestClient, headers: Headers,
                                                     bill: pd.DataFrame) -> None:
    finance = headers[Role.FINANCE]
    summary = client.get("/v1/reports/spend-forecast?horizon=month", headers=finance).json()
    daily = client.get("/v1/reports/spend-forecast?horizon=month&detail=daily",
                       headers=finance).json()

    [row] = summary["rows"]
    assert row["period"] == "2024-08" and row["as_of"] == "2024-08-10"
    assert daily["rows"][0]["day"] == "2024-08-10"
    assert len(daily["rows"]) == row["days_remaining"] == 22


def test_metrics_are_stored_and_the_unit_cost_reported(client: TestClient, headers: Headers,
                                                       bill: pd.DataFrame) -> None:
    finance = headers[Role.FINANCE]
    points = [{"date": f"2024-08-0{d}", "metric": "requests", "value": 1000.0 * d,
               "scope": "account=111111111111"} for d in range(1, 4)]
    stored = client.post("/v1/metrics", json={"points": points}, headers=finance)
    listed = client.get("/v1/metrics", headers=finance).json()
    report = client.get("/v1/reports/unit-cost?metric=requests&scope=account%3D111111111111"
                        "&per=1000&basis=cash", headers=finance).json()

    assert stored.status_code == 201 and stored.json() == {"stored": 3}
    assert listed["items"][0]["points"] == 3
    account = bill[(bill.SubAccountId == 111111111111)
                   & bill.ChargePeriodStart.str[:10].between("2024-08-01", "2024-08-03")]
    [row] = report["rows"]
    assert row["unit_cost"] == pytest.approx(account.BilledCost.sum() / 6000.0 * 1000)


def test_bad_metric_points_store_nothing(client: TestClient, headers: Headers,
                                         session: Session) -> None:
    finance = headers[Role.FINANCE]
    twice = {"date": "2024-08-01", "metric": "requests", "value": 1.0}
    duplicated = client.post("/v1/metrics", json={"points": [twice, twice]}, headers=finance)
    bad_scope = client.post("/v1/metrics", json={"points": [{**twice, "scope": "colour=blue"}]},
                            headers=finance)

    assert "again" in assert_problem(duplicated, 409)["detail"]
    assert_problem(bad_scope, 422)
    assert session.scalar(select(func.count()).select_from(BusinessMetricRow)) == 0
    assert_problem(client.post("/v1/metrics", json={"points": [twice]},
                               headers=headers[Role.VIEWER]), 403)


def test_a_spend_budget_is_created_reported_and_deleted(client: TestClient, headers: Headers,
                                                        bill: pd.DataFrame) -> None:
    finance = headers[Role.FINANCE]
    created = client.post("/v1/spend-budgets", json={
        "name": "storage", "amount": 490.0, "basis": "cash",
        "service_category": "Storage"}, headers=finance)
    budget_id = created.json()["id"]
    status = client.get(f"/v1/spend-budgets/{budget_id}/status", headers=finance).json()
    statuses = client.get("/v1/reports/spend-budgets", headers=finance).json()
    variance = client.get("/v1/reports/variance?basis=cash", headers=finance).json()

    assert created.status_code == 201
    assert status["actual"] == 180.0 and status["run_out_date"] == "2024-08-25"
    assert status["state"] == "forecast_over"
    assert [s["budget"]["name"] for s in statuses["items"]] == ["storage"]
    assert [r["name"] for r in variance["rows"] if r["kind"] == "budget"] == ["storage"]
    assert client.delete(f"/v1/spend-budgets/{budget_id}", headers=finance).status_code == 204
    assert_problem(client.get(f"/v1/spend-budgets/{budget_id}", headers=finance), 404)
    assert_problem(client.post("/v1/spend-budgets", json={"name": "x", "amount": 1.0},
                               headers=headers[Role.VIEWER]), 403)
