"""Budgets: create, read, list, update, delete, and their validation, on both backends."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy.orm import Session

from core.errors import Conflict, InvalidInput
from reporting import (
    BudgetBasis,
    BudgetPeriod,
    BudgetSpec,
    Scope,
    count_budgets,
    create_budget,
    delete_budget,
    get_budget,
    list_budgets,
    update_budget,
)


def _spec(**overrides: object) -> BudgetSpec:
    values: dict[str, object] = {"name": "prod", "amount": 1000.0,
                                 "scope": Scope(provider="sample", account="123")}
    values.update(overrides)
    return BudgetSpec(**values)  # type: ignore[arg-type]


def test_budget_round_trip(session: Session) -> None:
    created = create_budget(session, _spec(thresholds=(1.0, 0.5, 0.5), basis="amortised"))
    session.expunge_all()
    loaded = get_budget(session, created.id)
    assert loaded is not None
    assert loaded.spec == created.spec
    assert loaded.spec.thresholds == (0.5, 1.0)
    assert loaded.spec.basis is BudgetBasis.AMORTIZED
    assert loaded.to_dict()["account"] == "123"


def test_budgets_list_by_name_and_count(session: Session) -> None:
    for name in ("zeta", "alpha", "mid"):
        create_budget(session, _spec(name=name))
    create_budget(session, _spec(name="other", scope=Scope(provider="aws")))
    assert [b.spec.name for b in list_budgets(session, provider="sample")] == [
        "alpha", "mid", "zeta"]
    assert [b.spec.name for b in list_budgets(session, limit=2, offset=1)] == ["mid", "other"]
    assert count_budgets(session) == 4
    assert count_budgets(session, provider="aws") == 1


def test_update_replaces_the_fields_and_keeps_names_unique(session: Session) -> None:
    first = create_budget(session, _spec(name="first"))
    create_budget(session, _spec(name="second"))
    updated = update_budget(session, first.id, replace(first.spec, amount=5.0,
                                                       period=BudgetPeriod.YEAR))
    assert updated is not None
    assert (updated.spec.amount, updated.spec.period) == (5.0, BudgetPeriod.YEAR)
    with pytest.raises(Conflict):
        update_budget(session, first.id, replace(first.spec, name="second"))
    assert update_budget(session, 999_999, first.spec) is None


def test_create_refuses_a_duplicate_name(session: Session) -> None:
    create_budget(session, _spec())
    with pytest.raises(Conflict):
        create_budget(session, _spec())


def test_delete(session: Session) -> None:
    budget = create_budget(session, _spec())
    assert delete_budget(session, budget.id) is True
    assert get_budget(session, budget.id) is None
    assert delete_budget(session, budget.id) is False


@pytest.mark.parametrize("overrides", [
    {"name": " "}, {"name": "x" * 129}, {"amount": -1.0}, {"amount": float("nan")},
    {"period": "week"}, {"basis": "accrual"}, {"thresholds": (0.0,)},
    {"thresholds": (11.0,)}, {"thresholds": ("a",)}, {"currency": "US"},
    {"scope": Scope(service="ec2")}, {"scope": Scope(tag_key="team")},
    {"thresholds": tuple(0.1 * n for n in range(1, 12))},
])
def test_invalid_budgets_name_the_field(overrides: dict[str, object]) -> None:
    with pytest.raises(InvalidInput) as raised:
        _spec(**overrides)
    assert raised.value.column is not None
