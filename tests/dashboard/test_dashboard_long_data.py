"""Pages over more rows than the API's default page (100): a table's row ``i`` is still
``rows.i`` of the source it names, since every report source asks for all its rows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from api_factories import build_app, make_key
from dashboard_fixtures import sign_in
from fastapi.testclient import TestClient
from page_parsing import check_figures, parse

from benchmarks.reporting_data import generate_reporting_data
from core.db.session import create_engine_for, migrate, session_scope
from core.settings import sqlite_url

DAYS = 130
"""Past the reports' default page of 100 rows, so a day-by-day table runs beyond it."""


@pytest.fixture(scope="module")
def long_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, str]]:
    """A signed-in client on 130 days of reporting data (3 keys) in SQLite, and its key."""
    url = sqlite_url(Path(tmp_path_factory.mktemp("long")) / "ladder.db")
    migrate(url)
    engine = create_engine_for(url)
    with session_scope(engine) as session:
        generate_reporting_data(session, provider="bench", keys=3, days=DAYS,
                                store_usage=False)
        key = make_key(session)
    with TestClient(build_app(engine, None, launcher=None)) as client:
        sign_in(client, key)
        yield client, key
    engine.dispose()


def test_a_year_to_date_overview_past_a_hundred_days_equals_the_api_row_by_row(
    long_client: tuple[TestClient, str],
) -> None:
    client, key = long_client
    page = client.get("/?period=year&to=2025-05-10")
    day_by_day = parse(page.text).tables["daily"]
    assert len(day_by_day.rows) == DAYS

    # Each of the 130 rows' cells names row i of its source; past row 99 that source
    # must hold those rows, not the first page of 100.
    assert check_figures(client, key, "/?period=year&to=2025-05-10") > 4 * DAYS
