"""Small typed factories for the API tests: keys, plans, runs, commitments, policies.

Import them as ``from api_factories import store_plan``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from factories import KEYS, make_catalog, make_plan
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from api.app import create_app
from api.deps import get_session, request_transaction
from api.keys.service import create_key
from api.roles import Role
from core.db import repository
from core.db.models import RunRow, utc_now
from core.domain import Commitment
from core.settings import Settings
from executor import repository as executor_repository
from executor.policy import ScopePolicy, save_policy

PROBLEM = "application/problem+json"
PEPPER = "pepper-of-the-tests"
"""The API key pepper of the apps the tests build, and of their keys."""


@dataclass
class RecordingLauncher:
    """A run launcher that records what it was asked to start."""

    calls: list[dict[str, str]] = field(default_factory=list)

    def __call__(self, *, provider: str, scope: str, actor: str) -> None:
        """Record the run instead of starting it."""
        self.calls.append({"provider": provider, "scope": scope, "actor": actor})


def use_session(app: FastAPI, session: Session) -> None:
    """Serve the app's requests on the test's session (with the production semantics)."""

    def test_session() -> Iterator[Session]:
        # What the test stored before the request is committed (to a savepoint of the
        # test's transaction), as it would be in a real database: a failing request
        # rolls back its own work only.
        session.commit()
        with request_transaction(session):
            yield session

    app.dependency_overrides[get_session] = test_session


def build_app(engine: Engine, session: Session | None, *, launcher: RecordingLauncher | None,
              max_body_bytes: int = 1024 * 1024) -> FastAPI:
    """The app on ``engine``, serving its requests on the test's session if given."""
    settings = Settings(database_url=engine.url.render_as_string(hide_password=False),
                        api_key_pepper=SecretStr(PEPPER))
    app = create_app(settings, engine=engine, run_launcher=launcher,
                     max_body_bytes=max_body_bytes, migrate_on_start=False)
    if session is not None:
        use_session(app, session)
    return app


def make_key(session: Session, *, role: Role = Role.ADMIN, name: str = "alice") -> str:
    """Create an API key and return the key itself."""
    return create_key(session, name=name, role=role, pepper=PEPPER, actor="test").key


def store_plan(
    session: Session,
    *,
    provider: str = "sample",
    scope: str = "all",
    status: str = "proposed",
    created_at: datetime | None = None,
    actions: int = 2,
) -> int:
    """Store a plan (created now unless said otherwise) and return its id."""
    plan = make_plan(actions=actions, created_at=created_at or utc_now())
    plan_id = repository.add_plan(session, provider=provider, dataset_id=None, plan=plan,
                                  build_seconds=0.1, solve_seconds=0.2, status=status,
                                  details={"keys": list(KEYS)})
    row = repository.get_plan(session, plan_id)
    assert row is not None
    row.scope = scope
    session.flush()
    return plan_id


def make_run(
    session: Session,
    *,
    provider: str = "sample",
    scope: str = "all",
    status: str = "succeeded",
    trigger: str = "cli",
    started_at: datetime | None = None,
) -> RunRow:
    """Store a run in ``status``."""
    run = executor_repository.add_run(session, provider=provider, scope=scope, trigger=trigger,
                                      actor="scheduler", mode="dry_run", host="test", pid=1)
    run.status = status
    if started_at is not None:
        run.started_at = started_at
    if status != "running":
        run.finished_at = run.started_at + timedelta(minutes=3)
        run.outcome = "dry_run"
        run.timings = {"plan": 12.5}
    session.flush()
    return run


def make_inventory(
    session: Session, *, provider: str = "sample", ends_in_days: tuple[float, ...] = (20, 400)
) -> None:
    """Store a catalog and one one-year commitment per entry, ending in that many days."""
    catalog = make_catalog()
    repository.upsert_catalog(session, provider, catalog)
    now = utc_now()
    offering = catalog.offerings[1]
    repository.replace_inventory(session, provider, [
        Commitment(offering=offering, quantity=2.0 + index,
                   start=now + timedelta(days=days) - offering.term_hours * timedelta(hours=1),
                   commitment_id=f"ri-{index}")
        for index, days in enumerate(ends_in_days)
    ])


def make_policy(
    session: Session, *, provider: str = "sample", scope: str = "all", **fields: Any
) -> None:
    """Store a policy for the scope."""
    save_policy(session, provider, scope, ScopePolicy(**fields), actor="test", reason="test policy")


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    """Check that the response is a problem document with ``status``; return it."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM), response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["title"]
    return body
