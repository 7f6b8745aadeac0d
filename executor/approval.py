"""Approvals: automatic inside the policy, otherwise by a person with the approver role.

:func:`review` judges a proposed plan against its scope's policy. Inside every
limit (and with a policy that approves automatically) the plan is approved by
``policy``; otherwise it stays ``proposed``, the reasons are stored on the plan
(``policy_reasons``, ``status_reason``), and it waits for :func:`approve` or
:func:`reject`. An approver may accept ``limit`` violations, never ``rule`` ones
(the policy must change first); ``block`` violations (kill switch, blackout) do
not prevent approval but keep the executor from buying while they hold.

A refused approval is a result, not an error: :func:`decide` audits it in the
caller's transaction and returns it (``Decision.refused``), so that the refusal
is kept by a caller that commits and then reports ``Decision.refusal()``.
:func:`approve` raises that error itself, for callers that need no audit trail
of refusals (a caller that rolls back on error loses the entry).

Services here flush and never commit; each takes the audit chain's lock first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from core.db import repository as core_repository
from core.db.models import PlanRow, utc_now
from core.errors import Conflict, Forbidden, NotFound, PolicyViolation
from executor import audit
from executor import repository as repo
from executor.guardrails import (
    Severity,
    Violation,
    evaluate,
    manual_only,
    no_policy,
    plan_facts,
    received_offering_ids,
)
from executor.lifecycle import OPEN, PlanStatus, transition
from executor.policy import ScopePolicy, StoredPolicy, load_policy

APPROVER = "approver"
"""The role a person needs to approve or reject plans."""
POLICY_ACTOR = "policy"
"""The ``approved_by`` of a plan approved automatically."""


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: a person (with roles) or a part of Ladder (``scheduler``, ``executor``)."""

    name: str
    roles: frozenset[str] = field(default_factory=frozenset)

    def require(self, role: str) -> None:
        """Raise Forbidden unless the actor has ``role``."""
        if role not in self.roles:
            raise Forbidden(f"{self.name} does not have the {role} role")


@dataclass(frozen=True, slots=True)
class Decision:
    """Where a plan stands after a review or an approval, and why."""

    plan_id: int
    status: str
    violations: tuple[Violation, ...]
    policy_version: int | None
    refused: bool = False
    """A person asked to approve and the policy's rules forbid it (the plan is unchanged)."""

    @property
    def approved(self) -> bool:
        """Whether the plan is approved."""
        return self.status == PlanStatus.APPROVED

    @property
    def reasons(self) -> list[str]:
        """The violations' messages."""
        return [v.message for v in self.violations]

    def refusal(self) -> PolicyViolation:
        """The error that reports a refused approval (the rules it breaks)."""
        rules = "; ".join(v.message for v in self.violations if v.severity is Severity.RULE)
        return PolicyViolation(f"plan {self.plan_id} cannot be approved: {rules}")


def load_plan(session: Session, plan_id: int) -> PlanRow:
    """The plan with its actions, or NotFound."""
    plan = core_repository.get_plan(session, plan_id)
    if plan is None:
        raise NotFound(f"no plan with id {plan_id}")
    return plan


def valid_until(plan: PlanRow, policy: ScopePolicy | None) -> datetime:
    """When the plan stops being executable (its own stamp, else the policy's validity)."""
    if plan.valid_until is not None:
        return plan.valid_until
    hours = (policy or ScopePolicy()).plan_validity_hours
    return plan.created_at + timedelta(hours=hours)


def judge(
    session: Session, plan: PlanRow, stored: StoredPolicy | None, now: datetime
) -> list[Violation]:
    """Every violation of the scope's policy by the plan (a missing policy is one)."""
    if stored is None:
        return [no_policy(plan.provider, plan.scope)]
    offerings = repo.offerings_by_id(session, plan.provider, received_offering_ids(plan))
    month = repo.spend_to_date(session, plan.provider, plan.scope,
                               since=repo.month_start(now), exclude_plan_id=plan.id)
    violations = evaluate(stored.policy, plan_facts(plan, offerings), month=month, now=now)
    if not stored.policy.auto_approve:
        violations.append(manual_only(stored.version))
    return violations


def _store_reasons(plan: PlanRow, stored: StoredPolicy | None,
                   violations: list[Violation]) -> None:
    plan.policy_reasons = [v.to_dict() for v in violations]
    plan.policy_version = stored.version if stored is not None else None


def _judge_live(session: Session, plan: PlanRow, *, actor: str,
                now: datetime) -> tuple[StoredPolicy | None, list[Violation]] | None:
    """The scope's policy and the plan's violations of it; None when the plan expired instead."""
    stored = load_policy(session, plan.provider, plan.scope)
    policy = stored.policy if stored is not None else None
    if plan.valid_until is None:
        plan.valid_until = valid_until(plan, policy)
    if _expire_if_stale(session, plan, policy, actor=actor, now=now):
        return None
    return stored, judge(session, plan, stored, now)


def _expire_if_stale(session: Session, plan: PlanRow, policy: ScopePolicy | None, *, actor: str,
                     now: datetime) -> bool:
    until = valid_until(plan, policy)
    if now < until:
        return False
    transition(session, plan, PlanStatus.EXPIRED, actor=actor, now=now,
               reason=f"the plan was valid until {until:%Y-%m-%d %H:%M} UTC; prices and usage "
                      "have moved since")
    return True


def review(
    session: Session, plan_id: int, *, actor: str = POLICY_ACTOR, now: datetime | None = None
) -> Decision:
    """Judge a proposed plan; approve it if it is inside the policy, else hold it with reasons."""
    audit.lock_chain(session)
    moment = now or utc_now()
    plan = load_plan(session, plan_id)
    if plan.status == PlanStatus.DRAFT:
        transition(session, plan, PlanStatus.PROPOSED, actor=actor, now=moment,
                   reason="proposed for review")
    if plan.status != PlanStatus.PROPOSED:
        raise Conflict(f"plan {plan_id} is {plan.status}: only a proposed plan is reviewed")
    judged = _judge_live(session, plan, actor=actor, now=moment)
    if judged is None:
        return Decision(plan.id, plan.status, (), plan.policy_version)
    stored, violations = judged
    _store_reasons(plan, stored, violations)
    if not violations:
        assert stored is not None
        plan.approved_by, plan.approved_at = POLICY_ACTOR, moment
        session.flush()
        transition(session, plan, PlanStatus.APPROVED, actor=POLICY_ACTOR, now=moment,
                   reason=f"inside every limit of policy v{stored.version}",
                   data={"policy_version": stored.version})
    else:
        plan.status_reason = "waiting for an approver: " + "; ".join(v.message
                                                                     for v in violations)
        session.flush()
        audit.append(session, actor=actor, event="plan.held", subject=f"plan:{plan.id}",
                     reason=plan.status_reason, at=moment,
                     data={"violations": [v.to_dict() for v in violations],
                           "policy_version": plan.policy_version})
    return Decision(plan.id, plan.status, tuple(violations), plan.policy_version)


def decide(
    session: Session, plan_id: int, *, actor: Actor, note: str = "", now: datetime | None = None
) -> Decision:
    """A person approves a proposed plan, accepting its ``limit`` violations, if any.

    A plan that breaks a ``rule`` is refused: the refusal is audited in the
    caller's transaction and returned (``refused``), the plan left as it was.
    A plan past its validity is expired instead.
    """
    actor.require(APPROVER)
    audit.lock_chain(session)
    moment = now or utc_now()
    plan = load_plan(session, plan_id)
    if plan.status != PlanStatus.PROPOSED:
        raise Conflict(f"plan {plan_id} is {plan.status}: only a proposed plan can be approved")
    judged = _judge_live(session, plan, actor=actor.name, now=moment)
    if judged is None:
        return Decision(plan.id, plan.status, (), plan.policy_version)
    stored, violations = judged
    rules = [v for v in violations if v.severity is Severity.RULE]
    if rules:
        session.flush()
        audit.append(session, actor=actor.name, event="plan.approval_refused",
                     subject=f"plan:{plan.id}", at=moment,
                     reason="; ".join(v.message for v in rules),
                     data={"violations": [v.to_dict() for v in rules]})
        return Decision(plan.id, plan.status, tuple(violations),
                        stored.version if stored is not None else None, refused=True)
    _store_reasons(plan, stored, violations)
    accepted = [v for v in violations if v.severity is Severity.LIMIT]
    plan.approved_by, plan.approved_at = actor.name, moment
    session.flush()
    reason = note or "approved by a person"
    if accepted:
        reason += "; accepted: " + "; ".join(v.message for v in accepted)
    transition(session, plan, PlanStatus.APPROVED, actor=actor.name, reason=reason, now=moment,
               data={"accepted": [v.to_dict() for v in accepted],
                     "policy_version": plan.policy_version})
    return Decision(plan.id, plan.status, tuple(violations), plan.policy_version)


def approve(
    session: Session, plan_id: int, *, actor: Actor, note: str = "", now: datetime | None = None
) -> Decision:
    """:func:`decide`, raising PolicyViolation when the approval is refused.

    The refusal's audit entry is in the caller's transaction: a caller that
    rolls back on error loses it (call :func:`decide` to keep it).
    """
    decision = decide(session, plan_id, actor=actor, note=note, now=now)
    if decision.refused:
        raise decision.refusal()
    return decision


def reject(
    session: Session, plan_id: int, *, actor: Actor, reason: str, now: datetime | None = None
) -> Decision:
    """A person rejects a plan that is not executing yet."""
    actor.require(APPROVER)
    audit.lock_chain(session)
    plan = load_plan(session, plan_id)
    transition(session, plan, PlanStatus.REJECTED, actor=actor.name,
               reason=reason or "rejected by a person", now=now)
    return Decision(plan.id, plan.status, (), plan.policy_version)


def expire_stale(
    session: Session, provider: str, scope: str, *, actor: str, now: datetime | None = None
) -> list[int]:
    """Expire the scope's proposed and approved plans past their validity; their ids."""
    audit.lock_chain(session)
    moment = now or utc_now()
    stored = load_policy(session, provider, scope)
    policy = stored.policy if stored is not None else None
    expired = []
    for plan in repo.plans_in(session, provider, scope, OPEN):
        if _expire_if_stale(session, plan, policy, actor=actor, now=moment):
            expired.append(plan.id)
    return expired


def supersede(
    session: Session, plan_id: int, *, actor: str, now: datetime | None = None
) -> list[int]:
    """Expire the scope's other live plans: a newer plan replaces them. Their ids."""
    audit.lock_chain(session)
    plan = load_plan(session, plan_id)
    older = [p for p in repo.plans_in(session, plan.provider, plan.scope,
                                      OPEN) if p.id != plan.id]
    for other in older:
        transition(session, other, PlanStatus.EXPIRED, actor=actor, now=now,
                   reason=f"superseded by plan {plan.id}")
    return [p.id for p in older]
