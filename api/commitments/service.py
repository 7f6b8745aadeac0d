"""The commitment inventory as the API shows it: with costs, and what expires soon."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from api.commitments import repository as repo
from api.commitments.repository import CommitmentFilter
from api.commitments.schemas import CommitmentRead, CommitmentSource, ExpiringCommitmentRead
from core.db.models import CommitmentRow
from core.domain import Shape
from reporting.repository import exchange_cash


def commitment_read(row: CommitmentRow,
                    exchanged: Mapping[tuple[str, str], float] | None = None) -> CommitmentRead:
    """A stored commitment with its costs (quantity × the offering's prices); one received in
    an exchange paid the exchange's true-up upfront (``exchanged``, by provider and id)."""
    offering = row.offering
    list_upfront = row.quantity * offering.upfront
    upfront = (exchanged or {}).get((row.provider, row.commitment_id or ""), list_upfront)
    hourly = row.quantity * offering.hourly
    return CommitmentRead(
        id=row.id, provider=row.provider, commitment_id=row.commitment_id,
        offering_id=offering.offering_id, shape=Shape(offering.shape), kind=offering.kind,
        payment_option=offering.payment_option, term_hours=offering.term_hours,
        quantity=row.quantity, start_at=row.start_at, end_at=row.end_at,
        source=CommitmentSource(row.source),
        upfront_cost=upfront, hourly_cost=hourly,
        amortized_hourly_cost=list_upfront / offering.term_hours + hourly,
    )


def list_commitments(
    session: Session, where: CommitmentFilter, *, limit: int, offset: int
) -> tuple[list[CommitmentRead], int]:
    """Commitments matching ``where``, by start, and how many match in all."""
    rows, total = repo.list_commitments(session, where, by_end=False, limit=limit,
                                        offset=offset)
    exchanged = exchange_cash(session)
    return [commitment_read(row, exchanged) for row in rows], total


def list_expiring(
    session: Session, where: CommitmentFilter, *, now: datetime, within: timedelta, limit: int,
    offset: int,
) -> tuple[list[ExpiringCommitmentRead], int]:
    """Commitments still running at ``now`` that end within ``within``, the soonest first."""
    where = dataclasses.replace(where, active_at=now, ending_before=now + within)
    rows, total = repo.list_commitments(session, where, by_end=True, limit=limit, offset=offset)
    exchanged = exchange_cash(session)
    return [
        ExpiringCommitmentRead(**commitment_read(row, exchanged).model_dump(),
                               days_left=(row.end_at - now).total_seconds() / 86400)
        for row in rows
    ], total


def get_commitment(session: Session, commitment_pk: int) -> CommitmentRead | None:
    """One commitment, or None."""
    row = repo.get_commitment(session, commitment_pk)
    return None if row is None else commitment_read(row, exchange_cash(session, row.provider))
