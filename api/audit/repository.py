"""Queries of the audit log for the API (SQLAlchemy 2 ``select()`` style); read only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.repository import paginate
from core.db.models import AuditEntryRow


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Which entries a list asks for; None leaves a dimension open."""

    subject: str | None = None
    event: str | None = None
    actor: str | None = None
    at_from: datetime | None = None
    at_before: datetime | None = None

    def clauses(self) -> list[Any]:
        """The WHERE clauses of the filter."""
        pairs = ((AuditEntryRow.subject, self.subject), (AuditEntryRow.event, self.event),
                 (AuditEntryRow.actor, self.actor))
        clauses: list[Any] = [column == value for column, value in pairs if value is not None]
        if self.at_from is not None:
            clauses.append(AuditEntryRow.at >= self.at_from)
        if self.at_before is not None:
            clauses.append(AuditEntryRow.at < self.at_before)
        return clauses


def list_entries(
    session: Session, where: AuditFilter, *, limit: int, offset: int
) -> tuple[list[AuditEntryRow], int]:
    """Entries matching ``where``, the newest first, and how many match in all."""
    return paginate(session, select(AuditEntryRow).where(*where.clauses())
                    .order_by(AuditEntryRow.seq.desc()), limit=limit, offset=offset)


def get_entry(session: Session, seq: int) -> AuditEntryRow | None:
    """The entry with this sequence number, or None."""
    return session.get(AuditEntryRow, seq)
