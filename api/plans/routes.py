"""Routes of ``/v1/plans``: list, show, approve, reject."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from api.deps import PlanDecider, Reader, SessionDep
from api.errors import CONFLICT, NOT_FOUND, Responses, problem_doc
from api.params import Name, Page, PageDep, PeriodDep, ProviderName
from api.plans import service
from api.plans.repository import PlanFilter
from api.plans.schemas import PlanApprove, PlanDecision, PlanRead, PlanReject, PlanSummary
from core.errors import NotFound
from executor.lifecycle import PlanStatus

router = APIRouter(prefix="/plans", tags=["plans"])

PlanId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The plan's id.")]
POLICY_VIOLATION: Responses = {403: problem_doc(
    "The key's role does not allow this, or the plan breaks a rule of its policy that no "
    "approver can accept (the policy must change first).")}


@router.get("", summary="List plans")
def list_plans(
    session: SessionDep,
    _caller: Reader,
    page: PageDep,
    period: PeriodDep,
    provider: Annotated[ProviderName | None,
                        Query(description="Only this provider's plans.")] = None,
    scope: Annotated[Name | None, Query(description="Only this scope's plans.")] = None,
    status: Annotated[PlanStatus | None, Query(description="Only plans in this status.")] = None,
) -> Page[PlanSummary]:
    """Plans, the newest first; ``start``/``end`` filter on when they were created."""
    where = PlanFilter(provider=provider, scope=scope, status=status,
                       created_from=period.start_at, created_before=period.end_at)
    items, total = service.list_plans(session, where, limit=page.limit, offset=page.offset)
    return page.page(items, total)


@router.get("/{plan_id}", responses=NOT_FOUND, summary="Show a plan")
def get_plan(plan_id: PlanId, session: SessionDep, _caller: Reader) -> PlanRead:
    """One plan: its figures, every action with its reason, and the policy's objections."""
    plan = service.get_plan(session, plan_id)
    if plan is None:
        raise NotFound(f"no plan with id {plan_id}")
    return plan


@router.post("/{plan_id}/approve", responses=NOT_FOUND | CONFLICT | POLICY_VIOLATION,
             summary="Approve a plan")
def approve_plan(
    plan_id: PlanId, session: SessionDep, caller: PlanDecider, body: PlanApprove | None = None
) -> PlanDecision:
    """Approve a proposed plan, accepting the policy's ``limit`` objections, if any.

    A plan past its validity is expired instead (``approved`` false). A plan that
    breaks a ``rule`` of the policy cannot be approved (403).
    """
    return service.approve(session, plan_id, caller, note=(body or PlanApprove()).note)


@router.post("/{plan_id}/reject", responses=NOT_FOUND | CONFLICT, summary="Reject a plan")
def reject_plan(
    plan_id: PlanId, body: PlanReject, session: SessionDep, caller: PlanDecider
) -> PlanDecision:
    """Reject a plan that is not executing yet, saying why."""
    return service.reject(session, plan_id, caller, reason=body.reason)
