"""Plans for review: read them, approve or reject them through the executor's lifecycle.

Approval rules live in ``executor.approval``; this only shapes its results for
the API. Nothing here commits.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from api.keys.service import Caller
from api.plans import repository as repo
from api.plans.repository import PlanFilter
from api.plans.schemas import ActionRead, PlanDecision, PlanRead, PlanSummary, PolicyReason
from core.db import repository as core_repository
from core.db.models import PlanRow
from executor import approval
from executor.approval import Decision
from executor.guardrails import Violation
from executor.lifecycle import PlanStatus


def _summary_fields(row: PlanRow) -> dict[str, object]:
    return {name: getattr(row, name) for name in PlanSummary.model_fields
            if name != "actions_count"} | {"actions_count": len(row.actions)}


def plan_summary(row: PlanRow) -> PlanSummary:
    """A stored plan's headline figures."""
    return PlanSummary.model_validate(_summary_fields(row))


def plan_read(row: PlanRow) -> PlanRead:
    """A stored plan with its actions and the policy's reasons."""
    return PlanRead.model_validate(_summary_fields(row) | {
        "dataset_id": row.dataset_id,
        "solver_status": row.solver_status,
        "status_changed_at": row.status_changed_at,
        "policy_version": row.policy_version,
        "policy_reasons": [PolicyReason.model_validate(reason)
                           for reason in row.policy_reasons or []],
        "actions": [ActionRead.model_validate(action) for action in row.actions],
        "details": dict(row.details or {}),
    })


def list_plans(
    session: Session, where: PlanFilter, *, limit: int, offset: int
) -> tuple[list[PlanSummary], int]:
    """Plans matching ``where``, the newest first, and how many match in all."""
    rows, total = repo.list_plans(session, where, limit=limit, offset=offset)
    return [plan_summary(row) for row in rows], total


def get_plan(session: Session, plan_id: int) -> PlanRead | None:
    """One plan with its actions, or None."""
    row = core_repository.get_plan(session, plan_id)
    return None if row is None else plan_read(row)


def _reasons(violations: tuple[Violation, ...]) -> list[PolicyReason]:
    return [PolicyReason.model_validate(v.to_dict()) for v in violations]


def _decision(session: Session, decision: Decision) -> PlanDecision:
    row = core_repository.get_plan(session, decision.plan_id)
    assert row is not None  # the executor just moved it
    return PlanDecision(plan_id=decision.plan_id, status=PlanStatus(decision.status),
                        approved=decision.approved, policy_version=decision.policy_version,
                        violations=_reasons(decision.violations), plan=plan_read(row))


def approve(session: Session, plan_id: int, caller: Caller, *, note: str) -> PlanDecision:
    """Approve a proposed plan as the caller (NotFound, Conflict, PolicyViolation otherwise).

    A refused approval is audited: that entry is committed before the refusal is
    raised, since the request's transaction rolls back on the error.
    """
    decision = approval.decide(session, plan_id, actor=caller.actor, note=note)
    if decision.refused:
        session.commit()
        raise decision.refusal()
    return _decision(session, decision)


def reject(session: Session, plan_id: int, caller: Caller, *, reason: str) -> PlanDecision:
    """Reject a plan that is not executing yet, as the caller."""
    return _decision(session, approval.reject(session, plan_id, actor=caller.actor,
                                              reason=reason))
