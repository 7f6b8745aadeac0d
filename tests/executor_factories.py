"""Factories and checks for the executor's tests: priced plans, markets, policies, consistency.

Import them as ``from executor_factories import store_plan`` (``tests/`` is on
``sys.path`` through its conftest).
"""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from factories import T0, make_catalog
from sqlalchemy import Connection, Engine, select, text
from sqlalchemy.orm import Session

from core.db import repository
from core.db.models import ActionRow, CommitmentRow, PlanRow, RunLockRow, RunRow, utc_now
from core.db.session import session_scope
from core.domain import HOURS_PER_MONTH, Action, ActionKind, Catalog, Plan
from executor import audit
from executor import repository as executor_repository
from executor.guardrails import INPUTS_KEY
from executor.locks import _ADVISORY_KEY
from executor.policy import ScopePolicy, save_policy
from providers.sample.market import SampleMarket

PROVIDER = "sample"
SCOPE = "all"
GENEROUS = ScopePolicy(max_run_hourly=1000.0, max_run_upfront=1e7, max_month_hourly=1e4,
                  max_month_upfront=1e8)
"""A policy every test plan is inside."""


def priced_plan(
    catalog: Catalog, quantities: Sequence[tuple[str, float]], *,
    created_at: datetime | None = None, upfront_scale: float = 1.0,
) -> Plan:
    """A plan buying ``(offering_id, quantity)`` at the catalog's prices (times a scale)."""
    actions = []
    for offering_id, quantity in quantities:
        offering = catalog.offering(offering_id)
        actions.append(Action(
            kind=ActionKind.PURCHASE, offering_id=offering_id, quantity=quantity,
            upfront_cost=quantity * offering.upfront * upfront_scale,
            hourly_cost=quantity * offering.hourly,
            amortized_hourly_cost=quantity * offering.amortized_hourly,
            reason=f"test purchase of {offering_id}",
        ))
    hourly = sum(a.amortized_hourly_cost for a in actions)
    return Plan(
        actions=tuple(actions), window_start=T0, window_hours=720,
        on_demand_equivalent=1000.0, cost_before=900.0, cost_after=800.0, esr_before=0.1,
        esr_after=0.2, upfront_cash=sum(a.upfront_cost for a in actions),
        monthly_commitment=hourly * HOURS_PER_MONTH, created_at=created_at,
    )


DEFAULT_BUYS = (("ri-1y/sample/acct-1/ec2/us-east-1/m5/linux/shared", 2.0),
                ("ri-1y/sample/acct-1/ec2/us-east-1/c5/linux/shared", 3.0))


def store_plan(
    session: Session,
    *,
    buys: Sequence[tuple[str, float]] = DEFAULT_BUYS,
    created_at: datetime | None = None,
    inputs: dict[str, Any] | None = None,
    upfront_scale: float = 1.0,
    catalog: Catalog | None = None,
) -> int:
    """Store the test catalog and a plan priced from it; return the plan's id."""
    catalog = catalog or make_catalog()
    repository.upsert_catalog(session, PROVIDER, catalog)
    plan = priced_plan(catalog, buys, created_at=created_at, upfront_scale=upfront_scale)
    details = {INPUTS_KEY: inputs} if inputs is not None else {
        INPUTS_KEY: {"low_forecast_hourly": 100.0, "committed_capacity_hourly": 10.0,
                     "expected_utilisation": [0.95] * len(buys)}}
    return repository.add_plan(session, provider=PROVIDER, dataset_id=None, plan=plan,
                               build_seconds=0.0, solve_seconds=0.0, details=details)


def set_policy(session: Session, policy: ScopePolicy = GENEROUS, *, actor: str = "alice") -> None:
    """Store ``policy`` for the test scope."""
    save_policy(session, PROVIDER, SCOPE, policy, actor=actor, reason="test policy")


def make_market(path: Path, catalog: Catalog | None = None) -> SampleMarket:
    """A simulated account selling the test catalog, kept in ``path``."""
    return SampleMarket(catalog or make_catalog(), path)


APPEND_ONLY_TRIGGER = (
    "CREATE TRIGGER audit_log_append_only BEFORE UPDATE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: entries cannot be updated'); END"
)


@contextmanager
def trigger_disabled(connection: Connection) -> Iterator[None]:
    """What someone with write access to the database could do: switch the guard off."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
        yield
        connection.execute(text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"))
    else:
        connection.execute(text("DROP TRIGGER audit_log_append_only"))
        yield
        connection.execute(text(APPEND_ONLY_TRIGGER))


def assert_consistent(engine: Engine, market: SampleMarket) -> None:
    """The provider saw each purchase at most once, and the database agrees with it.

    * no idempotency key was ordered twice;
    * every order the account accepted is an action ``done`` with the same ids;
    * every ``done`` action has its order; nothing is left unsettled;
    * every commitment bought is recorded; the audit chain verifies.
    """
    orders = market.orders()
    keys = [o["idempotency_key"] for o in orders]
    assert len(keys) == len(set(keys)), f"a purchase reached the provider twice: {keys}"
    with session_scope(engine) as session:
        actions = {a.idempotency_key: a for a in session.scalars(select(ActionRow))
                   if a.idempotency_key}
        unsettled = [(a.plan_id, a.position, a.status) for a in actions.values()
                     if a.status in ("intent", "unknown", "ordered")]
        assert not unsettled, f"actions left unsettled: {unsettled}"
        for order in orders:
            action = actions.get(order["idempotency_key"])
            assert action is not None, f"order {order['idempotency_key']} has no action"
            if order["status"] == "active":
                assert action.status == "done", (order, action.status)
                assert action.commitment_ids == order["commitment_ids"]
            else:
                assert action.status == "failed", (order, action.status)
        ordered = {o["idempotency_key"] for o in orders}
        for key, action in actions.items():
            if action.status == "done":
                assert key in ordered, f"action {key} is done but the provider has no order"
        bought = {cid for o in orders if o["status"] == "active" for cid in o["commitment_ids"]}
        recorded = set(session.scalars(select(CommitmentRow.commitment_id).where(
            CommitmentRow.provider == PROVIDER, CommitmentRow.commitment_id.is_not(None))))
        assert bought <= recorded, f"commitments not recorded: {bought - recorded}"
        executing = list(session.scalars(select(PlanRow.id).where(PlanRow.status == "executing")))
        assert not executing, f"plans left executing: {executing}"
    report = audit.verify_database(engine)
    assert report.ok, report.problems


@contextmanager
def lock_held_elsewhere(session: Session, engine: Engine, provider: str = PROVIDER,
                        scope: str = SCOPE) -> Iterator[None]:
    """The scope's run lock held by a live process on another machine, for the block.

    PostgreSQL: an advisory lock on a connection of its own, as a run holds it.
    SQLite: the lock row as that run keeps it, its lease still running (written in
    the test's session: another connection could not write beside it).
    """
    name = f"{provider}/{scope}"
    if engine.dialect.name == "postgresql":
        with engine.connect() as holder:
            holder.execute(text(f"SELECT pg_advisory_lock({_ADVISORY_KEY})"), {"name": name})
            holder.commit()
            try:
                yield
            finally:
                holder.execute(text(f"SELECT pg_advisory_unlock({_ADVISORY_KEY})"),
                               {"name": name})
                holder.commit()
        return
    now = utc_now()
    session.merge(RunLockRow(scope_key=name, owner="elsewhere:4242:cafe", host="elsewhere",
                             pid=4242, acquired_at=now, expires_at=now + timedelta(minutes=15)))
    session.flush()
    yield


def dead_pid() -> int:
    """The pid of a process of this machine that has ended."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def leave_killed_run(session: Session, *, provider: str = PROVIDER, scope: str = SCOPE,
                     host: str | None = None, pid: int | None = None,
                     lease_left: timedelta = timedelta(minutes=10)) -> RunRow:
    """What ``kill -9`` of a run leaves: its run row ``running`` and, on SQLite, its lock row
    with the lease still running (PostgreSQL drops the advisory lock with the connection)."""
    host = host or socket.gethostname()
    pid = pid if pid is not None else dead_pid()
    run = executor_repository.add_run(session, provider=provider, scope=scope, trigger="cli",
                                      actor="scheduler", mode="execute", host=host, pid=pid)
    if session.get_bind().dialect.name != "postgresql":
        now = utc_now()
        session.merge(RunLockRow(scope_key=f"{provider}/{scope}", owner=f"{host}:{pid}:dead",
                                 host=host, pid=pid, acquired_at=now - timedelta(minutes=5),
                                 expires_at=now + lease_left))
    session.flush()
    return run
