"""``/v1/reports``: every report as JSON and CSV, over the reporting tests' hand fixture.

The figures are ``reporting``'s (checked there against independent calculations);
here the hand-computed ones prove that the API passes them through unchanged,
with the parameters it was given.
"""

from __future__ import annotations

import csv
import io

import pytest
from api_factories import assert_problem
from fastapi.testclient import TestClient
from reporting_factories import PROVIDER, store_hand_fixture
from sqlalchemy.orm import Session

from api.roles import Role

Headers = dict[Role, dict[str, str]]

PERIOD_REPORTS = ("savings", "coverage", "utilisation", "waste", "amortization", "chargeback",
                  "showback")
LOOKAHEAD_REPORTS = ("payment-schedule", "expirations", "calendar")


@pytest.fixture
def hand(session: Session) -> None:
    """Reporting data: 3 keys, 48 hours, 4 commitments (see reporting_factories)."""
    store_hand_fixture(session)


# --- every report ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", PERIOD_REPORTS + LOOKAHEAD_REPORTS)
def test_each_report_answers_json_with_definitions_and_csv_with_the_same_rows(
    client: TestClient, hand: None, headers: Headers, name: str
) -> None:
    admin = headers[Role.ADMIN]

    body = client.get(f"/v1/reports/{name}", headers=admin).json()
    download = client.get(f"/v1/reports/{name}?format=csv", headers=admin)

    assert body["rows"] and body["total_rows"] == len(body["rows"])
    assert set(body["rows"][0]) == set(body["columns"])
    assert set(body["definitions"]) <= set(body["columns"]) and body["definitions"]
    assert all(source["provider"] == PROVIDER for source in body["sources"])
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("text/csv")
    assert "attachment" in download.headers["content-disposition"]
    table = list(csv.DictReader(io.StringIO(download.text)))
    assert len(table) == body["total_rows"]
    assert list(table[0]) == body["columns"]


@pytest.mark.parametrize("name", PERIOD_REPORTS)
def test_each_period_report_without_reporting_data_is_404(client: TestClient,
                                                          headers: Headers, name: str) -> None:
    body = assert_problem(client.get(f"/v1/reports/{name}?provider=nothing",
                                     headers=headers[Role.ADMIN]), 404)
    assert "refresh the reporting facts" in body["detail"]


@pytest.mark.parametrize("name", LOOKAHEAD_REPORTS)
def test_each_lookahead_report_of_a_provider_without_commitments_is_empty(
    client: TestClient, headers: Headers, name: str
) -> None:
    body = client.get(f"/v1/reports/{name}?provider=nothing", headers=headers[Role.ADMIN]).json()
    assert body["rows"] == [] and body["total_rows"] == 0


def test_the_former_spelling_amortisation_answers_the_same_and_is_deprecated(
    client: TestClient, hand: None, headers: Headers
) -> None:
    finance = headers[Role.FINANCE]
    query = "?granularity=day&group_by=commitment"

    american = client.get(f"/v1/reports/amortization{query}", headers=finance)
    british = client.get(f"/v1/reports/amortisation{query}", headers=finance)
    paths = client.get("/openapi.json").json()["paths"]

    assert american.status_code == british.status_code == 200
    assert british.json() == american.json() and american.json()["rows"]
    assert paths["/v1/reports/amortisation"]["get"]["deprecated"] is True
    assert not paths["/v1/reports/amortization"]["get"].get("deprecated")
    assert client.get("/v1/reports/amortisation", headers=headers[Role.VIEWER]).status_code == 403


# --- GET /v1/reports/savings ------------------------------------------------------------------


def test_savings_per_day_are_the_hand_computed_figures(client: TestClient, hand: None,
                                                       headers: Headers) -> None:
    response = client.get("/v1/reports/savings?granularity=day", headers=headers[Role.VIEWER])

    rows = response.json()["rows"]
    # Jan 31: $1.80/h on demand, $1.28/h amortized; Feb 1: $1.40/h and $1.08/h.
    assert [(r["period"], r["on_demand_equivalent"], r["amortized_cost"],
             r["realised_savings"]) for r in rows] == [
        ("2025-01-31", 43.2, 30.72, 12.48), ("2025-02-01", 33.6, 25.92, 7.68)]
    assert response.json()["totals"]["realised_savings"] == 20.16
    assert rows[0]["esr_billing"] == pytest.approx(12.48 / 43.2)


def test_savings_rows_are_paginated_and_totals_cover_every_row(
    client: TestClient, hand: None, headers: Headers
) -> None:
    body = client.get("/v1/reports/savings?granularity=day&limit=1&offset=1",
                      headers=headers[Role.VIEWER]).json()

    assert [r["period"] for r in body["rows"]] == ["2025-02-01"]
    assert body["total_rows"] == 2 and body["limit"] == 1 and body["offset"] == 1
    assert body["totals"]["realised_savings"] == 20.16


def test_report_rows_page_by_a_hundred_unless_asked(client: TestClient, hand: None,
                                                    headers: Headers) -> None:
    body = client.get("/v1/reports/savings?granularity=day", headers=headers[Role.VIEWER]).json()
    assert body["limit"] == 100 and body["offset"] == 0


def test_savings_filters_by_period_and_account(client: TestClient, hand: None,
                                               headers: Headers) -> None:
    viewer = headers[Role.VIEWER]

    feb = client.get("/v1/reports/savings?granularity=total&start=2025-02-01&end=2025-03-01",
                     headers=viewer).json()
    by_account = client.get("/v1/reports/savings?granularity=total&group_by=account",
                            headers=viewer).json()

    assert feb["parameters"]["start"] == "2025-02-01"
    assert feb["totals"]["realised_savings"] == 7.68
    assert {row["group"] for row in by_account["rows"]} >= {"acct-a", "acct-b"}


def test_accept_text_csv_downloads_csv(client: TestClient, hand: None,
                                       headers: Headers) -> None:
    response = client.get("/v1/reports/savings?granularity=day",
                          headers={**headers[Role.VIEWER], "Accept": "text/csv"})

    assert response.headers["content-type"].startswith("text/csv")
    assert response.text.splitlines()[1].startswith("2025-01-31,2025-01-31,2025-02-01,all,24,")


def test_report_parameters_are_validated(client: TestClient, hand: None,
                                         headers: Headers) -> None:
    viewer = headers[Role.ADMIN]
    for path, field in (
        ("savings?granularity=week", "granularity"),
        ("savings?group_by=colour", "group_by"),
        ("savings?start=2025-02-02&end=2025-02-01", "end"),
        ("savings?format=xml", "format"),
        ("savings?limit=0", "limit"),
        ("savings?account=%20acct-a", "account"),
        ("savings?tag_value=web", "tag_value"),
        ("savings?group_by=tag", "tag_key"),
        ("coverage?group_by=commitment", "group_by"),
        ("utilisation?group_by=account", "group_by"),
        ("chargeback?group_by=none", "group_by"),
        ("calendar?months=0", "months"),
        ("expirations?window_days=400", "window_days"),
        ("payment-schedule?as_of=2025-02", "as_of"),
    ):
        body = assert_problem(client.get(f"/v1/reports/{path}", headers=viewer), 422)
        assert field in [error["field"] for error in body["errors"]], (path, body)


# --- the finance reports --------------------------------------------------------------------


def test_chargeback_reconciles_to_the_amortized_bill(client: TestClient, hand: None,
                                                     headers: Headers) -> None:
    finance = headers[Role.FINANCE]

    charged = client.get("/v1/reports/chargeback?granularity=total",
                         headers=finance).json()["totals"]
    billed = client.get("/v1/reports/savings?granularity=total",
                        headers=finance).json()["totals"]

    assert charged["amortized_cost"] == billed["amortized_cost"] == 30.72 + 25.92


def test_calendar_looks_ahead_from_as_of(client: TestClient, hand: None,
                                         headers: Headers) -> None:
    body = client.get("/v1/reports/expirations?as_of=2025-02-10",
                      headers=headers[Role.VIEWER]).json()

    assert body["parameters"]["as_of"].startswith("2025-02-10")
    assert "ri-r5" not in [row["commitment_id"] for row in body["rows"]]  # ended Feb 9


# --- GET /v1/reports/budgets ------------------------------------------------------------------


def test_budget_report_lists_every_budget_status(client: TestClient, hand: None,
                                                 headers: Headers) -> None:
    client.post("/v1/budgets", headers=headers[Role.FINANCE],
                json={"name": "hand", "amount": 1000, "provider": PROVIDER})

    body = client.get("/v1/reports/budgets", headers=headers[Role.FINANCE]).json()

    assert body["total"] == 1
    assert body["items"][0]["budget"]["name"] == "hand"
    assert body["items"][0]["actual"] == 25.92  # Feb 1, amortized
    assert_problem(client.get("/v1/reports/budgets?as_of=tomorrow",
                              headers=headers[Role.FINANCE]), 422)


def test_json_rows_are_the_reports_own_records(client: TestClient, session: Session,
                                               hand: None, headers: Headers) -> None:
    import reporting

    expected = reporting.waste(session).records()

    rows = client.get("/v1/reports/waste", headers=headers[Role.VIEWER]).json()["rows"]

    # The same values; timestamps in UTC written with Z rather than +00:00.
    normalised = [{k: v.replace("+00:00", "Z") if isinstance(v, str) else v
                   for k, v in row.items()} for row in expected]
    assert rows == normalised


def test_warm_reports_loads_each_providers_snapshot_at_start_up(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    import reporting
    from api.app import create_app
    from core.db.session import create_engine_for, session_scope
    from core.settings import Settings

    engine = create_engine_for(db_url)
    with session_scope(engine) as session:
        store_hand_fixture(session)
    engine.dispose()
    warmed: list[str | None] = []
    monkeypatch.setattr(reporting, "savings",
                        lambda _session, query: warmed.append(query.scope.provider))

    with TestClient(create_app(Settings(database_url=db_url), migrate_on_start=False,
                               warm_reports=True)):
        for thread in threading.enumerate():
            if thread.name == "warm-reports":
                thread.join(timeout=30)

    assert warmed == [PROVIDER]
