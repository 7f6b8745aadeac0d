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
execution. The executor owns its transactions, against the house rule that
services never commit, because exactly-once needs the intent durable before
the provider call and the outcome durable after it.

Dry run is the default: unless ``LADDER_EXECUTE_PROVIDERS`` names the provider,
an approved plan is only quoted, and stays approved.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from core.db import repository as core_repository
from core.db.models import ActionRow, PlanRow, utc_now
from core.db.session import session_scope
from core.domain import ActionKind
from core.errors import Conflict, NotFound, PolicyViolation, ProviderError
from core.settings import Settings
from executor import audit
from executor import repository as repo
from executor.approval import POLICY_ACTOR, judge, valid_until
from executor.guardrails import (
    CAPS,
    GATES,
    Severity,
    SpendToDate,
    Violation,
    evaluate,
    plan_facts,
)
from executor.lifecycle import PlanStatus, transition
from executor.locks import RunLock
from executor.policy import load_policy
from providers.base import (
    ExchangeRequest,
    Market,
    OrderResult,
    OrderStatus,
    PurchaseRequest,
    Quote,
    ReturnRequest,
)

Request = PurchaseRequest | ExchangeRequest | ReturnRequest
"""What one action asks of the provider."""

PRICE_TOLERANCE = 0.01
"""Relative difference between a quote and the plan's price that still counts as the same."""
PRICE_TOLERANCE_ABS = 0.01
"""Absolute difference (dollars) that always counts as the same (rounding)."""


class ActionStatus:
    """Statuses of an action (strings, as stored)."""

    PENDING = "pending"
    INTENT = "intent"
    UNKNOWN = "unknown"
    ORDERED = "ordered"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"


_FROM_ORDER = {
    OrderStatus.ACTIVE: ActionStatus.DONE,
    OrderStatus.PENDING: ActionStatus.ORDERED,
    OrderStatus.FAILED: ActionStatus.FAILED,
}


def idempotency_key(plan: PlanRow, action: ActionRow) -> str:
    """The action's idempotency key: readable ids, and a digest of what makes it unique.

    The digest covers the provider, the plan's id and creation time (two
    databases never share both), the action's position, offering and quantity,
    and for an exchange or a return its kind, the commitment it gives up and what
    it receives. At most 64 characters (AWS client tokens).
    """
    parts = [plan.provider, plan.scope, str(plan.id), plan.created_at.isoformat(),
             str(action.position), action.offering_id, repr(float(action.quantity))]
    if action.kind != ActionKind.PURCHASE:
        parts += [action.kind, action.commitment_id or "", action.target_offering_id or "",
                  repr(float(action.target_quantity or 0.0))]
    material = "|".join(parts)
    digest = hashlib.sha256(material.encode("utf-8")).hexdigest()[:32]
    return f"ladder-p{plan.id}-a{action.position}-{digest}"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently provider calls are retried."""

    attempts: int = 5
    base_s: float = 1.0
    max_s: float = 60.0

    def delay(self, attempt: int, error: ProviderError | None = None) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based)."""
        if error is not None and error.retry_after_s is not None:
            return min(float(error.retry_after_s), self.max_s)
        return min(self.base_s * 2 ** (attempt - 1), self.max_s)

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        """The retry policy the settings ask for."""
        return cls(attempts=settings.provider_retry_attempts,
                   base_s=settings.provider_retry_base_s)


@dataclass(frozen=True, slots=True)
class ActionOutcome:
    """Where one action ended."""

    position: int
    offering_id: str
    quantity: float
    status: str
    idempotency_key: str | None = None
    commitment_ids: tuple[str, ...] = ()
    detail: str = ""


@dataclass(frozen=True, slots=True)
class ExecutionReport:
    """What an execution did: the plan's status after it, and each action's."""

    plan_id: int
    dry_run: bool
    plan_status: str
    actions: tuple[ActionOutcome, ...]
    violations: tuple[Violation, ...] = ()

    @property
    def bought(self) -> tuple[ActionOutcome, ...]:
        """Actions that bought something."""
        return tuple(a for a in self.actions if a.status in (ActionStatus.DONE,
                                                             ActionStatus.ORDERED))


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    """What a reconciliation settled, and what it could not."""

    checked: int = 0
    settled: dict[str, int] = field(default_factory=dict)
    unresolved: tuple[str, ...] = ()
    plans_finished: tuple[int, ...] = ()

    @property
    def clean(self) -> bool:
        """Whether every unfinished action was settled."""
        return not self.unresolved


class UnresolvedIntents(ProviderError):
    """Some intents could not be settled with the provider: nothing is bought until they are."""

    def __init__(self, keys: tuple[str, ...]) -> None:
        super().__init__(
            f"{len(keys)} earlier order(s) could not be checked with the provider "
            f"({', '.join(keys[:3])}{'…' if len(keys) > 3 else ''}); nothing is bought until "
            "they are settled", retryable=True, code="UnresolvedIntents")
        self.keys = keys


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

    # --- transactions -----------------------------------------------------------------------

    @contextmanager
    def _tx(self) -> Iterator[Session]:
        """One committed transaction that may append to the audit log (chain locked first)."""
        with session_scope(self.engine) as session:
            audit.lock_chain(session)
            yield session

    def _audit(self, session: Session, event: str, subject: str, reason: str = "",
               **data: object) -> None:
        audit.append(session, actor=self.actor, event=event, subject=subject, reason=reason,
                     data=data, at=self.clock())

    # --- provider calls with retries ----------------------------------------------------------

    def _find_order(self, key: str) -> OrderResult | None:
        """``find_order`` with retries; None when the provider could not answer."""
        for attempt in range(1, self.retry.attempts + 1):
            try:
                return self.market.find_order(key)
            except ProviderError as exc:
                if not exc.retryable or attempt == self.retry.attempts:
                    return None
                self.sleep(self.retry.delay(attempt, exc))
        return None  # pragma: no cover - the loop always returns

    def _quote(self, request: Request) -> Quote | ProviderError | None:
        """The request's quote with retries; the last error when it never answered.

        None for a return, which providers do not quote.
        """
        if isinstance(request, ReturnRequest):
            return None
        error = ProviderError("no attempt made")
        for attempt in range(1, self.retry.attempts + 1):
            try:
                if isinstance(request, ExchangeRequest):
                    return self.market.quote_exchange(request)
                return self.market.quote_purchase(request)
            except ProviderError as exc:
                error = exc
                if not exc.retryable or attempt == self.retry.attempts:
                    break
                self.sleep(self.retry.delay(attempt, exc))
        return error

    # --- reconciliation ---------------------------------------------------------------------

    def reconcile(self, provider: str, scope: str | None = None) -> ReconcileReport:
        """Settle every unfinished action of the provider (one scope, or all) with the market.

        ``not_found`` means the order never reached the provider: the action goes
        back to ``pending`` and may be placed again, with the same key. Plans whose
        actions are all settled get their final status.
        """
        with session_scope(self.engine) as session:
            actions = [(a.id, a.idempotency_key, a.status)
                       for a in repo.unfinished_actions(session, provider, scope)]
        settled: dict[str, int] = {}
        unresolved: list[str] = []
        for action_id, key, status in actions:
            if key is None:  # an intent is always written with its key; never guess
                unresolved.append(f"action {action_id} (no key)")
                continue
            found = self._find_order(key)
            if found is None:
                unresolved.append(key)
                continue
            outcome = self._settle_action(action_id, status, found, event="reconcile")
            settled[outcome] = settled.get(outcome, 0) + 1
        finished = self._finish_plans(provider, scope)
        return ReconcileReport(len(actions), settled, tuple(unresolved), tuple(finished))

    def _settle_action(self, action_id: int, status: str, found: OrderResult, *,
                       event: str) -> str:
        """Record what ``find_order`` said of an unfinished action; its new status."""
        if found.status is OrderStatus.NOT_FOUND and status == ActionStatus.ORDERED:
            # Accepted once, gone now: not owned, and never bought again automatically.
            new = ActionStatus.FAILED
            detail = ("the provider accepted this order earlier and no longer has it: it is "
                      "not owned; check with the provider before buying it again")
        elif found.status is OrderStatus.NOT_FOUND:
            new = ActionStatus.PENDING
            detail = "the provider has no order with this key: nothing was bought"
        else:
            new, detail = _FROM_ORDER[found.status], found.detail
        with self._tx() as session:
            action = session.get(ActionRow, action_id)
            assert action is not None
            if action.status != status:  # settled meanwhile by someone else
                return action.status
            plan = action.plan
            self._record(session, plan, action, new, found.commitment_ids, detail)
            self._audit(session, f"{event}.find_order", f"action:{plan.id}/{action.position}",
                        reason=detail or f"the provider says {found.status}",
                        idempotency_key=found.idempotency_key, provider_status=found.status,
                        commitment_ids=list(found.commitment_ids), status=new)
        return new

    def _record(self, session: Session, plan: PlanRow, action: ActionRow, status: str,
                commitment_ids: tuple[str, ...], detail: str) -> None:
        action.status = status
        action.error = detail or None
        if commitment_ids or status == ActionStatus.DONE:
            action.commitment_ids = list(commitment_ids)
        if status in (ActionStatus.DONE, ActionStatus.FAILED, ActionStatus.SKIPPED):
            action.finished_at = self.clock()
        if status == ActionStatus.DONE:
            self._record_inventory(session, plan, action, commitment_ids)
        session.flush()

    def _record_inventory(self, session: Session, plan: PlanRow, action: ActionRow,
                          commitment_ids: tuple[str, ...]) -> None:
        """What a done action changes in the recorded commitments, until the inventory syncs."""
        if action.kind == ActionKind.RETURN:
            repo.give_up_commitment(session, provider=plan.provider,
                                    commitment_id=action.commitment_id or "")
            return
        if action.kind == ActionKind.EXCHANGE:
            repo.give_up_commitment(session, provider=plan.provider,
                                    commitment_id=action.commitment_id or "",
                                    quantity=action.quantity)
            repo.record_commitments(session, provider=plan.provider,
                                    offering_id=action.target_offering_id or "",
                                    commitment_ids=commitment_ids,
                                    quantity=action.target_quantity, start=self.clock())
            return
        repo.record_commitments(session, provider=plan.provider, offering_id=action.offering_id,
                                commitment_ids=commitment_ids, quantity=action.quantity,
                                start=self.clock())

    def _finish_plans(self, provider: str, scope: str | None) -> list[int]:
        """Give executing plans whose actions are all settled their final status."""
        finished = []
        with session_scope(self.engine) as session:
            plan_ids = [p.id for p in repo.plans_in(session, provider, scope, ("executing",))]
        for plan_id in plan_ids:
            with self._tx() as session:
                plan = core_repository.get_plan(session, plan_id)
                if plan is not None and self._settle_plan(session, plan):
                    finished.append(plan_id)
        return finished

    def _settle_plan(self, session: Session, plan: PlanRow) -> bool:
        """Final status of an executing plan once nothing is left to place; True if set."""
        statuses = [a.status for a in plan.actions]
        if any(s in repo.UNFINISHED for s in statuses):
            return False
        now = self.clock()
        if ActionStatus.PENDING in statuses:
            until = valid_until(plan, None)
            if now < until:
                return False  # still valid: the next execution places the rest
            for action in plan.actions:
                if action.status == ActionStatus.PENDING:
                    self._record(session, plan, action, ActionStatus.SKIPPED, (),
                                 f"not placed: the plan expired at {until:%Y-%m-%d %H:%M} UTC")
            statuses = [a.status for a in plan.actions]
        done = statuses.count(ActionStatus.DONE)
        if done == len(statuses):
            target, reason = PlanStatus.EXECUTED, f"all {done} action(s) bought"
        elif done == 0:
            target, reason = PlanStatus.FAILED, "no action bought anything"
        else:
            target = PlanStatus.PARTIALLY_EXECUTED
            reason = f"{done} of {len(statuses)} action(s) bought"
        transition(session, plan, target, actor=self.actor, reason=reason, now=now)
        return True

    # --- execution --------------------------------------------------------------------------

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
        with self._tx() as session:
            plan = core_repository.get_plan(session, plan_id)
            assert plan is not None
            admitted, blocking = self._admit(session, plan, dry_run=dry_run)
            final = self._report(plan, dry_run=dry_run, violations=tuple(blocking))
        if not admitted:
            if blocking:
                raise PolicyViolation(f"plan {plan_id} cannot be executed now: "
                                      + "; ".join(v.message for v in blocking))
            return final
        if dry_run:
            return self._dry_run(plan_id)
        for position in self._pending_positions(plan_id):
            if not self._place(plan_id, position, lock):
                break
        with self._tx() as session:
            plan = core_repository.get_plan(session, plan_id)
            assert plan is not None
            self._settle_plan(session, plan)
            return self._report(plan, dry_run=False)

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
            self._settle_plan(session, plan)  # skips what was not placed in time
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
            self._audit(session, "plan.execution_refused", f"plan:{plan.id}",
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
            rows = session.execute(
                select(ActionRow.position, ActionRow.kind)
                .where(ActionRow.plan_id == plan_id, ActionRow.status == ActionStatus.PENDING)
                .order_by(ActionRow.position)).all()
        return [position for position, kind in sorted(
            rows, key=lambda row: (row.kind != ActionKind.RETURN, row.position))]

    def _request(self, plan: PlanRow, action: ActionRow) -> Request:
        """The provider request of an action, with its idempotency key."""
        key = action.idempotency_key or idempotency_key(plan, action)
        if action.kind == ActionKind.EXCHANGE:
            return ExchangeRequest(idempotency_key=key,
                                   commitment_ids=(action.commitment_id or "",),
                                   target_offering_id=action.target_offering_id or "",
                                   quantity=action.target_quantity,
                                   give_quantity=action.quantity)
        if action.kind == ActionKind.RETURN:
            return ReturnRequest(idempotency_key=key, commitment_id=action.commitment_id or "")
        limit = action.upfront_cost * (1 + PRICE_TOLERANCE) + PRICE_TOLERANCE_ABS
        return PurchaseRequest(idempotency_key=key, offering_id=action.offering_id,
                               quantity=action.quantity, limit_upfront=limit)

    def _call(self, request: Request) -> OrderResult:
        """Place the order: the one provider call that commits money."""
        if isinstance(request, ExchangeRequest):
            return self.market.exchange(request)
        if isinstance(request, ReturnRequest):
            return self.market.return_commitment(request)
        return self.market.purchase(request)

    def _dry_run(self, plan_id: int) -> ExecutionReport:
        """Quote every action and say what would be bought; nothing changes state."""
        with session_scope(self.engine) as session:
            plan = core_repository.get_plan(session, plan_id)
            assert plan is not None
            requests = [(a.position, a.offering_id, a.quantity, self._request(plan, a),
                         _Planned.of(a)) for a in plan.actions]
        outcomes = []
        for position, offering_id, quantity, request, planned in requests:
            quoted = self._quote(request)
            detail = _quote_problem(request, quoted, planned) or _would(request, quoted)
            outcomes.append(ActionOutcome(position, offering_id, quantity, "dry_run",
                                          request.idempotency_key, (), detail))
        with self._tx() as session:
            plan = core_repository.get_plan(session, plan_id)
            assert plan is not None
            self._audit(session, "plan.dry_run", f"plan:{plan.id}",
                        reason=f"{plan.provider} is not in LADDER_EXECUTE_PROVIDERS: quoted, "
                               "nothing bought",
                        actions=[{"position": o.position, "offering_id": o.offering_id,
                                  "quantity": o.quantity, "detail": o.detail}
                                 for o in outcomes])
            return ExecutionReport(plan.id, True, plan.status, tuple(outcomes))

    def _gates(self, session: Session, plan: PlanRow) -> list[Violation]:
        stored = load_policy(session, plan.provider, plan.scope)
        if stored is None:
            return []
        now = self.clock()
        return evaluate(stored.policy, plan_facts(plan, {}), month=SpendToDate(0.0, 0.0, now),
                        now=now, checks=GATES)

    def _caps_lost(self, session: Session, plan: PlanRow, position: int) -> list[Violation]:
        """Caps broken now because a return the plan counted on was not made.

        Judged only before an action that is not a return, in a plan that has
        returns (they are placed first): the caps are evaluated with the returns
        that are not done and the actions that failed or were skipped left out; a
        cap broken now that the plan as approved did not break stops the plan.
        """
        kinds = {a.position: a.kind for a in plan.actions}
        if kinds.get(position) == ActionKind.RETURN or ActionKind.RETURN not in kinds.values():
            return []
        stored = load_policy(session, plan.provider, plan.scope)
        if stored is None:
            return []
        now = self.clock()
        month = repo.spend_to_date(session, plan.provider, plan.scope,
                                   since=repo.month_start(now), exclude_plan_id=plan.id)
        facts = plan_facts(plan, {})
        status = {a.position: a.status for a in plan.actions}
        counted = tuple(a for a in facts.actions
                        if status[a.position] not in (ActionStatus.FAILED, ActionStatus.SKIPPED)
                        and (a.kind != ActionKind.RETURN
                             or status[a.position] == ActionStatus.DONE))
        approved = {v.check for v in evaluate(stored.policy, facts, month=month, now=now,
                                              checks=CAPS)}
        return [replace(v, message=f"a return this plan counted on was not made: {v.message}")
                for v in evaluate(stored.policy, replace(facts, actions=counted), month=month,
                                  now=now, checks=CAPS)
                if v.check not in approved]

    def _place(self, plan_id: int, position: int, lock: RunLock) -> bool:
        """Place one pending action; False when the plan must stop (a gate closed)."""
        with session_scope(self.engine) as session:
            plan = core_repository.get_plan(session, plan_id)
            assert plan is not None
            action = next(a for a in plan.actions if a.position == position)
            subject = f"action:{plan.id}/{position}"
            request = self._request(plan, action)
            planned = _Planned.of(action)
        quoted = self._quote(request)
        problem = _quote_problem(request, quoted, planned)
        not_done = _WORDS[type(request)].not_done
        if quoted is not None or problem:
            with self._tx() as session:
                self._audit(session, "provider.quote", subject,
                            reason=problem or f"quoted before {_WORDS[type(request)].verb}",
                            **_request_data(request), quote=_quote_data(quoted),
                            planned_upfront=planned.upfront, planned_hourly=planned.hourly,
                            planned_cash_effect=planned.cash_effect)
                if problem:
                    action = _action(session, plan_id, position)
                    self._record(session, action.plan, action, ActionStatus.FAILED, (),
                                 f"{not_done}: {problem}")
                    return True
        with self._tx() as session:
            plan = core_repository.get_plan(session, plan_id)
            assert plan is not None
            closed = self._gates(session, plan) or self._caps_lost(session, plan, position)
            if closed:
                reason = "; ".join(v.message for v in closed)
                self._audit(session, "plan.stopped", f"plan:{plan_id}", reason=reason,
                            violations=[v.to_dict() for v in closed])
                return False
        lock.check()
        for attempt in range(1, self.retry.attempts + 1):
            self._write_intent(plan_id, position, request.idempotency_key)
            try:
                result = self._call(request)
            except ProviderError as exc:
                self._record_call(plan_id, position, request, error=exc)
                found = self._find_order(request.idempotency_key)
                if found is None:
                    return False  # unknown: left for reconciliation, never bought blind
                if found.status is not OrderStatus.NOT_FOUND:
                    self._settle_action_by_id(plan_id, position, found)
                    return True
                if not exc.retryable or attempt == self.retry.attempts:
                    self._fail(plan_id, position, f"{not_done}: the provider refused "
                               f"({exc.code or 'error'}: {exc}) and has no order with this key")
                    return True
                self._back_to_pending(plan_id, position)
                self.sleep(self.retry.delay(attempt, exc))
                lock.check()
                continue
            except Exception as exc:
                self._record_call(plan_id, position, request,
                                  error=ProviderError(f"{type(exc).__name__}: {exc}"))
                raise
            self._record_call(plan_id, position, request, result=result)
            return True
        return True  # pragma: no cover - the loop always returns

    def _write_intent(self, plan_id: int, position: int, key: str) -> None:
        """Commit the intent before the provider is called (compare-and-set on pending)."""
        with self._tx() as session:
            action = _action(session, plan_id, position)
            changed = session.execute(
                update(ActionRow)
                .where(ActionRow.id == action.id, ActionRow.status == ActionStatus.PENDING)
                .values(status=ActionStatus.INTENT, idempotency_key=key,
                        intent_at=self.clock(), attempts=ActionRow.attempts + 1)
                .execution_options(synchronize_session=False)
            ).rowcount  # type: ignore[attr-defined]
            if changed != 1:
                raise Conflict(f"action {position + 1} of plan {plan_id} is no longer pending: "
                               "another process is placing it")
            extra: dict[str, object] = {} if action.kind == ActionKind.PURCHASE else {
                "kind": action.kind, "commitment_id": action.commitment_id,
                "target_offering_id": action.target_offering_id,
                "target_quantity": action.target_quantity, "cash_effect": action.cash_effect}
            self._audit(session, "action.intent", f"action:{plan_id}/{position}",
                        reason="about to call the provider", idempotency_key=key,
                        attempt=action.attempts + 1, offering_id=action.offering_id,
                        quantity=action.quantity, upfront_cost=action.upfront_cost,
                        amortized_hourly_cost=action.amortized_hourly_cost, **extra)

    def _record_call(self, plan_id: int, position: int, request: Request, *,
                     result: OrderResult | None = None,
                     error: ProviderError | None = None) -> None:
        """Write the provider's answer (or the error) of a purchase, exchange or return."""
        with self._tx() as session:
            action = _action(session, plan_id, position)
            if result is not None:
                status = _FROM_ORDER.get(result.status, ActionStatus.UNKNOWN)
                self._record(session, action.plan, action, status, result.commitment_ids,
                             result.detail)
            else:
                action.status, action.error = ActionStatus.UNKNOWN, str(error)
                session.flush()
            self._audit(
                session, f"provider.{_WORDS[type(request)].operation}",
                f"action:{plan_id}/{position}",
                reason=(f"the provider answered {result.status}" if result is not None
                        else f"no answer: {error}"),
                **_request_data(request),
                provider_status=result.status if result is not None else None,
                commitment_ids=list(result.commitment_ids) if result is not None else [],
                error=None if error is None else {"message": str(error), "code": error.code,
                                                  "retryable": error.retryable})

    def _settle_action_by_id(self, plan_id: int, position: int, found: OrderResult) -> None:
        with session_scope(self.engine) as session:
            action = _action(session, plan_id, position)
            action_id, status = action.id, action.status
        self._settle_action(action_id, status, found, event="retry")

    def _back_to_pending(self, plan_id: int, position: int) -> None:
        """The provider confirmed it has no order: the action may be placed again."""
        with self._tx() as session:
            action = _action(session, plan_id, position)
            action.status = ActionStatus.PENDING
            session.flush()
            self._audit(session, "action.retry", f"action:{plan_id}/{position}",
                        reason="the provider has no order with this key: trying again",
                        idempotency_key=action.idempotency_key)

    def _fail(self, plan_id: int, position: int, detail: str) -> None:
        with self._tx() as session:
            action = _action(session, plan_id, position)
            self._record(session, action.plan, action, ActionStatus.FAILED, (), detail)
            self._audit(session, "action.failed", f"action:{plan_id}/{position}", reason=detail,
                        idempotency_key=action.idempotency_key)

    @staticmethod
    def _report(plan: PlanRow, *, dry_run: bool,
                violations: tuple[Violation, ...] = ()) -> ExecutionReport:
        return ExecutionReport(
            plan.id, dry_run, plan.status,
            tuple(ActionOutcome(a.position, a.offering_id, a.quantity, a.status,
                                a.idempotency_key, tuple(a.commitment_ids or ()), a.error or "")
                  for a in plan.actions),
            violations,
        )

    def resume(self, provider: str, scope: str, lock: RunLock) -> list[ExecutionReport]:
        """Carry on with the scope's executing plans (after a crash); their reports."""
        with session_scope(self.engine) as session:
            plan_ids = [p.id for p in repo.plans_in(session, provider, scope, ("executing",))]
        return [self.execute(plan_id, lock) for plan_id in plan_ids]


def _action(session: Session, plan_id: int, position: int) -> ActionRow:
    action = session.scalar(select(ActionRow).where(ActionRow.plan_id == plan_id,
                                                    ActionRow.position == position))
    if action is None:
        raise NotFound(f"plan {plan_id} has no action {position + 1}")
    return action


@dataclass(frozen=True, slots=True)
class _Planned:
    """The plan's figures of an action that a quote is held against."""

    upfront: float
    hourly: float
    cash_effect: float

    @classmethod
    def of(cls, action: ActionRow) -> _Planned:
        return cls(action.upfront_cost, action.hourly_cost, action.cash_effect)


@dataclass(frozen=True, slots=True)
class _Words:
    """How the audit log and the outcomes name one kind of provider call."""

    operation: str
    """The audit event: ``provider.<operation>``."""
    verb: str
    not_done: str


_WORDS = {PurchaseRequest: _Words("purchase", "buying", "not bought"),
          ExchangeRequest: _Words("exchange", "exchanging", "not exchanged"),
          ReturnRequest: _Words("return", "returning", "not returned")}


def _request_data(request: Request) -> dict[str, object]:
    """The request as the audit log keeps it."""
    if isinstance(request, ExchangeRequest):
        return {"idempotency_key": request.idempotency_key,
                "given_commitment_ids": list(request.commitment_ids),
                "give_quantity": request.give_quantity,
                "target_offering_id": request.target_offering_id, "quantity": request.quantity}
    if isinstance(request, ReturnRequest):
        return {"idempotency_key": request.idempotency_key,
                "commitment_id": request.commitment_id}
    return {"idempotency_key": request.idempotency_key, "offering_id": request.offering_id,
            "quantity": request.quantity, "limit_upfront": request.limit_upfront}


def _quote_problem(request: Request, quoted: Quote | ProviderError | None,
                   planned: _Planned) -> str:
    """Why the quote forbids placing the request, or "" when it may go ahead."""
    if isinstance(request, ReturnRequest) or quoted is None:
        return ""
    if isinstance(request, ExchangeRequest):
        return _exchange_problem(quoted, planned.cash_effect)
    return _price_problem(quoted, planned.upfront, planned.hourly)


def _would(request: Request, quoted: Quote | ProviderError | None) -> str:
    """What a dry run would do, once the quote is fine."""
    if isinstance(request, ReturnRequest):
        return f"would return {request.commitment_id} (returns are not quoted)"
    if not isinstance(quoted, Quote):
        return ""
    if isinstance(request, ExchangeRequest):
        return (f"would exchange {', '.join(request.commitment_ids)} for {request.quantity:g} "
                f"of {request.target_offering_id}, paying ${quoted.upfront:,.2f} now")
    return f"would buy for ${quoted.upfront:,.2f} upfront and ${quoted.hourly:,.4f}/h"


def _exchange_problem(quoted: Quote | ProviderError, cash_effect: float) -> str:
    """Why an exchange quote forbids the exchange, or "" when it may go ahead.

    Only the true-up is held against the plan: providers state the hourly of an
    exchange differently (AWS the target's, Azure none), and the value rule is theirs.
    """
    if isinstance(quoted, ProviderError):
        return f"the provider could not quote the exchange ({quoted.code or 'error'}: {quoted})"
    if not quoted.valid:
        return f"the provider says the exchange is invalid ({quoted.detail or 'invalid quote'})"
    if quoted.upfront > cash_effect + max(PRICE_TOLERANCE_ABS, PRICE_TOLERANCE * abs(cash_effect)):
        return (f"the true-up moved: ${quoted.upfront:,.2f} due now against "
                f"${cash_effect:,.2f} planned")
    return ""


def _price_problem(quoted: Quote | ProviderError, upfront: float, hourly: float) -> str:
    """Why a quote forbids the purchase, or "" when it matches the plan."""
    if isinstance(quoted, ProviderError):
        return f"the provider could not quote ({quoted.code or 'error'}: {quoted})"
    if not quoted.valid:
        return f"the provider would not sell it ({quoted.detail or 'invalid quote'})"
    for name, asked, planned in (("upfront", quoted.upfront, upfront),
                                 ("hourly", quoted.hourly, hourly)):
        if abs(asked - planned) > max(PRICE_TOLERANCE_ABS, PRICE_TOLERANCE * abs(planned)):
            return (f"the price moved: {name} ${asked:,.4f} quoted against ${planned:,.4f} "
                    "planned")
    return ""


def _quote_data(quoted: Quote | ProviderError | None) -> dict[str, object] | None:
    if quoted is None:
        return None
    if isinstance(quoted, ProviderError):
        return {"error": str(quoted), "code": quoted.code}
    return {"valid": quoted.valid, "upfront": quoted.upfront, "hourly": quoted.hourly,
            "currency": quoted.currency, "detail": quoted.detail}
