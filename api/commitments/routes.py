"""Routes of ``/v1/commitments``: the inventory, what expires soon, one commitment."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import StringConstraints

from api.commitments import service
from api.commitments.repository import CommitmentFilter
from api.commitments.schemas import CommitmentRead, CommitmentSource, ExpiringCommitmentRead
from api.deps import Reader, SessionDep
from api.errors import NOT_FOUND
from api.params import Page, PageDep, ProviderName
from core.db.models import utc_now
from core.domain import Shape
from core.errors import NotFound

router = APIRouter(prefix="/commitments", tags=["commitments"])

CommitmentPk = Annotated[int, Path(ge=1, le=2**31 - 1, description="Ladder's id of it.")]
OfferingId = Annotated[str, StringConstraints(min_length=1, max_length=256,
                                              pattern=r"^[A-Za-z0-9._:/@+-]+$")]
ProviderQuery = Annotated[ProviderName | None,
                          Query(description="Only this provider's commitments.")]
SourceQuery = Annotated[CommitmentSource | None, Query(description="inventory or plan.")]
ShapeQuery = Annotated[Shape | None, Query(description="unit or spend.")]
OfferingQuery = Annotated[OfferingId | None, Query(description="Only this offering.")]


@router.get("", summary="List the commitment inventory")
def list_commitments(
    session: SessionDep,
    _caller: Reader,
    page: PageDep,
    provider: ProviderQuery = None,
    source: SourceQuery = None,
    shape: ShapeQuery = None,
    offering_id: OfferingQuery = None,
    active: Annotated[bool, Query(description="Only those running now.")] = False,
) -> Page[CommitmentRead]:
    """Owned commitments, by start, with their costs."""
    where = CommitmentFilter(provider=provider, source=source, shape=shape,
                             offering_id=offering_id, active_at=utc_now() if active else None)
    items, total = service.list_commitments(session, where, limit=page.limit,
                                            offset=page.offset)
    return page.page(items, total)


@router.get("/expiring", summary="List commitments that expire soon")
def list_expiring(
    session: SessionDep,
    _caller: Reader,
    page: PageDep,
    within_days: Annotated[int, Query(ge=1, le=1826, description="Horizon, in days.")] = 90,
    provider: ProviderQuery = None,
    source: SourceQuery = None,
    shape: ShapeQuery = None,
    offering_id: OfferingQuery = None,
) -> Page[ExpiringCommitmentRead]:
    """Commitments running now that end within ``within_days``, the soonest first."""
    where = CommitmentFilter(provider=provider, source=source, shape=shape,
                             offering_id=offering_id)
    items, total = service.list_expiring(session, where, now=utc_now(),
                                         within=timedelta(days=within_days), limit=page.limit,
                                         offset=page.offset)
    return page.page(items, total)


@router.get("/{commitment_pk}", responses=NOT_FOUND, summary="Show a commitment")
def get_commitment(commitment_pk: CommitmentPk, session: SessionDep,
                   _caller: Reader) -> CommitmentRead:
    """One owned commitment with its costs."""
    commitment = service.get_commitment(session, commitment_pk)
    if commitment is None:
        raise NotFound(f"no commitment with id {commitment_pk}")
    return commitment
