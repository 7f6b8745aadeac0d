"""The dashboard in Debian's Chromium, headless, driven by Playwright for Python.

The server runs in this process (uvicorn on a free loopback port, in a thread) on the
seeded SQLite database. Every request the browser makes is checked: one that would
leave the host is aborted and recorded, and each test asserts there was none.
Skipped when ``/usr/bin/chromium`` is absent (``apt-get install -y chromium``);
Playwright's own browser download is not used.
"""

from __future__ import annotations

import csv
import io
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import uvicorn
from dashboard_fixtures import Seeded, add_plan
from pydantic import SecretStr

from api.app import create_app
from api.roles import GRANTS, Role
from core.db.session import session_scope
from core.settings import Settings
from dashboard.navigation import PAGES

CHROMIUM = Path("/usr/bin/chromium")
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
PEPPER = "pepper-of-the-tests"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="no Chromium at /usr/bin/chromium: `apt-get install -y chromium` (.ci/run does)")

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def server(seeded: Seeded) -> Iterator[str]:
    """The app (API and dashboard) served on loopback in a thread; its base URL."""
    settings = Settings(database_url=seeded.url, api_key_pepper=SecretStr(PEPPER))
    config = uvicorn.Config(create_app(settings, migrate_on_start=False), host="127.0.0.1",
                            port=_free_port(), log_level="warning", access_log=False)
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, name="dashboard-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not running.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{config.port}"
    running.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless."""
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield launched
        launched.close()


@dataclass
class Watched:
    """A browser page and what it did: console errors, page errors, requests by host."""

    page: Any
    console_errors: list[tuple[str, str]] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    refusals: set[str] = field(default_factory=set)
    """Pages the test expects to be refused (401/403): Chromium logs their status."""

    def refused(self, url: str) -> None:
        """The page at ``url`` is expected to answer 401 or 403."""
        self.refusals.add(url)

    def assert_clean(self) -> None:
        """No console or page error (but the expected refusals' status), and no request left
        the host."""
        errors = [text for text, url in self.console_errors
                  if not (text.startswith("Failed to load resource") and url in self.refusals)]
        assert errors == [], errors
        assert self.blocked == [], f"requests that would have left the host: {self.blocked}"


@pytest.fixture
def watched(browser: Any) -> Iterator[Watched]:
    """A fresh browser context (no cookies) whose page is watched."""
    context = browser.new_context(viewport={"width": 1400, "height": 900},
                                  accept_downloads=True)
    page = context.new_page()
    seen = Watched(page)

    def route(found: Any) -> None:
        url = found.request.url
        seen.requests.append(url)
        host = urlparse(url).hostname or ""
        if url.startswith(("data:", "blob:")) or host in LOOPBACK:
            found.continue_()
        else:
            seen.blocked.append(url)
            found.abort()

    def console(message: Any) -> None:
        if message.type == "error":
            seen.console_errors.append((message.text, message.location.get("url", "")))

    context.route("**/*", route)
    page.on("console", console)
    page.on("pageerror", lambda error: seen.console_errors.append((str(error), "")))
    yield seen
    context.close()


def _sign_in(seen: Watched, server: str, key: str) -> None:
    seen.page.goto(server + "/")
    seen.page.fill("input[name=key]", key)
    seen.page.click("button[type=submit]")
    seen.page.wait_for_load_state()


def test_sign_in_refuses_a_wrong_key_and_accepts_a_valid_one(
    watched: Watched, server: str, seeded: Seeded
) -> None:
    watched.refused(server + "/login")
    _sign_in(watched, server, "ladder_000000000000_" + "A" * 43)
    assert watched.page.locator("[data-refused]").is_visible()
    assert watched.page.locator("[data-figure]").count() == 0
    assert watched.page.locator("nav").count() == 0

    _sign_in(watched, server, seeded.revoked_key)
    assert watched.page.locator("[data-refused]").is_visible()

    _sign_in(watched, server, seeded.keys[Role.VIEWER])
    assert watched.page.locator("h1").inner_text() == "Overview"
    assert watched.page.locator("[data-figure=realised_savings]").is_visible()
    cookies = watched.page.context.cookies()
    session = next(c for c in cookies if c["name"] == "ladder_session")
    assert session["httpOnly"] and session["sameSite"] == "Strict"
    assert watched.page.evaluate("document.cookie") == ""  # not readable by scripts

    watched.page.click("text=Sign out")
    watched.page.wait_for_load_state()
    assert watched.page.locator("input[name=key]").is_visible()
    watched.assert_clean()


@pytest.mark.parametrize("role", list(Role))
def test_each_page_renders_for_each_role_without_console_errors_or_outside_requests(
    watched: Watched, server: str, seeded: Seeded, role: Role
) -> None:
    _sign_in(watched, server, seeded.keys[role])
    for spec in PAGES:
        response = watched.page.goto(server + spec.path)
        assert response is not None
        allowed = spec.permission in GRANTS[role]
        if not allowed:
            watched.refused(server + spec.path)
        assert response.status == (200 if allowed else 403), (role, spec.path)
        if allowed:
            assert watched.page.locator("h1").count() == 1
        else:
            assert watched.page.locator("[data-figure]").count() == 0
    watched.assert_clean()
    assert any(url.endswith("/static/vendor/chart.umd.min.js") for url in watched.requests)


def test_the_overview_draws_its_charts_and_shows_each_figure_s_source(
    watched: Watched, server: str, seeded: Seeded
) -> None:
    _sign_in(watched, server, seeded.keys[Role.FINANCE])
    watched.page.goto(server + "/?period=quarter")
    watched.page.wait_for_load_state("networkidle")

    drawn = watched.page.evaluate(
        "Array.from(document.querySelectorAll('canvas')).map(c => !!Chart.getChart(c))")
    assert drawn and all(drawn), drawn
    figure = watched.page.locator("[data-figure=esr]")
    assert "/v1/reports/savings?" in (figure.get_attribute("title") or "")
    source, field_ = figure.get_attribute("data-source"), figure.get_attribute("data-field")
    served = watched.page.request.get(server + str(source),
                                      headers={"X-API-Key": seeded.keys[Role.FINANCE]}).json()
    value: Any = served
    for part in str(field_).split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]
    assert float(str(figure.get_attribute("data-value"))) == value
    watched.assert_clean()


def test_a_csv_download_equals_the_table_on_the_page(
    watched: Watched, server: str, seeded: Seeded
) -> None:
    _sign_in(watched, server, seeded.keys[Role.FINANCE])
    watched.page.goto(server + "/chargeback?period=quarter")
    cells = watched.page.eval_on_selector_all(
        "table[data-table=chargeback] tbody tr",
        "rows => rows.map(r => Array.from(r.cells).map(c => c.dataset.value))")
    with watched.page.expect_download() as download:
        watched.page.click("a[data-csv=chargeback]")
    text = Path(download.value.path()).read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text)))[1:]

    assert cells and len(rows) == len(cells)
    for csv_row, html_row in zip(rows, cells, strict=True):
        for value, raw_value in zip(csv_row, html_row, strict=True):
            try:
                assert float(value) == pytest.approx(float(raw_value), abs=0.005)
            except ValueError:
                assert value == raw_value
    watched.assert_clean()


def _fresh_plan(seeded: Seeded) -> int:
    with session_scope(seeded.engine) as session:
        return add_plan(session)


def _status(server: str, seeded: Seeded, watched: Watched, plan_id: int) -> str:
    response = watched.page.request.get(f"{server}/v1/plans/{plan_id}",
                                        headers={"X-API-Key": seeded.keys[Role.ADMIN]})
    return str(response.json()["status"])


def test_an_approver_approves_and_rejects_through_the_forms(
    watched: Watched, server: str, seeded: Seeded
) -> None:
    approve, reject = _fresh_plan(seeded), _fresh_plan(seeded)
    _sign_in(watched, server, seeded.keys[Role.APPROVER])

    watched.page.goto(f"{server}/plans/{approve}")
    form = watched.page.locator("form[data-action=approve]")
    form.locator("[name=reason]").fill("reviewed with finance")
    form.locator("button[type=submit]").click()
    watched.page.wait_for_load_state()
    assert watched.page.locator("[data-decided]").inner_text() == "Plan approved."
    assert watched.page.locator("[data-plan-status]").inner_text() == "approved"
    assert _status(server, seeded, watched, approve) == "approved"

    watched.page.goto(f"{server}/plans/{reject}")
    form = watched.page.locator("form[data-action=reject]")
    form.locator("[name=reason]").fill("too much upfront this quarter")
    form.locator("button[type=submit]").click()
    watched.page.wait_for_load_state()
    assert watched.page.locator("[data-plan-status]").inner_text() == "rejected"
    assert _status(server, seeded, watched, reject) == "rejected"
    watched.assert_clean()


def test_a_viewer_sees_no_forms_and_a_forged_post_is_refused(
    watched: Watched, server: str, seeded: Seeded
) -> None:
    plan_id = _fresh_plan(seeded)
    _sign_in(watched, server, seeded.keys[Role.VIEWER])
    watched.page.goto(f"{server}/plans/{plan_id}")
    assert watched.page.locator("form[data-action]").count() == 0

    # The viewer's own session posting as if the form were there: refused.
    refused = watched.page.request.post(f"{server}/plans/{plan_id}/approve",
                                        form={"reason": "forged"})
    assert refused.status == 403
    assert _status(server, seeded, watched, plan_id) == "proposed"
    watched.assert_clean()


def test_an_approver_s_post_without_the_csrf_token_is_refused(
    watched: Watched, server: str, seeded: Seeded
) -> None:
    plan_id = _fresh_plan(seeded)
    _sign_in(watched, server, seeded.keys[Role.APPROVER])
    watched.page.goto(f"{server}/plans/{plan_id}")
    # Remove the token from the real form, then submit it.
    watched.page.evaluate("document.querySelector('form[data-action=approve] "
                          "[name=csrf_token]').remove()")
    watched.page.locator("form[data-action=approve] button[type=submit]").click()
    watched.page.wait_for_load_state()

    assert watched.page.locator("[data-status='403']").is_visible()
    assert _status(server, seeded, watched, plan_id) == "proposed"
    watched.refused(f"{server}/plans/{plan_id}/approve")
    watched.assert_clean()


BILL_PAGES = ("/spend?period=quarter", "/spend-forecast", "/variance?as_of=2024-08-20",
              "/unit-cost?metric=requests&per=1000")
"""The whole bill's pages, each with its charts."""


def _served(watched: Watched, server: str, key: str, figure: Any) -> Any:
    """The ``/v1`` JSON at the figure's ``data-source`` and ``data-field``."""
    response = watched.page.request.get(server + str(figure.get_attribute("data-source")),
                                        headers={"X-API-Key": key})
    assert response.ok, figure.get_attribute("data-source")
    value: Any = response.json()
    for part in str(figure.get_attribute("data-field")).split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


@pytest.mark.parametrize("path", BILL_PAGES)
def test_the_whole_bill_s_pages_draw_their_charts_and_match_the_api(
    watched: Watched, server: str, seeded: Seeded, path: str
) -> None:
    key = seeded.keys[Role.FINANCE]
    _sign_in(watched, server, key)
    response = watched.page.goto(server + path)
    assert response is not None and response.status == 200
    watched.page.wait_for_load_state("networkidle")

    drawn = watched.page.evaluate(
        "Array.from(document.querySelectorAll('canvas')).map(c => !!Chart.getChart(c))")
    assert drawn and all(drawn), (path, drawn)
    cards = watched.page.locator(".card [data-figure]")
    assert cards.count() > 0
    for index in range(cards.count()):
        figure = cards.nth(index)
        assert figure.is_visible()
        raw = figure.get_attribute("data-value")
        served = _served(watched, server, key, figure)
        assert (float(str(raw)) == served) if raw else served is None, (path, raw, served)
    watched.assert_clean()


def test_the_forecast_chart_shades_its_intervals(
    watched: Watched, server: str, seeded: Seeded
) -> None:
    _sign_in(watched, server, seeded.keys[Role.FINANCE])
    watched.page.goto(server + "/spend-forecast")
    watched.page.wait_for_load_state("networkidle")

    fills = watched.page.evaluate(
        "Chart.getChart(document.getElementById('chart-forecast_daily'))"
        ".data.datasets.map(d => [d.label, d.fill])")
    legend = watched.page.evaluate(
        "Chart.getChart(document.getElementById('chart-forecast_daily'))"
        ".legend.legendItems.map(i => i.text)")
    assert dict(fills)["95 % high"] == "-1" and dict(fills)["80 % high"] == "-1"
    assert legend == ["Actual", "Forecast (median)"]
    watched.assert_clean()


def test_the_spend_form_regroups_and_its_csv_equals_the_table(
    watched: Watched, server: str, seeded: Seeded
) -> None:
    _sign_in(watched, server, seeded.keys[Role.ADMIN])
    watched.page.goto(server + "/spend")
    watched.page.select_option("select[name=group_by]", "service")
    watched.page.select_option("select[name=basis]", "cash")
    watched.page.click("form.period button[type=submit]")
    watched.page.wait_for_load_state("networkidle")
    assert "group_by=service" in watched.page.url and "basis=cash" in watched.page.url
    assert watched.page.locator("#table-by_group h2").inner_text() == "Spend by service"

    cells = watched.page.eval_on_selector_all(
        "table[data-table=by_group] tbody tr",
        "rows => rows.map(r => Array.from(r.cells).map(c => c.dataset.value))")
    with watched.page.expect_download() as download:
        watched.page.click("a[data-csv=by_group]")
    rows = list(csv.reader(io.StringIO(
        Path(download.value.path()).read_text(encoding="utf-8"))))[1:]
    assert cells and len(rows) == len(cells)
    for csv_row, html_row in zip(rows, cells, strict=True):
        assert csv_row[0] == html_row[0]
        for value, raw_value in zip(csv_row[1:], html_row[1:], strict=True):
            assert float(value) == pytest.approx(float(raw_value), abs=0.005)
    watched.assert_clean()
