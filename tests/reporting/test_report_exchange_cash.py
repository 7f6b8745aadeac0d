"""The cash of an exchange is its true-up (issue 18, point 6): in the amortization report's
``upfront_paid`` and ``cash_cost``, and in a cash budget, a commitment received in an exchange
costs what the exchange paid, not the received offering's list upfront."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from reporting_factories import COMMITMENTS, PROVIDER, RI_C5, START, store_hand_fixture
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db.models import ActionRow
from core.db.repository import add_plan, replace_inventory
from core.domain import HOUR, Action, ActionKind, Commitment, Plan
from reporting import (
    BudgetBasis,
    BudgetSpec,
    Granularity,
    ReportQuery,
    Scope,
    amortization,
    budget_status,
    create_budget,
    payment_schedule,
    refresh_facts,
)

TRUE_UP = 3.21
RECEIVED = Commitment(RI_C5, 2.0, START + 24 * HOUR, "exch-c5")  # Feb 1, inside the data


@pytest.fixture
def exchanged(session: Session) -> Session:
    """The hand fixture, and 2 units of ri-c5 ($100 upfront each) received in an exchange of
    ri-m5 that paid a $3.21 true-up on Feb 1."""
    store_hand_fixture(session)
    replace_inventory(session, PROVIDER, [*COMMITMENTS, RECEIVED])
    action = Action(kind=ActionKind.EXCHANGE, offering_id="ri-m5", quantity=1.0,
                    upfront_cost=TRUE_UP, hourly_cost=0.0, amortized_hourly_cost=0.01,
                    commitment_id="ri-m5", target_offering_id="ri-c5", target_quantity=2.0,
                    cash_effect=TRUE_UP, reason="test exchange")
    plan_id = add_plan(session, provider=PROVIDER, dataset_id=None, plan=Plan(
        actions=(action,), window_start=START, window_hours=48, on_demand_equivalent=1.0,
        cost_before=1.0, cost_after=1.0, esr_before=0.0, esr_after=0.0, upfront_cash=TRUE_UP,
        monthly_commitment=7.3), build_seconds=0.0, solve_seconds=0.0)
    row = session.scalars(select(ActionRow).where(ActionRow.plan_id == plan_id)).one()
    row.status, row.commitment_ids = "done", ["exch-c5"]
    session.flush()
    refresh_facts(session, PROVIDER)
    return session


def test_amortization_pays_an_exchange_its_true_up(exchanged: Session) -> None:
    report = amortization(exchanged, ReportQuery(granularity=Granularity.MONTH))
    frame = report.frame.set_index("period")
    list_upfront = RECEIVED.quantity * RI_C5.upfront
    assert list_upfront == 200.0
    assert frame.loc["2025-02", "upfront_paid"] == TRUE_UP
    assert frame.loc["2025-01", "upfront_paid"] == 0.0
    # Cash = on-demand + upfront paid + recurring, month by month, as the report adds it.
    recomputed = frame["on_demand_cost"] + frame["upfront_paid"] + frame["recurring_paid"]
    pd.testing.assert_series_equal(frame["cash_cost"], recomputed.round(2), check_names=False)


def test_a_cash_budget_counts_the_true_up(exchanged: Session) -> None:
    budget = create_budget(exchanged, BudgetSpec(name="cash", amount=1000.0,
                                                 basis=BudgetBasis.CASH,
                                                 scope=Scope(provider=PROVIDER)))
    status = budget_status(exchanged, budget, as_of=date(2025, 2, 2))
    assert status is not None and status.period == "2025-02"
    feb = amortization(exchanged, ReportQuery(start=date(2025, 2, 1), end=date(2025, 2, 2),
                                              granularity=Granularity.MONTH)).frame
    assert status.actual == float(feb["cash_cost"].sum())
    assert float(feb["upfront_paid"].sum()) == TRUE_UP


def test_the_payment_schedule_asks_the_received_commitment_its_true_up(
    exchanged: Session,
) -> None:
    schedule = payment_schedule(exchanged, as_of=START).frame
    due = schedule.groupby("commitment_id")["upfront_due"].sum()
    assert due["exch-c5"] == TRUE_UP
    assert due["ri-c5-future"] == 5 * RI_C5.upfront  # bought: its list upfront
