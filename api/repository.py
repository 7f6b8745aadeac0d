"""Queries every resource's repository shares (SQLAlchemy 2 ``select()`` style)."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

T = TypeVar("T")


def paginate(
    session: Session, statement: Select[T], *, limit: int, offset: int
) -> tuple[list[T], int]:
    """One page of the rows ``statement`` selects (in its order), and how many it has in all."""
    counted: Select[Any] = select(func.count()).select_from(statement.order_by(None).subquery())
    total = session.scalar(counted) or 0
    return list(session.scalars(statement.limit(limit).offset(offset))), int(total)
