"""Routes of ``/v1/metrics``: store business metrics (finance) and list them."""

from __future__ import annotations

from fastapi import APIRouter, status

from api.deps import FinanceReader, MetricsWriter, SessionDep
from api.errors import CONFLICT
from api.metrics import service
from api.metrics.schemas import MetricsCreate, MetricSeriesRead, MetricsStored
from api.params import Page, PageDep

router = APIRouter(prefix="/metrics", tags=["metrics"])


@router.post("", status_code=status.HTTP_201_CREATED, responses=CONFLICT,
             summary="Store business metrics")
def store_metrics(body: MetricsCreate, session: SessionDep,
                  caller: MetricsWriter) -> MetricsStored:
    """Store daily values of business metrics (a value already stored for its metric, scope
    and day is replaced); one bad point refuses them all (422 naming it, 409 for a metric,
    scope and day given twice). Audited."""
    return service.store(session, body, caller)


@router.get("", summary="List business metrics")
def list_metrics(session: SessionDep, _caller: FinanceReader,
                 page: PageDep) -> Page[MetricSeriesRead]:
    """Every stored metric and scope: how many days, from when to when."""
    return page.slice(service.series(session))
