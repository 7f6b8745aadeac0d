"""Queries of plans for the API (SQLAlchemy 2 ``select()`` style)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from api.repository import paginate
from core.db.models import PlanRow


@dataclass(frozen=True, slots=True)
class PlanFilter:
    """Which plans a list asks for; None leaves a dimension open."""

    provider: str | None = None
    scope: str | None = None
    status: str | None = None
    created_from: datetime | None = None
    created_before: datetime | None = None

    def clauses(self) -> list[Any]:
        """The WHERE clauses of the filter."""
        clauses: list[Any] = []
        if self.provider is not None:
            clauses.append(PlanRow.provider == self.provider)
        if self.scope is not None:
            clauses.append(PlanRow.scope == self.scope)
        if self.status is not None:
            clauses.append(PlanRow.status == self.status)
        if self.created_from is not None:
            clauses.append(PlanRow.created_at >= self.created_from)
        if self.created_before is not None:
            clauses.append(PlanRow.created_at < self.created_before)
        return clauses


def list_plans(
    session: Session, where: PlanFilter, *, limit: int, offset: int
) -> tuple[list[PlanRow], int]:
    """Plans matching ``where``, the newest first (ties by id), their actions loaded; the total."""
    return paginate(session, select(PlanRow).where(*where.clauses())
                    .options(selectinload(PlanRow.actions))
                    .order_by(PlanRow.created_at.desc(), PlanRow.id.desc()),
                    limit=limit, offset=offset)
