"""Helpers of the dashboard tests (importable by name, unlike a conftest): the seeded
database's description, the sample's seeding, plans with risk figures, signing in."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

# The API's and the reports' test factories, as pytest would put them on the path.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "api"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "reporting"))

from api_factories import make_run, store_plan
from bill_factories import store_bill
from reporting_factories import store_sample

from api.roles import Role
from core.db import repository
from reporting import BudgetSpec, Scope, create_budget
from reporting.spend import SpendScope
from reporting.spend_budgets import SpendBudgetSpec, create_spend_budget
from reporting.unit_cost import metric_point, store_metrics

SAMPLE_BILL = (Path(__file__).resolve().parents[2] / "providers" / "sample" / "data"
               / "bill.parquet")
"""The sample's whole bill (its EC2 usage and the rest: storage, database, network, …)."""
SAMPLE_DAYS = [date(2024, 6, 1) + timedelta(days=n) for n in range(92)]
"""The sample's days (June to August 2024)."""

PLAN_DETAILS = {"certified_gap": 0.036, "loss_before_cvar": 412.5, "loss_after_cvar": 301.25,
                "cvar_alpha": 0.9,
                "actions": [{"savings_median": 120.5, "savings_bad": -4.25,
                             "expected_utilisation": 0.97},
                            {"savings_median": 80.0, "savings_bad": 10.0,
                             "expected_utilisation": 0.91}]}
"""Risk figures as the forecast planner records them (``optimizer/stochastic_plan.py``)."""


@dataclass(frozen=True, slots=True)
class Seeded:
    """The seeded database: its URL and engine, a key per role, a revoked key, a plan."""

    url: str
    engine: Engine
    keys: dict[Role, str]
    revoked_key: str
    plan_id: int


def seed_sample(session: Session) -> None:
    """Ingest the bundled sample (usage, FOCUS cost lines, catalog, inventory) and its whole
    bill, build its reporting facts, and store a budget, a monthly spend budget, business
    metrics (requests on the whole bill, GB stored by the storage services) and a run."""
    store_sample(session)
    store_bill(session, SAMPLE_BILL, provider="sample")
    create_budget(session, BudgetSpec(name="sample compute, monthly", amount=40_000.0,
                                      scope=Scope(provider="sample")))
    create_spend_budget(session, SpendBudgetSpec(name="sample bill, monthly", amount=45_000.0,
                                                 scope=SpendScope(provider="sample")))
    store_metrics(session, [
        *(metric_point(day, "requests", 2_000_000 + 25_000 * n + 300_000 * (day.weekday() < 5))
          for n, day in enumerate(SAMPLE_DAYS)),
        *(metric_point(day, "gb_stored", 40_000 + 150 * n, "service_category=Storage")
          for n, day in enumerate(SAMPLE_DAYS))], source="dashboard tests")
    make_run(session)


def add_plan(session: Session) -> int:
    """A proposed plan of the sample with the planner's risk figures in its details."""
    plan_id = store_plan(session)
    row = repository.get_plan(session, plan_id)
    assert row is not None
    row.details = {**dict(row.details or {}), **PLAN_DETAILS}
    session.flush()
    return plan_id


def sign_in(client: TestClient, key: str) -> None:
    """Sign the client in with the key through the form."""
    response = client.post("/login", data={"key": key}, follow_redirects=False)
    assert response.status_code == 303, response.text
