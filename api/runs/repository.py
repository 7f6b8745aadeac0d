"""Queries of runs for the API: pages of ``executor.repository``'s one run query."""

from __future__ import annotations

from sqlalchemy.orm import Session

from api.repository import paginate
from core.db.models import RunRow
from executor.repository import RunFilter, get_run, running_run, select_runs


def list_runs(
    session: Session, where: RunFilter, *, limit: int, offset: int
) -> tuple[list[RunRow], int]:
    """Runs matching ``where``, the newest first, and how many match in all."""
    return paginate(session, select_runs(where), limit=limit, offset=offset)


__all__ = ["RunFilter", "get_run", "list_runs", "running_run"]
