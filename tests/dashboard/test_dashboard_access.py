"""Every page for every role: what the role matrix of ``api.roles`` grants, and exactly what the
API itself lets the same key read."""

from __future__ import annotations

import pytest
from dashboard_fixtures import Seeded, sign_in
from fastapi.testclient import TestClient
from page_parsing import parse

from api.roles import GRANTS, Role
from dashboard.navigation import PAGES

API_OF_PAGE = {
    "/": "/v1/reports/savings", "/plans": "/v1/plans", "/commitments": "/v1/commitments",
    "/budgets": "/v1/reports/budgets", "/chargeback": "/v1/reports/chargeback",
    "/runs": "/v1/runs", "/audit": "/v1/audit", "/spend": "/v1/reports/spend",
    "/spend-forecast": "/v1/reports/spend-forecast", "/variance": "/v1/reports/variance",
    "/unit-cost": "/v1/reports/unit-cost?metric=requests",
}
"""The ``/v1`` route whose figures each page shows."""


@pytest.mark.parametrize("role", list(Role))
def test_each_page_opens_for_exactly_the_roles_whose_key_may_call_its_api(
    client: TestClient, seeded: Seeded, role: Role
) -> None:
    sign_in(client, seeded.keys[role])
    api_key = {"X-API-Key": seeded.keys[role]}
    for spec in PAGES:
        page = client.get(spec.path)
        api = client.get(API_OF_PAGE[spec.path], headers=api_key)
        assert page.status_code in (200, 403), (spec.path, page.status_code)
        assert (page.status_code == 200) == (api.status_code == 200), (spec.path, role)
        assert (page.status_code == 200) == (spec.permission in GRANTS[role]), spec.path
        if page.status_code == 403:
            assert not parse(page.text).figures, spec.path
            assert str(role) in page.text


@pytest.mark.parametrize("role", list(Role))
def test_the_navigation_links_only_the_pages_the_role_may_open(
    client: TestClient, seeded: Seeded, role: Role
) -> None:
    sign_in(client, seeded.keys[role])
    links = set(parse(client.get("/plans").text).links)
    for spec in PAGES:
        assert (spec.path in links) == (spec.permission in GRANTS[role]), (role, spec.path)


@pytest.mark.parametrize("path", ["/budgets?csv=budgets", "/spend?csv=by_group",
                                  "/spend-forecast?csv=forecast", "/variance?csv=movers",
                                  "/unit-cost?csv=unit_cost"])
def test_a_forbidden_page_s_tables_do_not_download(client: TestClient, seeded: Seeded,
                                                   path: str) -> None:
    sign_in(client, seeded.keys[Role.VIEWER])
    response = client.get(path)
    assert response.status_code == 403
    assert not response.headers["content-type"].startswith("text/csv")
    assert "finance" in response.text and "admin" in response.text


@pytest.mark.parametrize("path", ["/spend", "/spend-forecast", "/variance", "/unit-cost",
                                  "/spend?csv=by_group"])
def test_the_whole_bill_s_pages_ask_for_a_session_first(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 401
    assert 'name="key"' in response.text and "data-figure" not in response.text
