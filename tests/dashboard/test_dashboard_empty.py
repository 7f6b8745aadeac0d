"""A dashboard with no data yet: every page renders and says what to do."""

from __future__ import annotations

from pathlib import Path

import pytest
from api_factories import build_app, make_key
from dashboard_fixtures import sign_in
from fastapi.testclient import TestClient
from page_parsing import parse

from api.roles import Role
from core.db.session import create_engine_for, migrate, session_scope
from core.settings import sqlite_url
from reporting.unit_cost import metric_point, store_metrics

SAYS = {"/": "ladder ingest", "/plans": "ladder optimize", "/commitments": "No commitments",
        "/budgets": "ladder budgets create", "/chargeback": "ladder ingest",
        "/runs": "ladder run", "/spend": "ladder ingest", "/spend-forecast": "ladder ingest",
        "/variance": "ladder ingest", "/unit-cost": "ladder metrics ingest FILE.csv"}
"""What each empty page says (the audit log is never empty: making the key wrote to it)."""


@pytest.fixture
def empty_client(tmp_path: Path) -> TestClient:
    """A client signed in as an admin of a database with no data at all."""
    url = sqlite_url(tmp_path / "empty.db")
    migrate(url)
    engine = create_engine_for(url)
    with session_scope(engine) as session:
        key = make_key(session, role=Role.ADMIN)
    client = TestClient(build_app(engine, None, launcher=None))
    sign_in(client, key)
    return client


def test_every_page_without_data_says_what_to_do(empty_client: TestClient) -> None:
    for path, words in SAYS.items():
        response = empty_client.get(path)
        assert response.status_code == 200, path
        assert words in response.text, path
        assert 'class="empty"' in response.text, path
    assert empty_client.get("/audit").status_code == 200
    downloads = parse(empty_client.get("/plans").text).csv_links
    assert empty_client.get(downloads["plans"]).text == (
        "id,provider,scope,status,created_at,expected_savings,upfront_cash,monthly_commitment,"
        "esr_before,esr_after,actions_count\n")



def test_unit_costs_of_metrics_without_a_bill_say_to_ingest_one(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "metrics-only.db")
    migrate(url)
    engine = create_engine_for(url)
    with session_scope(engine) as session:
        key = make_key(session, role=Role.FINANCE)
        store_metrics(session, [metric_point("2024-08-01", "requests", 1000)], source="test")
    client = TestClient(build_app(engine, None, launcher=None))
    sign_in(client, key)

    html = client.get("/unit-cost").text
    assert 'class="alert"' in html and "ladder ingest" in html
    assert '<option value="requests" selected>' in html
