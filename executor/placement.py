"""Placing one action with the provider, exactly once (steps 1 to 5 of :mod:`executor.execute`).

Quote it and hold the quote against the plan; check the gates (and the caps, when a
return the plan counted on failed) and the run lock again; commit the **intent**; call
the provider with the action's idempotency key; commit the **outcome**. When the answer
is lost the action stays ``intent``/``unknown``, and a retry looks before it buys:
only ``find_order`` answering ``not_found`` lets it place the order again, with the
same key. The quoting and request helpers here also serve the dry run.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

from sqlalchemy.orm import Session

from core.db import repository as core_repository
from core.db.models import ActionRow, PlanRow
from core.db.session import session_scope
from core.domain import ActionKind
from core.errors import Conflict, ProviderError
from executor import repository as repo
from executor.guardrails import CAPS, GATES, SpendToDate, Violation, evaluate, plan_facts
from executor.locks import RunLock
from executor.policy import load_policy
from executor.provider_calls import ProviderCalls, Request, call_with_retries
from executor.recording import FROM_ORDER, ActionRecorder, ActionStatus
from providers.base import (
    ExchangeRequest,
    OrderResult,
    OrderStatus,
    PurchaseRequest,
    Quote,
    ReturnRequest,
)

PRICE_TOLERANCE = 0.01
"""Relative difference between a quote and the plan's price that still counts as the same."""
PRICE_TOLERANCE_ABS = 0.01
"""Absolute difference (dollars) that always counts as the same (rounding)."""


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


def request_of(plan: PlanRow, action: ActionRow) -> Request:
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


@dataclass(frozen=True, slots=True)
class PlannedFigures:
    """The plan's figures of an action that a quote is held against."""

    upfront: float
    hourly: float
    cash_effect: float

    @classmethod
    def of(cls, action: ActionRow) -> PlannedFigures:
        """The action's planned upfront, hourly and cash effect."""
        return cls(action.upfront_cost, action.hourly_cost, action.cash_effect)


class Placer:
    """Places pending actions one at a time, recording every step."""

    def __init__(self, recorder: ActionRecorder, calls: ProviderCalls) -> None:
        self.recorder = recorder
        self.calls = calls

    def place(self, plan_id: int, position: int, lock: RunLock) -> bool:
        """Place one pending action; False when the plan must stop (a gate closed, or the
        answer is unknown and left for reconciliation)."""
        recorder = self.recorder
        with session_scope(recorder.engine) as session:
            plan = core_repository.get_plan(session, plan_id)
            assert plan is not None
            action = next(a for a in plan.actions if a.position == position)
            subject = f"action:{plan.id}/{position}"
            request = request_of(plan, action)
            planned = PlannedFigures.of(action)
        quoted = self.calls.quote(request)
        problem = quote_problem(request, quoted, planned)
        not_done = _WORDS[type(request)].not_done
        if quoted is not None or problem:
            with recorder.tx() as session:
                recorder.audit(session, "provider.quote", subject,
                               reason=problem or f"quoted before {_WORDS[type(request)].verb}",
                               **request_data(request), quote=quote_data(quoted),
                               planned_upfront=planned.upfront, planned_hourly=planned.hourly,
                               planned_cash_effect=planned.cash_effect)
                if problem:
                    action = repo.action_at(session, plan_id, position)
                    recorder.record(session, action.plan, action, ActionStatus.FAILED, (),
                                    f"{not_done}: {problem}")
                    return True
        with recorder.tx() as session:
            plan = core_repository.get_plan(session, plan_id)
            assert plan is not None
            closed = self._gates(session, plan) or self._caps_lost(session, plan, position)
            if closed:
                reason = "; ".join(v.message for v in closed)
                recorder.audit(session, "plan.stopped", f"plan:{plan_id}", reason=reason,
                               violations=[v.to_dict() for v in closed])
                return False
        return self._order(plan_id, position, request, lock, not_done)

    def _order(self, plan_id: int, position: int, request: Request, lock: RunLock,
               not_done: str) -> bool:
        """Intent, call, outcome, with retries that look (``find_order``) before they buy."""
        goes_on = True

        def attempt() -> OrderResult:
            lock.check()
            self.write_intent(plan_id, position, request.idempotency_key)
            try:
                return self.calls.place(request)
            except ProviderError:
                raise
            except Exception as exc:
                self._record_call(plan_id, position, request,
                                  error=ProviderError(f"{type(exc).__name__}: {exc}"))
                raise

        def look(exc: ProviderError, final: bool) -> bool:
            nonlocal goes_on
            self._record_call(plan_id, position, request, error=exc)
            found = self.calls.find_order(request.idempotency_key)
            if found is None:
                goes_on = False  # unknown: left for reconciliation, never bought blind
                return False
            if found.status is not OrderStatus.NOT_FOUND:
                self._settle(plan_id, position, found)
                return False
            if final:
                self._fail(plan_id, position, f"{not_done}: the provider refused "
                           f"({exc.code or 'error'}: {exc}) and has no order with this key")
                return False
            self._back_to_pending(plan_id, position)
            return True

        result = call_with_retries(attempt, self.calls.retry, self.calls.sleep, on_error=look)
        if isinstance(result, ProviderError):
            return goes_on
        self._record_call(plan_id, position, request, result=result)
        return True

    def write_intent(self, plan_id: int, position: int, key: str) -> None:
        """Commit the intent before the provider is called (compare-and-set on pending)."""
        recorder = self.recorder
        with recorder.tx() as session:
            action = repo.action_at(session, plan_id, position)
            if not repo.claim_intent(session, action.id, key=key, at=recorder.clock()):
                raise Conflict(f"action {position + 1} of plan {plan_id} is no longer pending: "
                               "another process is placing it")
            extra: dict[str, object] = {} if action.kind == ActionKind.PURCHASE else {
                "kind": action.kind, "commitment_id": action.commitment_id,
                "target_offering_id": action.target_offering_id,
                "target_quantity": action.target_quantity, "cash_effect": action.cash_effect}
            recorder.audit(session, "action.intent", f"action:{plan_id}/{position}",
                           reason="about to call the provider", idempotency_key=key,
                           attempt=action.attempts + 1, offering_id=action.offering_id,
                           quantity=action.quantity, upfront_cost=action.upfront_cost,
                           amortized_hourly_cost=action.amortized_hourly_cost, **extra)

    def _gates(self, session: Session, plan: PlanRow) -> list[Violation]:
        """The policy's gates (kill switch, blackout) closed now."""
        stored = load_policy(session, plan.provider, plan.scope)
        if stored is None:
            return []
        now = self.recorder.clock()
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
        now = self.recorder.clock()
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

    def _record_call(self, plan_id: int, position: int, request: Request, *,
                     result: OrderResult | None = None,
                     error: ProviderError | None = None) -> None:
        """Write the provider's answer (or the error) of a purchase, exchange or return."""
        recorder = self.recorder
        with recorder.tx() as session:
            action = repo.action_at(session, plan_id, position)
            if result is not None:
                status = FROM_ORDER.get(result.status, ActionStatus.UNKNOWN)
                recorder.record(session, action.plan, action, status, result.commitment_ids,
                                result.detail)
            else:
                action.status, action.error = ActionStatus.UNKNOWN, str(error)
                session.flush()
            recorder.audit(
                session, f"provider.{_WORDS[type(request)].operation}",
                f"action:{plan_id}/{position}",
                reason=(f"the provider answered {result.status}" if result is not None
                        else f"no answer: {error}"),
                **request_data(request),
                provider_status=result.status if result is not None else None,
                commitment_ids=list(result.commitment_ids) if result is not None else [],
                error=None if error is None else {"message": str(error), "code": error.code,
                                                  "retryable": error.retryable})

    def _settle(self, plan_id: int, position: int, found: OrderResult) -> None:
        """Record what ``find_order`` said after a failed call (the order did reach it)."""
        with session_scope(self.recorder.engine) as session:
            action = repo.action_at(session, plan_id, position)
            action_id, status = action.id, action.status
        self.recorder.settle_action(action_id, status, found, event="retry")

    def _back_to_pending(self, plan_id: int, position: int) -> None:
        """The provider confirmed it has no order: the action may be placed again."""
        recorder = self.recorder
        with recorder.tx() as session:
            action = repo.action_at(session, plan_id, position)
            action.status = ActionStatus.PENDING
            session.flush()
            recorder.audit(session, "action.retry", f"action:{plan_id}/{position}",
                           reason="the provider has no order with this key: trying again",
                           idempotency_key=action.idempotency_key)

    def _fail(self, plan_id: int, position: int, detail: str) -> None:
        """The action failed for good: recorded and audited."""
        recorder = self.recorder
        with recorder.tx() as session:
            action = repo.action_at(session, plan_id, position)
            recorder.record(session, action.plan, action, ActionStatus.FAILED, (), detail)
            recorder.audit(session, "action.failed", f"action:{plan_id}/{position}",
                           reason=detail, idempotency_key=action.idempotency_key)


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


def request_data(request: Request) -> dict[str, object]:
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


def quote_problem(request: Request, quoted: Quote | ProviderError | None,
                  planned: PlannedFigures) -> str:
    """Why the quote forbids placing the request, or "" when it may go ahead."""
    if isinstance(request, ReturnRequest) or quoted is None:
        return ""
    if isinstance(request, ExchangeRequest):
        return _exchange_problem(quoted, planned.cash_effect)
    return _price_problem(quoted, planned.upfront, planned.hourly)


def would(request: Request, quoted: Quote | ProviderError | None) -> str:
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
    if quoted.upfront > cash_effect + _slack(cash_effect):
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
        if abs(asked - planned) > _slack(planned):
            return (f"the price moved: {name} ${asked:,.4f} quoted against ${planned:,.4f} "
                    "planned")
    return ""


def _slack(planned: float) -> float:
    """How far a quoted figure may be from the planned one and still count as the same."""
    return max(PRICE_TOLERANCE_ABS, PRICE_TOLERANCE * abs(planned))


def quote_data(quoted: Quote | ProviderError | None) -> dict[str, object] | None:
    """The quote (or its error) as the audit log keeps it."""
    if quoted is None:
        return None
    if isinstance(quoted, ProviderError):
        return {"error": str(quoted), "code": quoted.code}
    return {"valid": quoted.valid, "upfront": quoted.upfront, "hourly": quoted.hourly,
            "currency": quoted.currency, "detail": quoted.detail}
