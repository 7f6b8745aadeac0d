"""The whole bill's pages (spend, spend forecast, variance, unit cost): what each shows for the
seeded sample's whole bill, read against the ``/v1`` reports it names."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from dashboard_fixtures import Seeded
from fastapi.testclient import TestClient
from page_parsing import parse

from api.roles import Role
from dashboard import formatting
from dashboard.figures import Kind


def _figures(client: TestClient, path: str) -> dict[str, dict[str, str]]:
    response = client.get(path)
    assert response.status_code == 200, (path, response.text[:300])
    return {f["data-figure"]: f for f in parse(response.text).figures}


def _api(client: TestClient, seeded: Seeded, source: str) -> Any:
    response = client.get(source, headers={"X-API-Key": seeded.keys[Role.FINANCE]})
    assert response.status_code == 200, (source, response.text[:300])
    return response.json()


def _charts(html: str) -> dict[str, dict[str, Any]]:
    found = re.findall(r'<script type="application/json" class="chart-data" '
                       r'data-canvas="chart-([^"]+)">(.*?)</script>', html, flags=re.S)
    return {name: json.loads(body) for name, body in found}


@pytest.fixture
def finance(signed_in: Any) -> TestClient:
    client: TestClient = signed_in(Role.FINANCE)
    return client


def test_spend_defaults_to_month_to_date_of_the_bill_by_service_category(
    finance: TestClient, seeded: Seeded
) -> None:
    html = finance.get("/spend").text
    figures = {f["data-figure"]: f for f in parse(html).figures}
    source = figures["spend_total"]["data-source"]

    # The sample's bill ends on 2024-08-31: month to date is August.
    assert "start=2024-08-01" in source and "end=2024-09-01" in source
    assert "group_by=service_category" in source and "basis=amortized" in source
    assert "Month to date:</strong> 1 Aug 2024 – 31 Aug 2024" in html
    served = _api(finance, seeded, source)
    groups = {row["group"] for row in served["rows"]}
    assert {"Compute", "Storage", "Databases", "Networking"} <= groups
    assert float(figures["spend_total"]["data-value"]) == served["totals"]["cost"]
    assert "Cash basis = Σ FOCUS BilledCost" in html


@pytest.mark.parametrize(("basis", "same_as"), [("cash", "billed_total"),
                                                ("amortized", "effective_total")])
def test_the_basis_picks_billed_or_effective_cost(finance: TestClient, basis: str,
                                                  same_as: str) -> None:
    figures = _figures(finance, f"/spend?period=quarter&basis={basis}")

    assert f"basis={basis}" in figures["spend_total"]["data-source"]
    assert figures["spend_total"]["data-value"] == figures[same_as]["data-value"]


def test_the_bills_purchase_makes_cash_and_amortized_differ_over_the_year(
    finance: TestClient,
) -> None:
    cash = _figures(finance, "/spend?period=year&basis=cash&group_by=charge_category")
    amortized = _figures(finance, "/spend?period=year&group_by=charge_category")
    assert cash["spend_total"]["data-value"] == cash["billed_total"]["data-value"]
    assert amortized["spend_total"]["data-value"] == amortized["effective_total"]["data-value"]
    assert float(cash["spend_total"]["data-value"]) > 0


def test_the_daily_chart_stacks_each_group_of_the_table(finance: TestClient) -> None:
    html = finance.get("/spend?period=quarter&group_by=tag&tag_key=team").text
    parsed = parse(html)
    chart = _charts(html)["daily_spend"]
    groups = [row[0][1] for row in parsed.tables["by_group"].rows]

    assert chart["stacked"] and [s["label"] for s in chart["series"]] == groups
    assert {"data", "platform", "(untagged)"} <= set(groups)
    assert chart["labels"][0] == "2024-07-01" and chart["labels"][-1] == "2024-08-31"
    assert "Spend by tag team" in html


def test_money_is_right_aligned_with_its_currency_and_separators(finance: TestClient) -> None:
    html = finance.get("/spend?period=year").text
    cells = re.findall(r'<td class="num" data-column="cost" data-value="([^"]+)"[^>]*>([^<]+)'
                       r"</td>", html)
    assert cells
    for raw, shown in cells:
        assert shown == formatting.money(float(raw), "USD")
    assert any("," in shown and shown.startswith("$") for _, shown in cells)
    assert formatting.show(0.012345, Kind.PRICE) == "$0.0123"


def test_the_forecast_shows_each_horizon_with_ordered_intervals(
    finance: TestClient, seeded: Seeded
) -> None:
    figures = _figures(finance, "/spend-forecast")
    for horizon in ("month", "quarter", "fiscal_year"):
        values = [float(figures[f"{horizon}_{name}"]["data-value"])
                  for name in ("forecast_low_95", "forecast_low_80", "forecast",
                               "forecast_high_80", "forecast_high_95")]
        assert values == sorted(values), (horizon, values)
        assert values[0] < values[-1]
    source = figures["month_forecast"]["data-source"]
    served = _api(finance, seeded, source)
    assert [row["horizon"] for row in served["rows"]] == ["month", "quarter", "fiscal_year"]
    assert served["rows"][0]["period"] == "2024-09"


def test_the_forecast_chart_runs_from_actual_spend_into_the_bands(finance: TestClient) -> None:
    html = finance.get("/spend-forecast?horizon=month").text
    chart = _charts(html)["forecast_daily"]
    series = {s["label"]: s for s in chart["series"]}
    parsed = parse(html)

    assert len(chart["labels"]) == 60 + 30  # 60 days of actual, September forecast
    assert chart["labels"][59] == "2024-08-31" and chart["labels"][60] == "2024-09-01"
    assert series["95 % high"]["band"] and series["80 % high"]["band"]
    assert not series["Actual"]["band"] and not series["Forecast (median)"]["band"]
    assert series["Actual"]["values"][60:] == [None] * 30
    assert series["Forecast (median)"]["values"][:60] == [None] * 60
    median = [float(cell[2][1]) for cell in parsed.tables["daily"].rows]
    assert series["Forecast (median)"]["values"][60:] == median


def test_a_forecast_per_group_has_a_row_per_group_and_horizon(
    finance: TestClient, seeded: Seeded
) -> None:
    html = finance.get("/spend-forecast?group_by=service_category&horizon=fiscal_year").text
    table = parse(html).tables["forecast"]
    served = _api(finance, seeded, re.search(
        r'data-source="(/v1/reports/spend-forecast\?[^"]*group_by=service_category[^"]*)"',
        html).group(1).replace("&amp;", "&"))  # type: ignore[union-attr]

    assert table.columns[0] == "group"
    assert len(table.rows) == served["total_rows"] == 3 * len(
        {row["group"] for row in served["rows"]})
    assert len(_charts(html)["forecast_daily"]["labels"]) == 60 + 122  # to 2025-01-01


def test_variance_shows_the_budget_the_total_and_the_movers(
    finance: TestClient, seeded: Seeded
) -> None:
    html = finance.get("/variance?as_of=2024-08-20&group_by=service_category").text
    parsed = parse(html)
    figures = {f["data-figure"]: f for f in parsed.figures}
    budgets, movers = parsed.tables["budgets"], parsed.tables["movers"]

    assert [row[0][0] for row in budgets.rows] == ["sample bill, monthly"]
    assert "Monthly variance · 2024-08" in html
    assert "offset=1" in figures["total_forecast"]["data-source"]
    whole = _api(finance, seeded, figures["total_forecast"]["data-source"].replace(
        "offset=1&limit=1", "limit=1000"))
    kinds = [row["kind"] for row in whole["rows"]]
    assert kinds == ["budget", "total", *["mover"] * len(movers.rows)]
    assert [row[0][0] for row in movers.rows] == [row["group"] for row in whole["rows"][2:]]
    chart = _charts(html)["movers"]
    assert chart["labels"] == [row["group"] for row in whole["rows"][2:]]


def test_unit_cost_per_thousand_is_a_thousand_times_the_unit_cost(finance: TestClient) -> None:
    one = _figures(finance, "/unit-cost?metric=requests")
    thousand = _figures(finance, "/unit-cost?metric=requests&per=1000")

    assert "per=1000" in thousand["unit_cost"]["data-source"]
    assert float(thousand["unit_cost"]["data-value"]) == pytest.approx(
        1000 * float(one["unit_cost"]["data-value"]), rel=1e-12)
    assert one["unit_cost"]["data-field"] == "rows.2.unit_cost"  # June, July, August
    assert thousand["cost_total"]["data-value"] == one["cost_total"]["data-value"]


def test_unit_cost_offers_each_stored_metric_and_its_scope(finance: TestClient) -> None:
    html = finance.get("/unit-cost?metric=gb_stored&granularity=week").text
    figures = {f["data-figure"]: f for f in parse(html).figures}

    assert '<option value="requests">' in html and '<option value="gb_stored" selected>' in html
    assert "scope=service_category%3DStorage" in figures["unit_cost"]["data-source"]
    assert "granularity=week" in figures["unit_cost"]["data-source"]
    assert "Scope: service_category=Storage" in html


def test_a_report_that_cannot_be_made_is_said_on_the_page(finance: TestClient) -> None:
    response = finance.get("/variance?as_of=2030-01-01")
    assert response.status_code == 200
    assert 'class="alert"' in response.text and "after the end of the bill" in response.text
    assert 'data-empty="movers"' in response.text
