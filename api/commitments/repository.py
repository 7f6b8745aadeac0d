"""Queries of owned commitments for the API: pages of ``core.db.repository``'s one query."""

from __future__ import annotations

from sqlalchemy.orm import Session

from api.repository import paginate
from core.db.models import CommitmentRow
from core.db.repository import CommitmentFilter, select_commitments


def list_commitments(
    session: Session, where: CommitmentFilter, *, by_end: bool, limit: int, offset: int
) -> tuple[list[CommitmentRow], int]:
    """Commitments matching ``where`` (by start, or by end when ``by_end``), and the total."""
    return paginate(session, select_commitments(where, by_end=by_end), limit=limit,
                    offset=offset)


def get_commitment(session: Session, commitment_pk: int) -> CommitmentRow | None:
    """The commitment with this row id, or None."""
    return session.get(CommitmentRow, commitment_pk)


__all__ = ["CommitmentFilter", "get_commitment", "list_commitments"]
