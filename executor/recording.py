"""What the executor writes down: an action's status, the inventory a done action changes,
the audit entry beside it, and a plan's final status once its actions are settled.

Every write goes through :meth:`ActionRecorder.tx`, one committed transaction that
locks the audit chain first, so that an outcome and its audit entry are durable together.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from core.db.models import ActionRow, PlanRow
from core.db.session import session_scope
from core.domain import ActionKind, ActionStatus
from executor import audit
from executor import repository as repo
from executor.approval import valid_until
from executor.lifecycle import PlanStatus, transition
from providers.base import OrderResult, OrderStatus

FROM_ORDER = {
    OrderStatus.ACTIVE: ActionStatus.DONE,
    OrderStatus.PENDING: ActionStatus.ORDERED,
    OrderStatus.FAILED: ActionStatus.FAILED,
}
"""The action status that a provider's order status means."""


class ActionRecorder:
    """Writes actions' outcomes, the inventory they change and the audit log, as ``actor``."""

    def __init__(self, engine: Engine, *, actor: str, clock: Callable[[], datetime]) -> None:
        self.engine = engine
        self.actor = actor
        self.clock = clock

    @contextmanager
    def tx(self) -> Iterator[Session]:
        """One committed transaction that may append to the audit log (chain locked first)."""
        with session_scope(self.engine) as session:
            audit.lock_chain(session)
            yield session

    def audit(self, session: Session, event: str, subject: str, reason: str = "",
              **data: object) -> None:
        """Append an audit entry by the recorder's actor, at the recorder's clock."""
        audit.append(session, actor=self.actor, event=event, subject=subject, reason=reason,
                     data=data, at=self.clock())

    def record(self, session: Session, plan: PlanRow, action: ActionRow, status: str,
               commitment_ids: tuple[str, ...], detail: str) -> None:
        """Give the action its new status (and detail, commitment ids, finish time); a done
        action also updates the recorded commitments."""
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
                                    commitment_id=action.commitment_id or "", at=self.clock())
            return
        if action.kind == ActionKind.EXCHANGE:
            repo.give_up_commitment(session, provider=plan.provider,
                                    commitment_id=action.commitment_id or "",
                                    quantity=action.quantity, at=self.clock())
            repo.record_commitments(session, provider=plan.provider,
                                    offering_id=action.target_offering_id or "",
                                    commitment_ids=commitment_ids,
                                    quantity=action.target_quantity, start=self.clock())
            return
        repo.record_commitments(session, provider=plan.provider, offering_id=action.offering_id,
                                commitment_ids=commitment_ids, quantity=action.quantity,
                                start=self.clock())

    def settle_action(self, action_id: int, status: str, found: OrderResult, *,
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
            new, detail = FROM_ORDER[found.status], found.detail
        with self.tx() as session:
            action = session.get(ActionRow, action_id)
            assert action is not None
            if action.status != status:  # settled meanwhile by someone else
                return action.status
            plan = action.plan
            self.record(session, plan, action, new, found.commitment_ids, detail)
            self.audit(session, f"{event}.find_order", f"action:{plan.id}/{action.position}",
                       reason=detail or f"the provider says {found.status}",
                       idempotency_key=found.idempotency_key, provider_status=found.status,
                       commitment_ids=list(found.commitment_ids), status=new)
        return new

    def settle_plan(self, session: Session, plan: PlanRow) -> bool:
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
                    self.record(session, plan, action, ActionStatus.SKIPPED, (),
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
