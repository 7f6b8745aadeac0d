"""Routes of ``/v1/runs``: trigger, list, show."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response, status

from api.deps import Reader, RunTrigger, SessionDep
from api.errors import CONFLICT, NOT_FOUND, problem_doc
from api.params import Name, Page, PageDep, PeriodDep, ProviderName
from api.runs import service
from api.runs.repository import RunFilter
from api.runs.schemas import RunAccepted, RunCreate, RunRead, RunStatus, RunTriggerKind
from core.errors import NotFound

router = APIRouter(prefix="/runs", tags=["runs"])

RunId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The run's id.")]


@router.get("", summary="List runs")
def list_runs(
    session: SessionDep,
    _caller: Reader,
    page: PageDep,
    period: PeriodDep,
    provider: Annotated[ProviderName | None,
                        Query(description="Only this provider's runs.")] = None,
    scope: Annotated[Name | None, Query(description="Only this scope's runs.")] = None,
    status: Annotated[RunStatus | None, Query(description="Only runs in this status.")] = None,
    trigger: Annotated[RunTriggerKind | None, Query(description="Only runs started so.")] = None,
) -> Page[RunRead]:
    """Runs, the newest first; ``start``/``end`` filter on when they started."""
    where = RunFilter(provider=provider, scope=scope, status=status, trigger=trigger,
                      started_from=period.start_at, started_before=period.end_at)
    items, total = service.list_runs(session, where, limit=page.limit, offset=page.offset)
    return page.page(items, total)


@router.get("/{run_id}", responses=NOT_FOUND, summary="Show a run")
def get_run(run_id: RunId, session: SessionDep, _caller: Reader) -> RunRead:
    """One run: status, outcome, timings, summary and plan."""
    run = service.get_run(session, run_id)
    if run is None:
        raise NotFound(f"no run with id {run_id}")
    return run


@router.post(
    "", status_code=status.HTTP_202_ACCEPTED, summary="Trigger a run",
    responses={**CONFLICT, 503: problem_doc("This server was started without a run launcher.")},
)
def trigger_run(
    body: RunCreate, request: Request, response: Response, session: SessionDep,
    caller: RunTrigger,
) -> RunAccepted:
    """Start a run of a scope in the background (409 while one is running)."""
    accepted = service.trigger_run(session, request.app.state.run_launcher,
                                   provider=body.provider, scope=body.scope, caller=caller)
    response.headers["Location"] = accepted.runs
    return accepted
