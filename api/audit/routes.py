"""Routes of ``/v1/audit``: list entries, show one, verify the chain."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import StringConstraints

from api.audit import service
from api.audit.repository import AuditFilter
from api.audit.schemas import AuditEntryRead, AuditVerification
from api.deps import AuditReader, SessionDep
from api.errors import NOT_FOUND
from api.params import Label, Page, PageDep, PeriodDep
from core.errors import NotFound

router = APIRouter(prefix="/audit", tags=["audit"])

Seq = Annotated[int, Path(ge=1, le=2**31 - 1, description="The entry's sequence number.")]
Event = Annotated[str, StringConstraints(min_length=1, max_length=64,
                                         pattern=r"^[a-z][a-z0-9_.]*$")]
Subject = Annotated[str, StringConstraints(min_length=1, max_length=256,
                                           pattern=r"^[A-Za-z0-9._:/@-]+$")]


@router.get("", summary="List audit entries")
def list_entries(
    session: SessionDep,
    _caller: AuditReader,
    page: PageDep,
    period: PeriodDep,
    subject: Annotated[Subject | None, Query(description="e.g. plan:12")] = None,
    event: Annotated[Event | None, Query(description="e.g. plan.status")] = None,
    actor: Annotated[Label | None, Query(description="Who acted.")] = None,
) -> Page[AuditEntryRead]:
    """Entries, the newest first; ``start``/``end`` filter on when they were written."""
    where = AuditFilter(subject=subject, event=event, actor=actor, at_from=period.start_at,
                        at_before=period.end_at)
    items, total = service.list_entries(session, where, limit=page.limit, offset=page.offset)
    return page.page(items, total)


@router.get("/verify", summary="Verify the audit chain")
def verify(session: SessionDep, _caller: AuditReader) -> AuditVerification:
    """Recompute every hash, check every link and the head; list each break found."""
    return service.verify(session)


@router.get("/{seq}", responses=NOT_FOUND, summary="Show an audit entry")
def get_entry(seq: Seq, session: SessionDep, _caller: AuditReader) -> AuditEntryRead:
    """One entry of the audit log."""
    entry = service.get_entry(session, seq)
    if entry is None:
        raise NotFound(f"no audit entry {seq}")
    return entry
