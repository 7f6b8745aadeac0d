"""Queries of the executor's tables (SQLAlchemy 2 ``select()`` style).

Functions here ``flush`` and never ``commit``: the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, case, func, or_, select, update
from sqlalchemy.orm import Session, selectinload

from core.db.models import (
    ActionRow,
    CommitmentRow,
    NotificationRow,
    OfferingRow,
    PlanRow,
    RunRow,
    utc_now,
)
from core.domain import HOUR, ActionKind, ActionStatus, PlanStatus
from core.errors import NotFound
from executor.guardrails import SpendToDate

UNFINISHED = (ActionStatus.INTENT, ActionStatus.UNKNOWN, ActionStatus.ORDERED)
"""Action statuses whose outcome at the provider is not settled yet."""
SPENT = (*UNFINISHED, ActionStatus.DONE)
"""Action statuses that spent money, or may have."""


def offerings_by_id(
    session: Session, provider: str, offering_ids: Iterable[str] | None = None
) -> dict[str, OfferingRow]:
    """The provider's offerings (listed or not) by offering id."""
    stmt = select(OfferingRow).where(OfferingRow.provider == provider)
    if offering_ids is not None:
        stmt = stmt.where(OfferingRow.offering_id.in_(sorted(set(offering_ids))))
    return {row.offering_id: row for row in session.scalars(stmt)}


def month_start(now: datetime) -> datetime:
    """The first instant of ``now``'s calendar month (UTC)."""
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def spend_to_date(
    session: Session, provider: str, scope: str, *, since: datetime, exclude_plan_id: int
) -> SpendToDate:
    """New commitment of the scope's other plans in the month: placed since ``since``, or
    approved and still to be placed (so that two approved plans cannot both use the cap).

    Actions count as the guardrails count them
    (:func:`executor.guardrails.commitment_change`), except that a return lowers the
    month's figures only once it is done: one still to be placed may yet fail.
    """
    placed = and_(ActionRow.status.in_(SPENT), ActionRow.intent_at >= since)
    reserved = and_(ActionRow.status == ActionStatus.PENDING,
                    PlanRow.status.in_((PlanStatus.APPROVED, PlanStatus.EXECUTING)))
    returned = and_(ActionRow.kind == ActionKind.RETURN, ActionRow.status == ActionStatus.DONE)
    hourly_change = case(
        (returned, -func.abs(ActionRow.amortized_hourly_cost)),
        (ActionRow.kind == ActionKind.RETURN, 0.0),
        else_=ActionRow.amortized_hourly_cost)
    cash_change = case(
        (returned, -func.abs(ActionRow.cash_effect)),
        (ActionRow.kind == ActionKind.RETURN, 0.0),
        (ActionRow.kind == ActionKind.EXCHANGE, ActionRow.cash_effect),
        else_=ActionRow.upfront_cost)
    hourly, upfront = session.execute(
        select(func.coalesce(func.sum(hourly_change), 0.0),
               func.coalesce(func.sum(cash_change), 0.0))
        .join(PlanRow, PlanRow.id == ActionRow.plan_id)
        .where(PlanRow.provider == provider, PlanRow.scope == scope,
               PlanRow.id != exclude_plan_id, or_(placed, reserved))
    ).one()
    return SpendToDate(float(hourly), float(upfront), since)


def unfinished_actions(
    session: Session, provider: str, scope: str | None = None
) -> list[ActionRow]:
    """Actions whose outcome is not settled (intent written, answer unknown or pending)."""
    stmt = (select(ActionRow).join(PlanRow, PlanRow.id == ActionRow.plan_id)
            .where(PlanRow.provider == provider, ActionRow.status.in_(UNFINISHED))
            .order_by(ActionRow.plan_id, ActionRow.position))
    if scope is not None:
        stmt = stmt.where(PlanRow.scope == scope)
    return list(session.scalars(stmt))


def action_at(session: Session, plan_id: int, position: int) -> ActionRow:
    """The plan's action at ``position``; NotFound when it has none."""
    action = session.scalar(select(ActionRow).where(ActionRow.plan_id == plan_id,
                                                    ActionRow.position == position))
    if action is None:
        raise NotFound(f"plan {plan_id} has no action {position + 1}")
    return action


def pending_actions(session: Session, plan_id: int) -> list[tuple[int, str]]:
    """(position, kind) of the plan's actions still to place, by position."""
    rows = session.execute(
        select(ActionRow.position, ActionRow.kind)
        .where(ActionRow.plan_id == plan_id, ActionRow.status == ActionStatus.PENDING)
        .order_by(ActionRow.position)).all()
    return [(position, kind) for position, kind in rows]


def claim_intent(session: Session, action_id: int, *, key: str, at: datetime) -> bool:
    """Move a pending action to ``intent`` with its idempotency key, counting the attempt;
    False when it is no longer pending (compare-and-set: another process claimed it)."""
    changed = session.execute(
        update(ActionRow)
        .where(ActionRow.id == action_id, ActionRow.status == ActionStatus.PENDING)
        .values(status=ActionStatus.INTENT, idempotency_key=key, intent_at=at,
                attempts=ActionRow.attempts + 1)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    return bool(changed == 1)


def unfinished_scopes(session: Session) -> list[tuple[str, str]]:
    """(provider, scope) of every scope with unsettled actions or executing plans."""
    stmt = (select(PlanRow.provider, PlanRow.scope)
            .outerjoin(ActionRow, ActionRow.plan_id == PlanRow.id)
            .where(or_(ActionRow.status.in_(UNFINISHED), PlanRow.status == PlanStatus.EXECUTING))
            .distinct().order_by(PlanRow.provider, PlanRow.scope))
    return [(provider, scope) for provider, scope in session.execute(stmt)]


def plans_in(
    session: Session, provider: str, scope: str | None, statuses: Sequence[str]
) -> list[PlanRow]:
    """The provider's plans (of one scope, or all) in any of ``statuses``, oldest first."""
    stmt = (select(PlanRow).options(selectinload(PlanRow.actions))
            .where(PlanRow.provider == provider, PlanRow.status.in_(list(statuses)))
            .order_by(PlanRow.created_at, PlanRow.id))
    if scope is not None:
        stmt = stmt.where(PlanRow.scope == scope)
    return list(session.scalars(stmt))


def merge_plan_details(session: Session, plan: PlanRow, extra: Mapping[str, Any]) -> None:
    """Add keys to a plan's ``details`` (a new dict, so that the JSON change is seen)."""
    plan.details = {**(plan.details or {}), **extra}
    session.flush()


def record_commitments(
    session: Session, *, provider: str, offering_id: str, commitment_ids: Sequence[str],
    quantity: float, start: datetime,
) -> int:
    """Record what an action bought as ``plan`` commitments until the inventory lists them.

    Ids already known are left alone; the quantity is split evenly between the
    ids. Returns how many rows were added (none when the offering is unknown).
    """
    offering = session.scalar(select(OfferingRow).where(
        OfferingRow.provider == provider, OfferingRow.offering_id == offering_id))
    if offering is None or not commitment_ids:
        return 0
    known = set(session.scalars(select(CommitmentRow.commitment_id).where(
        CommitmentRow.provider == provider,
        CommitmentRow.commitment_id.in_(list(commitment_ids)))))
    added = 0
    for commitment_id in commitment_ids:
        if commitment_id in known:
            continue
        session.add(CommitmentRow(
            provider=provider, commitment_id=commitment_id, offering_pk=offering.id,
            quantity=quantity / len(commitment_ids), start_at=start,
            end_at=start + offering.term_hours * HOUR, source="plan",
        ))
        added += 1
    session.flush()
    return added


def give_up_commitment(
    session: Session, *, provider: str, commitment_id: str, at: datetime,
    quantity: float | None = None,
) -> bool:
    """Take ``quantity`` units (all, when None) off an owned commitment at ``at``: an exchange
    gave them up or a return handed it back. False when the commitment is unknown.

    The units given up are not forgotten: they were owned, and billed, until ``at``, so
    they stay as a row of source ``ended`` (id ``<id>@ended-<time>``, ending at ``at``)
    that every report counts for those hours and no plan counts after. The live row keeps
    what is left, and goes when nothing is. The provider's inventory stays the reference
    for what is live: the next inventory sync replaces the live rows, never the ended ones.
    """
    row = session.scalar(select(CommitmentRow).where(
        CommitmentRow.provider == provider, CommitmentRow.commitment_id == commitment_id))
    if row is None:
        return False
    given = row.quantity if quantity is None else min(quantity, row.quantity)
    if given > 1e-9 and at > row.start_at:
        session.add(CommitmentRow(
            provider=provider, commitment_id=f"{commitment_id}@ended-{at:%Y%m%dT%H%M%SZ}",
            offering_pk=row.offering_pk, quantity=given, start_at=row.start_at,
            end_at=min(at, row.end_at), source="ended",
        ))
    if row.quantity - given <= 1e-9:
        session.delete(row)
    else:
        row.quantity = row.quantity - given
    session.flush()
    return True


# --- runs ---------------------------------------------------------------------------------


def add_run(
    session: Session, *, provider: str, scope: str, trigger: str, actor: str, mode: str,
    host: str, pid: int,
) -> RunRow:
    """Store a run that is starting."""
    run = RunRow(provider=provider, scope=scope, trigger=trigger, actor=actor,
                 status="running", mode=mode, host=host, pid=pid, timings={}, summary={})
    session.add(run)
    session.flush()
    return run


def get_run(session: Session, run_id: int) -> RunRow | None:
    """The run with this id, or None."""
    return session.get(RunRow, run_id)


@dataclass(frozen=True, slots=True)
class RunFilter:
    """Which runs a list asks for; None leaves a dimension open."""

    provider: str | None = None
    scope: str | None = None
    status: str | None = None
    trigger: str | None = None
    started_from: datetime | None = None
    started_before: datetime | None = None

    def clauses(self) -> list[Any]:
        """The WHERE clauses of the filter."""
        pairs = ((RunRow.provider, self.provider), (RunRow.scope, self.scope),
                 (RunRow.status, self.status), (RunRow.trigger, self.trigger))
        clauses: list[Any] = [column == value for column, value in pairs if value is not None]
        if self.started_from is not None:
            clauses.append(RunRow.started_at >= self.started_from)
        if self.started_before is not None:
            clauses.append(RunRow.started_at < self.started_before)
        return clauses


def select_runs(where: RunFilter) -> Select[Any]:
    """The query of the runs matching ``where``, the newest first (ties by id).

    The one query behind every list of runs: ``list_runs`` below, ``running_run``
    and the API's pages (``api.runs.repository``) all run it.
    """
    return (select(RunRow).where(*where.clauses())
            .order_by(RunRow.started_at.desc(), RunRow.id.desc()))


def list_runs(
    session: Session, *, provider: str | None = None, scope: str | None = None,
    limit: int = 20, offset: int = 0,
) -> list[RunRow]:
    """Runs, the newest first."""
    stmt = select_runs(RunFilter(provider=provider, scope=scope))
    return list(session.scalars(stmt.limit(limit).offset(offset)))


def running_run(session: Session, provider: str, scope: str) -> RunRow | None:
    """The scope's run still marked running, if any (the newest)."""
    return session.scalar(select_runs(
        RunFilter(provider=provider, scope=scope, status="running")).limit(1))


def interrupted_runs(session: Session, provider: str, scope: str, *, but: int) -> list[RunRow]:
    """Runs of the scope still marked running, other than ``but``.

    Called under the scope's run lock: no other run of the scope can be alive,
    so these ended without finishing (killed, or their machine stopped).
    """
    return list(session.scalars(select(RunRow).where(
        RunRow.provider == provider, RunRow.scope == scope, RunRow.status == "running",
        RunRow.id != but)))


# --- notifications ------------------------------------------------------------------------


def get_notification(session: Session, dedup_key: str) -> NotificationRow | None:
    """The notification with this de-duplication key, or None."""
    return session.scalar(select(NotificationRow).where(NotificationRow.dedup_key == dedup_key))


def list_notifications(session: Session, *, limit: int = 50) -> list[NotificationRow]:
    """Notifications, the newest first."""
    return list(session.scalars(select(NotificationRow)
                                .order_by(NotificationRow.id.desc()).limit(limit)))


__all__ = [
    "SPENT",
    "UNFINISHED",
    "RunFilter",
    "add_run",
    "get_notification",
    "get_run",
    "give_up_commitment",
    "interrupted_runs",
    "list_notifications",
    "list_runs",
    "merge_plan_details",
    "month_start",
    "offerings_by_id",
    "plans_in",
    "record_commitments",
    "running_run",
    "select_runs",
    "spend_to_date",
    "unfinished_actions",
    "unfinished_scopes",
    "utc_now",
]
