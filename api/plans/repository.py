"""Queries of plans for the API: pages of ``core.db.repository``'s one plan query."""

from __future__ import annotations

from sqlalchemy.orm import Session

from api.repository import paginate
from core.db.models import PlanRow
from core.db.repository import PlanFilter, select_plans


def list_plans(
    session: Session, where: PlanFilter, *, limit: int, offset: int
) -> tuple[list[PlanRow], int]:
    """Plans matching ``where``, the newest first (ties by id), their actions loaded; the total."""
    return paginate(session, select_plans(where), limit=limit, offset=offset)


__all__ = ["PlanFilter", "list_plans"]
