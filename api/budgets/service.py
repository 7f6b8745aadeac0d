"""Budgets as the API sees them: ``reporting``'s budgets, audited when people change them.

Nothing here computes a figure or commits.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

import reporting
from api.budgets.schemas import (
    SCOPE_FIELDS,
    BudgetCreate,
    BudgetRead,
    BudgetStatusRead,
    BudgetUpdate,
)
from api.keys.service import Caller
from executor import audit
from reporting import Budget, BudgetSpec, Scope


def budget_read(budget: Budget) -> BudgetRead:
    """A stored budget as the API shows it."""
    return BudgetRead.model_validate(budget.to_dict())


def _audit(session: Session, caller: Caller, event: str, budget: Budget) -> None:
    audit.append(session, actor=caller.name, event=event, subject=f"budget:{budget.id}",
                 reason=f"budget {budget.spec.name!r}", data=budget.to_dict())


def list_budgets(
    session: Session, *, provider: str | None, limit: int, offset: int
) -> tuple[list[BudgetRead], int]:
    """Budgets by name, and how many there are in all."""
    budgets = reporting.list_budgets(session, provider=provider, limit=limit, offset=offset)
    return [budget_read(b) for b in budgets], reporting.count_budgets(session, provider=provider)


def get_budget(session: Session, budget_id: int) -> BudgetRead | None:
    """One budget, or None."""
    budget = reporting.get_budget(session, budget_id)
    return None if budget is None else budget_read(budget)


def create_budget(session: Session, body: BudgetCreate, caller: Caller) -> BudgetRead:
    """Store a budget (Conflict when its name is taken) and audit it."""
    audit.lock_chain(session)
    spec = BudgetSpec(
        name=body.name, amount=body.amount, period=body.period, basis=body.basis,
        scope=Scope(provider=body.provider, account=body.account, tag_key=body.tag_key,
                    tag_value=body.tag_value),
        thresholds=tuple(body.thresholds), currency=body.currency,
    )
    budget = reporting.create_budget(session, spec)
    _audit(session, caller, "budget.create", budget)
    return budget_read(budget)


def update_budget(
    session: Session, budget_id: int, body: BudgetUpdate, caller: Caller
) -> BudgetRead | None:
    """Change the fields given (None when there is no such budget) and audit it."""
    audit.lock_chain(session)
    budget = reporting.get_budget(session, budget_id)
    if budget is None:
        return None
    given = {name: getattr(body, name) for name in body.model_fields_set}
    changes: dict[str, Any] = {name: value for name, value in given.items()
                               if name not in SCOPE_FIELDS}
    if "thresholds" in changes:
        changes["thresholds"] = tuple(changes["thresholds"])
    scope_changes = {name: value for name, value in given.items() if name in SCOPE_FIELDS}
    if scope_changes:
        changes["scope"] = dataclasses.replace(budget.spec.scope, **scope_changes)
    updated = reporting.update_budget(session, budget_id,
                                      dataclasses.replace(budget.spec, **changes))
    assert updated is not None  # read in this transaction
    _audit(session, caller, "budget.update", updated)
    return budget_read(updated)


def delete_budget(session: Session, budget_id: int, caller: Caller) -> bool:
    """Delete a budget and audit it; False when there is no such budget."""
    audit.lock_chain(session)
    budget = reporting.get_budget(session, budget_id)
    if budget is None:
        return False
    reporting.delete_budget(session, budget_id)
    _audit(session, caller, "budget.delete", budget)
    return True


def budget_status(session: Session, budget_id: int, *, as_of: date | None
                  ) -> BudgetStatusRead | None:
    """Where the budget stands in its current period, or None when there is no such budget."""
    status = reporting.budget_status(session, budget_id, as_of=as_of)
    return None if status is None else BudgetStatusRead.model_validate(status.to_dict())


def budget_statuses(session: Session, *, provider: str | None, as_of: date | None
                    ) -> list[BudgetStatusRead]:
    """Every budget's status, by name."""
    return [BudgetStatusRead.model_validate(status.to_dict())
            for status in reporting.budget_statuses(session, provider=provider, as_of=as_of)]
