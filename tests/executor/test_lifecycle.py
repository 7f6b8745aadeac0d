"""The plan lifecycle: only the allowed transitions, compare-and-set, each one audited."""

from __future__ import annotations

import importlib
import itertools

import pytest
from executor_factories import store_plan
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from core.db.models import AuditEntryRow, PlanRow
from core.errors import Conflict
from executor.lifecycle import TERMINAL, TRANSITIONS, PlanStatus, check_transition, transition

ALLOWED = {
    ("draft", "proposed"), ("draft", "rejected"),
    ("proposed", "approved"), ("proposed", "rejected"), ("proposed", "expired"),
    ("approved", "executing"), ("approved", "rejected"), ("approved", "expired"),
    ("executing", "executed"), ("executing", "partially_executed"), ("executing", "failed"),
}


PLAN_STATUSES = tuple(str(s) for s in PlanStatus)


def test_the_statuses_are_the_databases() -> None:
    """The statuses the migrations let the plans table hold are the enum's, no more, no less."""
    executor_schema = importlib.import_module("core.migrations.versions.0002_executor")
    assert set(PLAN_STATUSES) == set(executor_schema.PLAN_STATUSES)
    assert set(TRANSITIONS) == set(PlanStatus)


@pytest.mark.parametrize(("source", "target"),
                         list(itertools.product(PLAN_STATUSES, PLAN_STATUSES)))
def test_only_the_lifecycles_transitions_are_allowed(source: str, target: str) -> None:
    if (source, target) in ALLOWED:
        check_transition(source, target)
    else:
        with pytest.raises(Conflict, match=f"cannot go from {source} to {target}"):
            check_transition(source, target)


def test_final_statuses_go_nowhere() -> None:
    assert {str(s) for s in TERMINAL} == {"rejected", "expired", "executed",
                                          "partially_executed", "failed"}


def test_a_transition_is_audited_with_the_plans_numbers(session: Session) -> None:
    plan_id = store_plan(session)
    plan = session.get(PlanRow, plan_id)
    assert plan is not None
    transition(session, plan, PlanStatus.APPROVED, actor="alice", reason="looks right")

    assert plan.status == "approved" and plan.status_reason == "looks right"
    entry = session.scalars(select(AuditEntryRow).where(
        AuditEntryRow.subject == f"plan:{plan_id}")).one()
    assert (entry.actor, entry.event, entry.reason) == ("alice", "plan.status", "looks right")
    assert entry.data["from"] == "proposed" and entry.data["to"] == "approved"
    numbers = entry.data["plan"]
    assert numbers["upfront_cash"] == pytest.approx(plan.upfront_cash)
    assert [a["offering_id"] for a in numbers["actions"]] == [a.offering_id
                                                             for a in plan.actions]


def test_a_plan_moved_by_someone_else_meanwhile_is_a_conflict(session: Session) -> None:
    plan_id = store_plan(session)
    plan = session.get(PlanRow, plan_id)
    assert plan is not None
    session.execute(update(PlanRow).where(PlanRow.id == plan_id).values(status="rejected")
                    .execution_options(synchronize_session=False))
    set_committed_value(plan, "status", "proposed")  # what this process read earlier
    with pytest.raises(Conflict, match="another process changed it"):
        transition(session, plan, PlanStatus.APPROVED, actor="alice", reason="too late")


def test_the_database_refuses_an_unknown_status(session: Session) -> None:
    plan_id = store_plan(session)
    with pytest.raises(Exception, match=r"(?i)check"), session.begin_nested():
        session.execute(update(PlanRow).where(PlanRow.id == plan_id)
                        .values(status="bought")
                        .execution_options(synchronize_session=False))
