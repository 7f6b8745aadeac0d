"""Budgets on the whole bill: burn, forecast with interval, run-out date; the variance report."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from bill_factories import ec2, long_bill_rows, row, store_bill, write_bill
from sqlalchemy.orm import Session

from core.errors import Conflict, InvalidInput
from reporting.spend import SpendBasis, SpendDimension, SpendScope
from reporting.spend_budgets import (
    SpendBudgetSpec,
    VarianceQuery,
    create_spend_budget,
    delete_spend_budget,
    spend_budget_status,
    spend_budget_statuses,
    spend_variance,
    update_spend_budget,
)
from reporting.spend_forecast import ForecastHorizon, SpendForecastQuery, spend_forecast


@pytest.fixture
def bill(tmp_path: Path, session: Session) -> pd.DataFrame:
    """70 days from 2024-06-01 (to 2024-08-10): storage 20/day, batch 12 on weekends."""
    path = write_bill(tmp_path / "bill.csv", long_bill_rows())
    store_bill(session, path)
    return pd.read_csv(path)


def test_a_storage_budget_burns_and_runs_out_when_the_forecast_says(
        session: Session, bill: pd.DataFrame) -> None:
    budget = create_spend_budget(session, SpendBudgetSpec(
        name="storage", amount=490.0, basis=SpendBasis.CASH,
        scope=SpendScope(service_category="Storage"), thresholds=(0.5, 0.9)))

    status = spend_budget_status(session, budget)

    assert status is not None
    storage = bill[(bill.ServiceCategory == "Storage")
                   & (bill.ChargePeriodStart.str[:10] >= "2024-08-01")]
    assert status.actual == pytest.approx(round(storage.BilledCost.sum(), 2))  # 9 days × 20
    assert status.burn_rate == pytest.approx(20.0)
    assert status.forecast == pytest.approx(31 * 20.0, rel=0.01)
    assert status.forecast_low_95 <= status.forecast_low_80 <= status.forecast \
        <= status.forecast_high_80 <= status.forecast_high_95
    assert status.variance == pytest.approx(status.forecast - 490.0, abs=0.011)
    assert status.run_out_date == date(2024, 8, 25)  # 180 + 16 days × 20 ≥ 490
    assert status.required_daily_rate == pytest.approx((490.0 - 180.0) / 22, abs=0.01)
    assert status.state == "forecast_over"
    assert [t.reached for t in status.thresholds] == [False, False]
    assert [t.forecast_reached for t in status.thresholds] == [True, True]


def test_a_budget_already_spent_is_over_budget_from_the_day_it_ran_out(
        session: Session, bill: pd.DataFrame) -> None:
    budget = create_spend_budget(session, SpendBudgetSpec(
        name="weekend batch", amount=20.0, basis=SpendBasis.CASH,
        scope=SpendScope(account="222222222222")))

    status = spend_budget_status(session, budget)

    assert status is not None
    assert status.state == "over_budget"
    assert status.actual == pytest.approx(24.0)  # Saturday 3 and Sunday 4 August
    assert status.run_out_date == date(2024, 8, 4)


def test_budgets_are_named_once_and_in_their_bills_currency(session: Session,
                                                             bill: pd.DataFrame) -> None:
    spec = SpendBudgetSpec(name="all", amount=1000.0)
    budget = create_spend_budget(session, spec)
    with pytest.raises(Conflict):
        create_spend_budget(session, spec)
    with pytest.raises(InvalidInput) as caught:
        create_spend_budget(session, SpendBudgetSpec(name="eur", amount=1.0, currency="EUR"))
    assert caught.value.column == "currency"
    updated = update_spend_budget(session, budget.id, SpendBudgetSpec(
        name="all", amount=2000.0, period=ForecastHorizon.QUARTER))
    assert updated is not None and updated.spec.amount == 2000.0
    [status] = spend_budget_statuses(session)
    assert status.period == "2024-Q3"
    assert delete_spend_budget(session, budget.id) and spend_budget_statuses(session) == []


def test_a_budget_spec_names_its_bad_field() -> None:
    with pytest.raises(InvalidInput) as caught:
        SpendBudgetSpec(name="x", amount=-1.0)
    assert caught.value.column == "amount"
    with pytest.raises(InvalidInput) as caught:
        SpendBudgetSpec(name="x", amount=1.0, scope=SpendScope(tag_key="team"))
    assert caught.value.column == "tag_key"


@pytest.mark.parametrize("dimension", [SpendDimension.NONE, SpendDimension.BILLING_PERIOD])
def test_variance_movers_need_a_dimension_other_than_the_invoice(
        dimension: SpendDimension) -> None:
    """Movers by billing period would all be new or gone: each month is its own invoice."""
    with pytest.raises(InvalidInput) as caught:
        VarianceQuery(group_by=dimension)
    assert caught.value.column == "group_by"


def test_the_variance_report_explains_the_change_by_its_movers(
        session: Session, bill: pd.DataFrame) -> None:
    create_spend_budget(session, SpendBudgetSpec(name="all", amount=700.0,
                                                 basis=SpendBasis.CASH))

    report = spend_variance(session, VarianceQuery(basis=SpendBasis.CASH,
                                                   group_by=SpendDimension.SERVICE, top=2))
    frame = report.frame

    budget = frame[frame.kind == "budget"].iloc[0]
    total = frame[frame.kind == "total"].iloc[0]
    movers = frame[frame.kind == "mover"]
    july = bill[bill.ChargePeriodStart.str[:7] == "2024-07"].BilledCost.sum()
    assert total["previous"] == pytest.approx(round(july, 2))
    assert budget["variance"] == pytest.approx(budget["forecast"] - 700.0, abs=0.011)
    assert movers["change"].sum() == pytest.approx(total["change"], abs=0.05)
    assert list(movers["group"])[-1] == "(other)"
    assert movers["share_of_change"].sum() == pytest.approx(1.0, abs=1e-6)


def test_the_variance_total_s_interval_sees_groups_that_move_together(
        tmp_path: Path, session: Session) -> None:
    """Storage and network of one workload in lockstep: each day both are 20 × the same
    noisy multiplier. The total's 80 % interval must be as wide as a forecast of the total
    itself: group paths summed as if independent would give about 1/√2 of it."""
    rng = np.random.default_rng(7)
    first = datetime(2024, 5, 1, tzinfo=UTC)
    rows = []
    for offset in range(70):
        day = first + timedelta(days=offset)
        rows.append(ec2(day))  # the compute usage every stored bill needs
        cost = round(20.0 * max(0.2, 1.0 + 0.3 * rng.standard_normal()), 2)
        for category, service in (("Storage", "Amazon Simple Storage Service"),
                                  ("Networking", "Amazon Virtual Private Cloud")):
            rows.append(row(day, day + timedelta(days=1), billed=cost,
                            service_category=category, service=service))
    store_bill(session, write_bill(tmp_path / "bill.csv", rows))
    as_of = date(2024, 7, 1)

    variance = spend_variance(session, VarianceQuery(basis=SpendBasis.CASH, as_of=as_of,
                                                     group_by=SpendDimension.SERVICE))
    total = variance.frame[variance.frame.kind == "total"].iloc[0]
    whole = spend_forecast(session, SpendForecastQuery(
        basis=SpendBasis.CASH, as_of=as_of, horizons=(ForecastHorizon.MONTH,))).frame.iloc[0]

    width = total["forecast_high_80"] - total["forecast_low_80"]
    joint = whole["forecast_high_80"] - whole["forecast_low_80"]
    assert joint > 0
    assert width == pytest.approx(joint, rel=0.15)
    assert total["forecast_low_80"] < total["forecast"] < total["forecast_high_80"]
