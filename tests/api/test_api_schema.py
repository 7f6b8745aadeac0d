"""Property-based tests of the whole API against its own OpenAPI document (schemathesis).

Every operation is called with generated requests (valid and invalid) under an
admin key, on the real app and a real migrated database (its session commits):
no response may be a server error, and every response must match the schema —
its status code, content type, headers and body.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import schemathesis
from api_factories import PEPPER, make_inventory, make_key, make_policy, make_run, store_plan
from hypothesis import HealthCheck, settings
from pydantic import SecretStr
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation.modes import GenerationMode

from api.app import create_app, engines_for
from api.roles import Role
from core.db.session import session_scope
from core.settings import Settings, get_settings
from executor.policy import shortest_interval
from executor.webhooks import url_problem

QUICK_EXAMPLES = 10
"""Examples per operation in the default run (with the coverage phase: about 50 s)."""
THOROUGH_EXAMPLES = 200
"""Examples per operation in the run marked slow."""

# The schema is read from the app once; each test points the app at its database.
APP = create_app(get_settings(), migrate_on_start=False, run_launcher=lambda **_kwargs: None)
quick = schemathesis.openapi.from_asgi("/openapi.json", APP)
quick.config.generation.update(max_examples=QUICK_EXAMPLES)
thorough = schemathesis.openapi.from_asgi("/openapi.json", APP)
thorough.config.generation.update(max_examples=THOROUGH_EXAMPLES)


# Rules the OpenAPI document states in words only, not in JSON Schema: generated
# requests are held to them, so that a 422 for breaking one is not counted as a
# valid request refused.


def _positive(case: Any) -> bool:
    meta = getattr(case, "meta", None)
    return meta is None or meta.generation.mode == GenerationMode.POSITIVE


def filter_case(_context: Any, case: Any) -> bool:
    """A period's start comes before its end; a tag's value needs its key (and a budget's
    tag both); grouping by tag needs the tag's key."""
    query = case.query if isinstance(case.query, dict) else {}
    start, end = query.get("start"), query.get("end")
    if isinstance(start, str) and isinstance(end, str) and start >= end:
        return False
    if _positive(case):
        if query.get("tag_value") is not None and query.get("tag_key") is None:
            return False
        if query.get("group_by") == "tag" and query.get("tag_key") is None:
            return False
        body = case.body if isinstance(case.body, dict) else {}
        if case.method.upper() in ("POST", "PATCH") and (body.get("tag_key") is None) != (
                body.get("tag_value") is None):
            return False
    return True


def _valid_blackout(window: Any) -> Any:
    if not isinstance(window, dict):
        return window
    reason = window.get("reason") if isinstance(window.get("reason"), str) else ""
    if "cron" in window or "hours" in window:
        return {"cron": "0 0 25 12 *", "hours": 24.0, "reason": reason}
    return {"start": "2026-12-24T00:00:00Z", "end": "2026-12-26T00:00:00Z", "reason": reason}


def _runnable(schedule: str) -> bool:
    """A five-field cron expression that runs at most hourly (the server's default minimum)."""
    try:
        return shortest_interval(schedule) >= timedelta(hours=1)
    except ValueError:
        return False


def map_case(_context: Any, case: Any) -> Any:
    """A policy's schedule is a cron expression; a blackout is fixed or recurring, not both;
    a webhook is an http(s) URL that reaches no metadata service."""
    body = case.body
    if not _positive(case) or not isinstance(body, dict) or not isinstance(
            body.get("policy"), dict):
        return case
    policy = body["policy"]
    schedule = policy.get("schedule")
    if isinstance(schedule, str) and not _runnable(schedule):
        policy["schedule"] = "0 6 * * 1"
    if isinstance(policy.get("webhook_urls"), list):
        policy["webhook_urls"] = [url if isinstance(url, str) and url_problem(url) is None
                                  else "https://hooks.example/ladder"
                                  for url in policy["webhook_urls"]]
    if isinstance(policy.get("blackouts"), list):
        policy["blackouts"] = [_valid_blackout(window) for window in policy["blackouts"]]
    return case


for _schema in (quick, thorough):
    _schema.hook(filter_case)
    _schema.hook(map_case)


@pytest.fixture
def admin_key(ladder_settings: Settings) -> Iterator[str]:
    """Point the app at the test's migrated database, stocked a little; an admin key."""
    settings = ladder_settings.model_copy(update={"api_key_pepper": SecretStr(PEPPER)})
    engines = engines_for(settings)
    with session_scope(engines.writer) as session:
        key = make_key(session, role=Role.ADMIN, name="schemathesis")
        make_inventory(session)
        make_policy(session)
        store_plan(session)
        make_run(session)
    APP.state.settings, APP.state.engines = settings, engines
    try:
        yield key
    finally:
        engines.reader.dispose()
        engines.writer.dispose()


SETTINGS = settings(suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow], deadline=None)
"""An operation's examples share its database on purpose: they build on each other."""
QUICK_SETTINGS = settings(SETTINGS, derandomize=True)
"""The default run draws the same examples every time, so CI is reproducible; the run
marked slow draws new ones each time and explores."""


def auth_headers(case: Any, key: str) -> dict[str, str]:
    """The admin key, unless the case's headers are its invalid part.

    A negative case may make the ``Authorization`` header the thing that is wrong;
    replacing it with a valid key would turn the case into a valid request, which
    the API rightly accepts and schemathesis then reports as invalid data accepted.
    Such a case is sent as generated (the API must refuse it: 401 or 422).
    """
    meta = getattr(case, "meta", None)
    header = meta.components.get(ParameterLocation.HEADER) if meta is not None else None
    if header is not None and header.mode == GenerationMode.NEGATIVE:
        return {}
    return {"Authorization": f"Bearer {key}"}


@quick.parametrize()
@QUICK_SETTINGS
def test_api_answers_every_request_within_its_schema(case: Any, admin_key: str,
                                                     backend: str) -> None:
    if backend != "sqlite":
        pytest.skip("the quick run is on SQLite; the slow run covers PostgreSQL too")
    case.call_and_validate(headers=auth_headers(case, admin_key))


@pytest.mark.slow
@thorough.parametrize()
@SETTINGS
def test_api_answers_many_more_requests_within_its_schema(case: Any, admin_key: str) -> None:
    case.call_and_validate(headers=auth_headers(case, admin_key))
