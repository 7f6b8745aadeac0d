"""Queries of owned commitments for the API (SQLAlchemy 2 ``select()`` style)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.repository import paginate
from core.db.models import CommitmentRow, OfferingRow


@dataclass(frozen=True, slots=True)
class CommitmentFilter:
    """Which commitments a list asks for; None leaves a dimension open."""

    provider: str | None = None
    source: str | None = None
    shape: str | None = None
    offering_id: str | None = None
    active_at: datetime | None = None
    ending_before: datetime | None = None

    def clauses(self) -> list[Any]:
        """The WHERE clauses of the filter (on commitments joined to their offerings)."""
        pairs = ((CommitmentRow.provider, self.provider), (CommitmentRow.source, self.source),
                 (OfferingRow.shape, self.shape), (OfferingRow.offering_id, self.offering_id))
        clauses: list[Any] = [column == value for column, value in pairs if value is not None]
        if self.active_at is not None:
            clauses += [CommitmentRow.start_at <= self.active_at,
                        CommitmentRow.end_at > self.active_at]
        if self.ending_before is not None:
            clauses.append(CommitmentRow.end_at <= self.ending_before)
        return clauses


def list_commitments(
    session: Session, where: CommitmentFilter, *, by_end: bool, limit: int, offset: int
) -> tuple[list[CommitmentRow], int]:
    """Commitments matching ``where`` (by start, or by end when ``by_end``), and the total."""
    order = CommitmentRow.end_at if by_end else CommitmentRow.start_at
    return paginate(session, select(CommitmentRow).join(CommitmentRow.offering)
                    .where(*where.clauses()).order_by(order, CommitmentRow.id),
                    limit=limit, offset=offset)


def get_commitment(session: Session, commitment_pk: int) -> CommitmentRow | None:
    """The commitment with this row id, or None."""
    return session.get(CommitmentRow, commitment_pk)
