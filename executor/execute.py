"""Turning an approved plan into provider calls, exactly once.

An action buys (``purchase``), exchanges an owned convertible commitment
(``exchange``) or hands a Savings Plan back (``return``). The protocol, for each
action of a plan (returns first, then the others in the plan's order):

1. **quote** a purchase, and refuse it if the provider's price moved from the
   plan's by more than :data:`PRICE_TOLERANCE`; quote an exchange, and refuse it
   when the provider says it is invalid or asks a true-up above the plan's cash
   effect (beyond the same tolerance); a return has no quote;
2. check the gates again (kill switch, blackout: a switch turned on mid-run
   stops the next purchase), the caps again when a return the plan counted on
   failed, and that this process still holds the run lock;
3. write the **intent** (status ``intent``, the idempotency key, the attempt)
   and **commit** it, before the provider is called;
4. call the provider (purchase, exchange or return) with the action's idempotency key;
5. write the **outcome** (``done`` with the commitment ids, ``ordered``,
   ``failed``) and commit; a ``done`` action updates the recorded commitments
   (what was bought or received is added, what was given up or returned is taken
   off). When the answer is lost (a timeout, a throttled or failed call, a crash),
   the action stays ``intent``/``unknown``, and a retry **looks before it buys**:
   ``find_order(key)`` says whether the order reached the provider; only
   ``not_found`` lets it place the order again, with the same key.

:meth:`Executor.reconcile` settles every unfinished action of a scope the same
way (``find_order``), and runs on start-up and before every run and every
execution.

The units: :mod:`executor.provider_calls` (the one retry loop every provider call goes
through), :mod:`executor.recording` (statuses, inventory and audit entries, a plan's
final status), :mod:`executor.reconcile` (reconciliation), :mod:`executor.placement`
(steps 1 to 5 for one action); this module admits a plan, places its actions in order
or dry-runs it, and reports. The executor owns its transactions, against the house rule that
services never commit, because exactly-once needs the intent durable before
the provider call and the outcome durable after it.

Dry run is the default: unless ``LADDER_EXECUTE_PROVIDERS`` names the provider,
an approved plan is only quoted, and stays approved.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from core.db import repository as core_repository
from core.db.models import ActionRow, PlanRow, utc_now
from core.db.session import session_scope
from core.domain import ActionKind
from core.errors import Conflict, NotFound, PolicyViolation
from core.settings import Settings
from executor import repository as repo
from executor.approval import POLICY_ACTOR, judge, valid_until
from executor.guardrails import Severity, Violation
from executor.lifecycle import PlanStatus, transition
from executor.locks import RunLock
from executor.outcomes import ActionOutcome, ExecutionReport
from executor.placement import (
    PRICE_TOLERANCE,
    PRICE_TOLERANCE_ABS,
    Placer,
    PlannedFigures,
    idempotency_key,
    quote_problem,
    request_of,
    would,
)
from executor.policy import load_policy
from executor.provider_calls import ProviderCalls, Request, RetryPolicy
from executor.reconcile import Reconciler, ReconcileReport, UnresolvedIntents
from executor.recording import ActionRecorder, ActionStatus
from providers.base import Market

__all__ = [
    "PRICE_TOLERANCE",
    "PRICE_TOLERANCE_ABS",
    "ActionOutcome",
    "ActionStatus",
    "ExecutionReport",
    "Executor",
    "ReconcileReport",
    "Request",
    "RetryPolicy",
    "UnresolvedIntents",
    "idempotency_key",
]


class Executor:
    """Executes approved plans of one provider through its market, and reconciles."""

    def __init__(
        self,
        engine: Engine,
        market: Market,
        *,
        settings: Settings,
        actor: str = "executor",
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.engine = engine
        self.market = market
        self.settings = settings
        self.actor = actor
        self.retry = retry or RetryPolicy.from_settings(settings)
        self.sleep = sleep
        self.clock = clock
        self._recorder = ActionRecorder(engine, actor=actor, clock=clock)
        self._calls = ProviderCalls(market, self.retry, sleep)
        self._reconciler = Reconciler(self._recorder, self._calls)
        self._placer = Placer(self._recorder, self._calls)

    def reconcile(self, provider: str, scope: str | None = None) -> ReconcileReport:
        """Settle every unfinished action of the provider (one scope, or all) with the market
        (:class:`executor.reconcile.Reconciler`)."""
        return self._reconciler.reconcile(provider, scope)

    def execute(self, plan_id: int, lock: RunLock) -> ExecutionReport:
        """Execute an approved plan (or resume an executing one), under the scope's run lock.

        Raises PolicyViolation when the policy blocks it now (the plan stays
        approved), Conflict when the plan is in no state to execute, and
        UnresolvedIntents when earlier orders cannot be checked.
        """
        lock.check()
        with session_scope(self.engine) as session:
            plan = core_repository.get_plan(session, plan_id)
            if plan is None:
                raise NotFound(f"no plan with id {plan_id}")
            provider, scope = plan.provider, plan.scope
        report = self.reconcile(provider, scope)
        if not report.clean:
            raise UnresolvedIntents(report.unresolved)
        dry_run = not self.settings.executes(provider)
        with self._recorder.tx() as session:
            plan = core_repository.get_plan(session, plan_id)
            assert plan is not None
            admitted, blocking = self._admit(session, plan, dry_run=dry_run)
            final = ExecutionReport.of(plan, dry_run=dry_run, violations=tuple(blocking))
        if not admitted:
            if blocking:
                raise PolicyViolation(f"plan {plan_id} cannot be executed now: "
                                      + "; ".join(v.message for v in blocking))
            return final
        if dry_run:
            return self._dry_run(plan_id)
        for position in self._pending_positions(plan_id):
            if not self._placer.place(plan_id, position, lock):
                break
        with self._recorder.tx() as session:
            plan = core_repository.get_plan(session, plan_id)
            assert plan is not None
            self._recorder.settle_plan(session, plan)
            return ExecutionReport.of(plan, dry_run=False)

    def _admit(self, session: Session, plan: PlanRow, *,
               dry_run: bool) -> tuple[bool, list[Violation]]:
        """Whether the plan may place actions now, and what blocks it if not.

        An approved plan is judged against the policy in force and moves to
        executing (unless dry run); an executing one (resumed) only needs to be
        still valid, as the gates are checked again before each purchase. A plan
        past its validity expires (approved) or stops placing (executing).
        """
        now = self.clock()
        if plan.status not in (PlanStatus.APPROVED, PlanStatus.EXECUTING):
            raise Conflict(f"plan {plan.id} is {plan.status}: only an approved plan is executed")
        stored = load_policy(session, plan.provider, plan.scope)
        until = valid_until(plan, stored.policy if stored else None)
        if plan.status == PlanStatus.EXECUTING:
            if now < until:
                return True, []
            self._recorder.settle_plan(session, plan)  # skips what was not placed in time
            return False, []
        if now >= until:
            transition(session, plan, PlanStatus.EXPIRED, actor=self.actor, now=now,
                       reason=f"the plan was valid until {until:%Y-%m-%d %H:%M} UTC; prices "
                              "and usage have moved since")
            return False, []
        violations = judge(session, plan, stored, now)
        # A person who approved accepted the limits; the policy's own approval did not.
        blocking = [v for v in violations if v.severity is not Severity.LIMIT
                    or plan.approved_by == POLICY_ACTOR]
        if blocking:
            plan.policy_reasons = [v.to_dict() for v in violations]
            session.flush()
            self._recorder.audit(session, "plan.execution_refused", f"plan:{plan.id}",
                                 reason="; ".join(v.message for v in blocking),
                                 violations=[v.to_dict() for v in blocking])
            return False, blocking
        if not dry_run:
            transition(session, plan, PlanStatus.EXECUTING, actor=self.actor, now=now,
                       reason=f"executing {len(plan.actions)} action(s) against {plan.provider}")
        return True, []

    def _pending_positions(self, plan_id: int) -> list[int]:
        """Positions still to place: returns first (what they give back is then known
        before anything is bought), then the others in the plan's order."""
        with session_scope(self.engine) as session:
            pending = repo.pending_actions(session, plan_id)
        return [position for position, kind in sorted(
            pending, key=lambda row: (row[1] != ActionKind.RETURN, row[0]))]

    def _request(self, plan: PlanRow, action: ActionRow) -> Request:
        """The provider request of an action, with its idempotency key."""
        return request_of(plan, action)

    def _write_intent(self, plan_id: int, position: int, key: str) -> None:
        """Commit the intent before the provider is called (compare-and-set on pending)."""
        self._placer.write_intent(plan_id, position, key)

    def _dry_run(self, plan_id: int) -> ExecutionReport:
        """Quote every action and say what would be bought; nothing changes state."""
        with session_scope(self.engine) as session:
            plan = core_repository.get_plan(session, plan_id)
            assert plan is not None
            requests = [(a.position, a.offering_id, a.quantity, request_of(plan, a),
                         PlannedFigures.of(a)) for a in plan.actions]
        outcomes = []
        for position, offering_id, quantity, request, planned in requests:
            quoted = self._calls.quote(request)
            detail = quote_problem(request, quoted, planned) or would(request, quoted)
            outcomes.append(ActionOutcome(position, offering_id, quantity, "dry_run",
                                          request.idempotency_key, (), detail))
        with self._recorder.tx() as session:
            plan = core_repository.get_plan(session, plan_id)
            assert plan is not None
            self._recorder.audit(
                session, "plan.dry_run", f"plan:{plan.id}",
                reason=f"{plan.provider} is not in LADDER_EXECUTE_PROVIDERS: quoted, "
                       "nothing bought",
                actions=[{"position": o.position, "offering_id": o.offering_id,
                          "quantity": o.quantity, "detail": o.detail} for o in outcomes])
            return ExecutionReport(plan.id, True, plan.status, tuple(outcomes))

    def resume(self, provider: str, scope: str, lock: RunLock) -> list[ExecutionReport]:
        """Carry on with the scope's executing plans (after a crash); their reports."""
        with session_scope(self.engine) as session:
            plan_ids = [p.id for p in repo.plans_in(session, provider, scope,
                                                    (PlanStatus.EXECUTING,))]
        return [self.execute(plan_id, lock) for plan_id in plan_ids]
