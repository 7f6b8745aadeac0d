"""Every figure on every page equals the ``/v1`` JSON it names, and every table's CSV equals the
table on the page."""

from __future__ import annotations

import csv
import io

import pytest
from dashboard_fixtures import Seeded, sign_in
from fastapi.testclient import TestClient
from page_parsing import check_figures, number_of, parse

from api.roles import Role

PAGES = ("/", "/?period=quarter", "/?period=year", "/?period=month&to=2024-07-15",
         "/?provider=sample&period=year", "/plans", "/commitments", "/budgets", "/chargeback",
         "/chargeback?group_by=service&period=quarter",
         "/chargeback?group_by=tag&tag_key=team&period=year", "/runs", "/audit",
         "/spend", "/spend?period=quarter&group_by=service&basis=cash",
         "/spend?period=year&group_by=charge_category&provider=sample",
         "/spend?period=year&group_by=tag&tag_key=team", "/spend-forecast",
         "/spend-forecast?group_by=service_category&horizon=fiscal_year&basis=cash",
         "/spend-forecast?as_of=2024-08-15&horizon=quarter", "/variance",
         "/variance?group_by=service_category&as_of=2024-08-20&top=5", "/unit-cost",
         "/unit-cost?metric=requests&granularity=week&per=1000",
         "/unit-cost?metric=gb_stored&scope=service_category%3DStorage&granularity=day")
OVERVIEW_FIGURES = {"realised_savings", "esr", "coverage", "utilisation", "waste",
                    "expiring_commitments", "expiring_net_increase"}


@pytest.mark.parametrize("path", PAGES)
def test_every_figure_equals_the_api_json_at_its_source_and_field(
    client: TestClient, seeded: Seeded, path: str
) -> None:
    key = seeded.keys[Role.ADMIN]
    sign_in(client, key)

    assert check_figures(client, key, path) > 0


def test_a_plan_s_figures_and_risk_equal_the_api_s(client: TestClient, seeded: Seeded) -> None:
    key = seeded.keys[Role.VIEWER]
    sign_in(client, key)
    names = {f["data-figure"] for f in parse(client.get(f"/plans/{seeded.plan_id}").text).figures}

    assert check_figures(client, key, f"/plans/{seeded.plan_id}") > 0
    assert {"expected_savings", "upfront_cash", "monthly_commitment", "certified_gap",
            "loss_before_cvar", "loss_after_cvar"} <= names
    assert "actions.0.savings_median" in names and "actions.1.upfront_cost" in names


def test_the_overview_shows_the_headline_figures_of_month_to_date(
    client: TestClient, seeded: Seeded
) -> None:
    sign_in(client, seeded.keys[Role.VIEWER])
    html = client.get("/").text
    figures = {f["data-figure"]: f for f in parse(html).figures}

    assert set(figures) >= OVERVIEW_FIGURES
    # The sample's data ends on 2024-08-31: month to date is August.
    savings = figures["realised_savings"]["data-source"]
    assert "start=2024-08-01" in savings and "end=2024-09-01" in savings
    assert "Month to date:</strong> 1 Aug 2024 – 31 Aug 2024" in html
    assert "ESR = realised savings ÷ on-demand equivalent" in html
    assert float(figures["realised_savings"]["data-value"]) > 0


def test_the_period_selector_changes_the_window(client: TestClient, seeded: Seeded) -> None:
    sign_in(client, seeded.keys[Role.VIEWER])
    for query, start in (("period=quarter", "2024-07-01"), ("period=year", "2024-01-01"),
                         ("period=month&to=2024-07-15", "2024-07-01")):
        figures = {f["data-figure"]: f for f in parse(client.get(f"/?{query}").text).figures}
        assert f"start={start}" in figures["realised_savings"]["data-source"], query


def test_chargeback_totals_equal_the_bill(client: TestClient, seeded: Seeded) -> None:
    sign_in(client, seeded.keys[Role.FINANCE])
    html = client.get("/chargeback?period=quarter").text
    figures = {f["data-figure"]: f for f in parse(html).figures}

    assert figures["chargeback_total"]["data-value"] == figures["bill_total"]["data-value"]
    assert 'data-reconciles="true"' in html


def _csv_rows(client: TestClient, href: str) -> tuple[list[str], list[list[str]]]:
    response = client.get(href)
    assert response.status_code == 200, href
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.text)))
    return rows[0], rows[1:]


def _number(text: str) -> float | None:
    try:
        return number_of(text)
    except ValueError:
        return None


@pytest.mark.parametrize("path", [*PAGES, "/plans/PLAN"])
def test_every_table_downloads_as_csv_with_the_same_numbers(
    client: TestClient, seeded: Seeded, path: str
) -> None:
    sign_in(client, seeded.keys[Role.ADMIN])
    path = path.replace("PLAN", str(seeded.plan_id))
    parsed = parse(client.get(path).text)
    assert parsed.csv_links, path
    checked = 0
    for name, href in parsed.csv_links.items():
        header, rows = _csv_rows(client, href)
        table = parsed.tables.get(name)
        if table is None:  # an empty table: its CSV has the header only
            assert rows == [], (path, name)
            continue
        assert header == table.columns, (path, name)
        assert len(rows) == len(table.rows), (path, name)
        for csv_row, html_row in zip(rows, table.rows, strict=True):
            for value, (text, raw_value) in zip(csv_row, html_row, strict=True):
                if raw_value == "" or _number(value) is None:
                    assert value == raw_value, (path, name, value, raw_value)
                    continue
                assert float(value) == pytest.approx(float(raw_value), abs=0.005)
                shown = _number(text)
                if shown is not None and "%" not in text and not any(c.isalpha() for c in text):
                    assert float(value) == pytest.approx(shown, abs=0.005), (name, text, value)
                checked += 1
    assert checked > 0, path


def test_bad_parameters_are_said_on_the_page_not_a_server_error(
    client: TestClient, seeded: Seeded
) -> None:
    sign_in(client, seeded.keys[Role.FINANCE])
    for path in ("/?period=decade&to=not-a-day&provider=nobody",
                 "/chargeback?group_by=tag&tag_key=" + "x" * 600,
                 "/chargeback?group_by=nothing"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith("text/html"), path
    html = client.get("/chargeback?group_by=tag&tag_key=" + "x" * 600).text
    assert 'class="alert"' in html and "tag_key" in html
    assert "Month to date" in client.get("/?period=decade").text


def test_a_table_a_page_does_not_have_is_a_404(client: TestClient, seeded: Seeded) -> None:
    sign_in(client, seeded.keys[Role.ADMIN])
    for path in ("/?csv=nothing", f"/plans/{seeded.plan_id}?csv=nothing", "/runs?csv=plans"):
        assert client.get(path).status_code == 404, path
