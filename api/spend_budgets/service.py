"""Spend budgets as the API sees them: ``reporting``'s, audited when people change them.
Nothing here computes a figure or commits."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from api.keys.service import Caller
from api.spend_budgets.schemas import SpendBudgetCreate, SpendBudgetRead, SpendBudgetStatusRead
from executor import audit
from reporting import spend_budgets
from reporting.spend import SCOPE_FIELDS, SpendScope
from reporting.spend_budgets import SpendBudget, SpendBudgetSpec


def budget_read(budget: SpendBudget) -> SpendBudgetRead:
    """A stored spend budget as the API shows it."""
    return SpendBudgetRead.model_validate(budget.to_dict())


def _audit(session: Session, caller: Caller, event: str, budget: SpendBudget) -> None:
    audit.append(session, actor=caller.name, event=event, subject=f"spend_budget:{budget.id}",
                 reason=f"spend budget {budget.spec.name!r}", data=budget.to_dict())


def list_budgets(session: Session, *, limit: int, offset: int,
                 ) -> tuple[list[SpendBudgetRead], int]:
    """Spend budgets by name, and how many there are."""
    found = spend_budgets.list_spend_budgets(session, limit=limit, offset=offset)
    return [budget_read(b) for b in found], spend_budgets.count_spend_budgets(session)


def get_budget(session: Session, budget_id: int) -> SpendBudgetRead | None:
    """One spend budget, or None."""
    found = spend_budgets.get_spend_budget(session, budget_id)
    return None if found is None else budget_read(found)


def create_budget(session: Session, body: SpendBudgetCreate, caller: Caller) -> SpendBudgetRead:
    """Store a spend budget (Conflict when its name is taken) and audit it."""
    audit.lock_chain(session)
    scope = SpendScope(**{name: getattr(body, name) for name in SCOPE_FIELDS
                          if name != "currency"})
    spec = SpendBudgetSpec(name=body.name, amount=body.amount, period=body.period,
                           basis=body.basis, scope=scope, thresholds=tuple(body.thresholds),
                           currency=body.currency)
    budget = spend_budgets.create_spend_budget(session, spec)
    _audit(session, caller, "spend_budget.create", budget)
    return budget_read(budget)


def delete_budget(session: Session, budget_id: int, caller: Caller) -> bool:
    """Delete a spend budget (audited); False when it does not exist."""
    audit.lock_chain(session)
    found = spend_budgets.get_spend_budget(session, budget_id)
    if found is None:
        return False
    spend_budgets.delete_spend_budget(session, budget_id)
    _audit(session, caller, "spend_budget.delete", found)
    return True


def budget_status(session: Session, budget_id: int, *, as_of: date | None,
                  fiscal_year_start_month: int) -> SpendBudgetStatusRead | None:
    """One spend budget's status, or None when it does not exist."""
    found = spend_budgets.spend_budget_status(session, budget_id, as_of=as_of,
                                              fiscal_year_start_month=fiscal_year_start_month)
    return None if found is None else SpendBudgetStatusRead.model_validate(found.to_dict())
