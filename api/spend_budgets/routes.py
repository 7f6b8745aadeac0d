"""Routes of ``/v1/spend-budgets``: budgets on the whole bill — list, create, show, delete
(finance), and status."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from api.deps import BudgetWriter, FinanceReader, SessionDep, SettingsDep
from api.errors import CONFLICT, NOT_FOUND, problem_doc
from api.params import IsoDate, Page, PageDep
from api.spend_budgets import service
from api.spend_budgets.schemas import SpendBudgetCreate, SpendBudgetRead, SpendBudgetStatusRead
from core.errors import NotFound

router = APIRouter(prefix="/spend-budgets", tags=["budgets"])

SpendBudgetId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The spend budget's id.")]


def _missing(budget_id: int) -> NotFound:
    return NotFound(f"no spend budget with id {budget_id}")


@router.get("", summary="List spend budgets")
def list_spend_budgets(session: SessionDep, _caller: FinanceReader,
                       page: PageDep) -> Page[SpendBudgetRead]:
    """Spend budgets, by name."""
    items, total = service.list_budgets(session, limit=page.limit, offset=page.offset)
    return page.page(items, total)


@router.post("", status_code=status.HTTP_201_CREATED, responses=CONFLICT,
             summary="Create a spend budget")
def create_spend_budget(body: SpendBudgetCreate, session: SessionDep,
                        caller: BudgetWriter) -> SpendBudgetRead:
    """Create a budget on the whole bill or a part of it (409 when the name is taken; 422 when
    its currency is not its bill's); audited."""
    return service.create_budget(session, body, caller)


@router.get("/{budget_id}", responses=NOT_FOUND, summary="Show a spend budget")
def get_spend_budget(budget_id: SpendBudgetId, session: SessionDep,
                     _caller: FinanceReader) -> SpendBudgetRead:
    """One spend budget."""
    found = service.get_budget(session, budget_id)
    if found is None:
        raise _missing(budget_id)
    return found


@router.delete("/{budget_id}", status_code=status.HTTP_204_NO_CONTENT,
               responses=NOT_FOUND, summary="Delete a spend budget")
def delete_spend_budget(budget_id: SpendBudgetId, session: SessionDep,
                        caller: BudgetWriter) -> Response:
    """Delete a spend budget; audited."""
    if not service.delete_budget(session, budget_id, caller):
        raise _missing(budget_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{budget_id}/status", summary="A spend budget's status",
            responses={404: problem_doc("No such spend budget, or no bill in its scope.")})
def spend_budget_status(
    budget_id: SpendBudgetId, session: SessionDep, _caller: FinanceReader,
    settings: SettingsDep,
    as_of: Annotated[IsoDate | None, Query(
        description="First day forecast (UTC; default: the end of the bill).")] = None,
) -> SpendBudgetStatusRead:
    """Actual, burn rate, forecast with intervals, variance, run-out date and thresholds."""
    found = service.budget_status(session, budget_id, as_of=as_of,
                                  fiscal_year_start_month=settings.fiscal_year_start_month)
    if found is None:
        raise _missing(budget_id)
    return found
