"""Routes of ``/v1/budgets``: list, create, show, update, delete (finance), and status."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from api.budgets import service
from api.budgets.schemas import BudgetCreate, BudgetRead, BudgetStatusRead, BudgetUpdate
from api.deps import BudgetWriter, FinanceReader, SessionDep
from api.errors import CONFLICT, NOT_FOUND, problem_doc
from api.params import IsoDate, Page, PageDep, ProviderFilter
from core.errors import NotFound

router = APIRouter(prefix="/budgets", tags=["budgets"])

BudgetId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The budget's id.")]


def _missing(budget_id: int) -> NotFound:
    return NotFound(f"no budget with id {budget_id}")


@router.get("", summary="List budgets")
def list_budgets(
    session: SessionDep,
    _caller: FinanceReader,
    page: PageDep,
    provider: Annotated[ProviderFilter | None, Query(
        description="Only this provider's budgets.")] = None,
) -> Page[BudgetRead]:
    """Budgets, by name."""
    items, total = service.list_budgets(session, provider=provider, limit=page.limit,
                                        offset=page.offset)
    return page.page(items, total)


@router.post("", status_code=status.HTTP_201_CREATED, responses=CONFLICT,
             summary="Create a budget")
def create_budget(body: BudgetCreate, session: SessionDep, caller: BudgetWriter) -> BudgetRead:
    """Create a budget (409 when the name is taken); audited."""
    return service.create_budget(session, body, caller)


@router.get("/{budget_id}", responses=NOT_FOUND, summary="Show a budget")
def get_budget(budget_id: BudgetId, session: SessionDep, _caller: FinanceReader) -> BudgetRead:
    """One budget."""
    budget = service.get_budget(session, budget_id)
    if budget is None:
        raise _missing(budget_id)
    return budget


@router.patch("/{budget_id}", responses=NOT_FOUND | CONFLICT, summary="Update a budget")
def update_budget(budget_id: BudgetId, body: BudgetUpdate, session: SessionDep,
                  caller: BudgetWriter) -> BudgetRead:
    """Change the fields given; the others stay. Audited."""
    budget = service.update_budget(session, budget_id, body, caller)
    if budget is None:
        raise _missing(budget_id)
    return budget


@router.delete("/{budget_id}", status_code=status.HTTP_204_NO_CONTENT, responses=NOT_FOUND,
               summary="Delete a budget")
def delete_budget(budget_id: BudgetId, session: SessionDep, caller: BudgetWriter) -> Response:
    """Delete a budget; audited."""
    if not service.delete_budget(session, budget_id, caller):
        raise _missing(budget_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{budget_id}/status", summary="A budget's status",
            responses={404: problem_doc("No such budget, or no reporting data for its "
                                        "provider yet.")})
def budget_status(
    budget_id: BudgetId,
    session: SessionDep,
    _caller: FinanceReader,
    as_of: Annotated[IsoDate | None, Query(
        description="Day (exclusive) up to which actual cost counts (UTC; default: the end "
        "of the reporting data).")] = None,
) -> BudgetStatusRead:
    """Actual to date, forecast to the period's end, variance, and the alert thresholds."""
    found = service.budget_status(session, budget_id, as_of=as_of)
    if found is None:
        raise _missing(budget_id)
    return found
