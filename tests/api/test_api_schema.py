"""Property-based tests of the whole API against its own OpenAPI document (schemathesis).

Every operation is called with generated requests (valid and invalid) under an
admin key, on the real app and a real migrated database (its session commits):
no response may be a server error, and every response must match the schema —
its status code, content type, headers and body.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from api_factories import make_inventory, make_key, make_policy, make_run, store_plan

from api.app import create_app, engines_for
from api.roles import Role
from core.db.session import session_scope
from core.settings import Settings, get_settings

MAX_EXAMPLES = 25

# The schema is read from the app once; each test points the app at its database.
APP = create_app(get_settings(), migrate_on_start=False, run_launcher=lambda **_kwargs: None)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)
schema.config.generation.update(max_examples=MAX_EXAMPLES)


@schema.hook
def filter_query(_context: Any, query: dict[str, Any] | None) -> bool:
    """Keep periods whose start comes before their end: a rule OpenAPI cannot state."""
    if not query or not isinstance(query.get("start"), str) or not isinstance(
            query.get("end"), str):
        return True
    return bool(query["start"] < query["end"])


@pytest.fixture
def admin_key(ladder_settings: Settings) -> Iterator[str]:
    """Point the app at the test's migrated database, stocked a little; an admin key."""
    engines = engines_for(ladder_settings)
    with session_scope(engines.writer) as session:
        key = make_key(session, role=Role.ADMIN, name="schemathesis")
        make_inventory(session)
        make_policy(session)
        store_plan(session)
        make_run(session)
    APP.state.settings, APP.state.engines = ladder_settings, engines
    try:
        yield key
    finally:
        engines.reader.dispose()
        engines.writer.dispose()


@schema.parametrize()
# The database is shared by an operation's examples on purpose: they build on each other.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
          deadline=None)
def test_api_answers_every_request_within_its_schema(case: Any, admin_key: str) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {admin_key}"})
