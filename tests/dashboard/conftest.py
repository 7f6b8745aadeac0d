"""Fixtures of the dashboard tests: a SQLite database seeded with the bundled sample, keys of
every role, the app on it, clients signed in by role, and fresh plans to decide.

The database is made once per test session (ingesting the sample and building its
reporting facts takes seconds); tests that change it decide plans of their own
(``fresh_plan``), so they never disturb each other.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "api"))

from api_factories import build_app, make_key, make_run, store_plan

from api.keys.service import revoke_key
from api.roles import Role
from core.db import repository
from core.db.session import create_engine_for, migrate, session_scope
from core.settings import sqlite_url
from ladder.pipeline import store_usage
from providers.focus import read_focus
from providers.sample import SampleProvider
from reporting import BudgetSpec, Scope, create_budget, refresh_facts

PLAN_DETAILS = {"certified_gap": 0.036, "loss_before_cvar": 412.5, "loss_after_cvar": 301.25,
                "cvar_alpha": 0.9,
                "actions": [{"savings_median": 120.5, "savings_bad": -4.25,
                             "expected_utilisation": 0.97},
                            {"savings_median": 80.0, "savings_bad": 10.0,
                             "expected_utilisation": 0.91}]}
"""Risk figures as the forecast planner records them (``optimizer/portfolio_plan.py``)."""


@dataclass(frozen=True, slots=True)
class Seeded:
    """The seeded database: its URL and engine, a key per role, a revoked key, a plan."""

    url: str
    engine: Engine
    keys: dict[Role, str]
    revoked_key: str
    plan_id: int


def seed_sample(session: Session) -> None:
    """Ingest the bundled sample (usage, FOCUS cost lines, catalog, inventory), build its
    reporting facts, and store a budget and a run."""
    provider = SampleProvider()
    usage = read_focus(provider.usage_paths()[0])
    store_usage(session, usage, provider="sample")
    repository.upsert_catalog(session, "sample", provider.catalog())
    repository.replace_inventory(session, "sample", list(provider.inventory(usage.start)))
    refresh_facts(session, "sample")
    create_budget(session, BudgetSpec(name="sample compute, monthly", amount=40_000.0,
                                      scope=Scope(provider="sample")))
    make_run(session)


def add_plan(session: Session) -> int:
    """A proposed plan of the sample with the planner's risk figures in its details."""
    plan_id = store_plan(session)
    row = repository.get_plan(session, plan_id)
    assert row is not None
    row.details = {**dict(row.details or {}), **PLAN_DETAILS}
    session.flush()
    return plan_id


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """The sample in a SQLite database of the session, with keys of every role."""
    url = sqlite_url(tmp_path_factory.mktemp("dashboard") / "ladder.db")
    migrate(url)
    engine = create_engine_for(url)
    with session_scope(engine) as session:
        seed_sample(session)
        keys = {role: make_key(session, role=role, name=f"{role}-holder") for role in Role}
        revoked = make_key(session, role=Role.ADMIN, name="gone")
        plan_id = add_plan(session)
    with session_scope(engine) as session:
        from api.keys.repository import find_by_prefix

        prefix = revoked.split("_")[1]
        found = find_by_prefix(session, prefix)
        assert found is not None
        revoke_key(session, found.id, actor="test")
    yield Seeded(url, engine, keys, revoked, plan_id)
    engine.dispose()


@pytest.fixture(scope="session")
def dashboard_app(seeded: Seeded) -> FastAPI:
    """The app (API and dashboard) on the seeded database."""
    return build_app(seeded.engine, None, launcher=None)


@pytest.fixture
def client(dashboard_app: FastAPI) -> Iterator[TestClient]:
    """A client with cookies of its own, signed in as no one."""
    with TestClient(dashboard_app) as test_client:
        yield test_client


def sign_in(client: TestClient, key: str) -> None:
    """Sign the client in with the key through the form."""
    response = client.post("/login", data={"key": key}, follow_redirects=False)
    assert response.status_code == 303, response.text


@pytest.fixture
def signed_in(client: TestClient, seeded: Seeded) -> Callable[[Role], TestClient]:
    """``signed_in(role)``: the client, signed in with that role's key."""

    def as_role(role: Role) -> TestClient:
        sign_in(client, seeded.keys[role])
        return client

    return as_role


@pytest.fixture
def fresh_plan(seeded: Seeded) -> int:
    """A proposed plan of the test's own."""
    with session_scope(seeded.engine) as session:
        return add_plan(session)
