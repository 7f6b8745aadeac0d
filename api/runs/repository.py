"""Queries of runs for the API (SQLAlchemy 2 ``select()`` style)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.repository import paginate
from core.db.models import RunRow


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


def list_runs(
    session: Session, where: RunFilter, *, limit: int, offset: int
) -> tuple[list[RunRow], int]:
    """Runs matching ``where``, the newest first, and how many match in all."""
    return paginate(session, select(RunRow).where(*where.clauses())
                    .order_by(RunRow.started_at.desc(), RunRow.id.desc()),
                    limit=limit, offset=offset)


def get_run(session: Session, run_id: int) -> RunRow | None:
    """The run with this id, or None."""
    return session.get(RunRow, run_id)


def running_run(session: Session, provider: str, scope: str) -> RunRow | None:
    """The scope's run still marked running, if any (the newest)."""
    return session.scalar(
        select(RunRow).where(RunRow.provider == provider, RunRow.scope == scope,
                             RunRow.status == "running")
        .order_by(RunRow.started_at.desc(), RunRow.id.desc()).limit(1)
    )
