"""The lifecycle of a plan: its statuses and the only transitions allowed between them.

::

    draft ──▶ proposed ──▶ approved ──▶ executing ──▶ executed
      │          │  │          │  │                 ├─▶ partially_executed
      │          │  │          │  │                 └─▶ failed
      └──────────┴──┴─▶ rejected ◀┘  │
                 └──────▶ expired ◀──┘

A plan older than its validity (``valid_until``) can no longer be approved or
executed: prices and usage have moved, so it expires. Every transition is a
compare-and-set on the plan's status (two processes cannot both move a plan
from the same status) and is written to the audit log in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from core.db.models import PlanRow, utc_now
from core.domain import PlanStatus
from core.errors import Conflict
from executor import audit

OPEN: tuple[PlanStatus, ...] = (PlanStatus.DRAFT, PlanStatus.PROPOSED, PlanStatus.APPROVED)
"""The statuses of a plan not yet decided or executed: the ones that can go stale."""

TRANSITIONS: Mapping[PlanStatus, frozenset[PlanStatus]] = {
    PlanStatus.DRAFT: frozenset({PlanStatus.PROPOSED, PlanStatus.REJECTED}),
    PlanStatus.PROPOSED: frozenset({PlanStatus.APPROVED, PlanStatus.REJECTED,
                                    PlanStatus.EXPIRED}),
    PlanStatus.APPROVED: frozenset({PlanStatus.EXECUTING, PlanStatus.REJECTED,
                                    PlanStatus.EXPIRED}),
    PlanStatus.EXECUTING: frozenset({PlanStatus.EXECUTED, PlanStatus.PARTIALLY_EXECUTED,
                                     PlanStatus.FAILED}),
    PlanStatus.REJECTED: frozenset(),
    PlanStatus.EXPIRED: frozenset(),
    PlanStatus.EXECUTED: frozenset(),
    PlanStatus.PARTIALLY_EXECUTED: frozenset(),
    PlanStatus.FAILED: frozenset(),
}
"""For each status, the statuses a plan may move to next."""

TERMINAL = frozenset(status for status, nexts in TRANSITIONS.items() if not nexts)
LIVE = frozenset({PlanStatus.DRAFT, PlanStatus.PROPOSED, PlanStatus.APPROVED})
"""Statuses of a plan that may still be executed one day."""


def check_transition(current: str, target: str) -> None:
    """Raise Conflict unless a plan may move from ``current`` to ``target``."""
    source, goal = PlanStatus(current), PlanStatus(target)
    if goal not in TRANSITIONS[source]:
        allowed = ", ".join(sorted(TRANSITIONS[source])) or "nothing (it is final)"
        raise Conflict(f"a plan cannot go from {source} to {goal}; from {source} it may go to "
                       f"{allowed}")


def plan_numbers(plan: PlanRow) -> dict[str, Any]:
    """The plan's figures as the audit log records them with every change of status."""
    return {
        "plan_id": plan.id,
        "provider": plan.provider,
        "scope": plan.scope,
        "created_at": plan.created_at,
        "window_start": plan.window_start,
        "window_hours": plan.window_hours,
        "on_demand_equivalent": plan.on_demand_equivalent,
        "cost_before": plan.cost_before,
        "cost_after": plan.cost_after,
        "expected_savings": plan.expected_savings,
        "esr_before": plan.esr_before,
        "esr_after": plan.esr_after,
        "upfront_cash": plan.upfront_cash,
        "monthly_commitment": plan.monthly_commitment,
        "new_hourly": sum(a.amortized_hourly_cost for a in plan.actions),
        "actions": [
            {"position": a.position, "kind": a.kind, "offering_id": a.offering_id,
             "quantity": a.quantity, "upfront_cost": a.upfront_cost,
             "amortized_hourly_cost": a.amortized_hourly_cost, "status": a.status}
            for a in plan.actions
        ],
    }


def transition(
    session: Session,
    plan: PlanRow,
    target: PlanStatus,
    *,
    actor: str,
    reason: str,
    data: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> None:
    """Move ``plan`` to ``target`` if allowed and if nobody moved it first; audit the change.

    Raises Conflict for a transition the lifecycle forbids, or when the plan's
    status in the database is no longer the one read (another process moved it).
    """
    check_transition(plan.status, target)
    audit.lock_chain(session)
    moment = now or utc_now()
    current = plan.status
    result = session.execute(
        update(PlanRow)
        .where(PlanRow.id == plan.id, PlanRow.status == current)
        .values(status=str(target), status_reason=reason, status_changed_at=moment)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(f"plan {plan.id} is no longer {current}: another process changed it")
    set_committed_value(plan, "status", str(target))
    set_committed_value(plan, "status_reason", reason)
    set_committed_value(plan, "status_changed_at", moment)
    audit.append(
        session, actor=actor, event="plan.status", subject=f"plan:{plan.id}", reason=reason,
        data={"from": current, "to": str(target), "plan": plan_numbers(plan), **(data or {})},
        at=moment,
    )
