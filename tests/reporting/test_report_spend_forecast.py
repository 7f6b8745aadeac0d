"""Spend forecasts of the whole bill to the end of month, quarter and fiscal year."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest
from bill_factories import long_bill_rows, store_bill, write_bill
from sqlalchemy.orm import Session

from core.db.repository import replace_inventory
from core.domain import Commitment, Offering, PaymentOption, Shape
from core.errors import InvalidInput
from reporting.spend import SpendBasis, SpendDimension, SpendScope
from reporting.spend_forecast import (
    ForecastHorizon,
    SpendForecastQuery,
    commitment_spend,
    daily_spend_forecast,
    horizon_period,
    spend_forecast,
)


@pytest.fixture
def bill(tmp_path: Path, session: Session) -> pd.DataFrame:
    """70 days from 2024-06-01 (to 2024-08-10)."""
    path = write_bill(tmp_path / "bill.csv", long_bill_rows())
    store_bill(session, path)
    return pd.read_csv(path)


def test_the_periods_of_each_horizon() -> None:
    day = date(2024, 8, 10)
    assert horizon_period(day, ForecastHorizon.MONTH) == (date(2024, 8, 1), date(2024, 9, 1),
                                                          "2024-08")
    assert horizon_period(day, ForecastHorizon.QUARTER) == (date(2024, 7, 1),
                                                            date(2024, 10, 1), "2024-Q3")
    assert horizon_period(day, ForecastHorizon.FISCAL_YEAR, 4) == (
        date(2024, 4, 1), date(2025, 4, 1), "FY2025")
    assert horizon_period(date(2024, 2, 1), ForecastHorizon.FISCAL_YEAR, 4)[0] == date(
        2023, 4, 1)
    assert horizon_period(day, ForecastHorizon.FISCAL_YEAR)[2] == "2024"


def test_the_forecast_is_the_actual_to_date_plus_the_days_left(
        session: Session, bill: pd.DataFrame) -> None:
    report = spend_forecast(session, SpendForecastQuery(basis=SpendBasis.CASH,
                                                        fiscal_year_start_month=4))
    rows = report.frame.set_index("horizon")

    day = bill["ChargePeriodStart"].str[:10]
    august = bill.loc[day >= "2024-08-01", "BilledCost"].sum()
    quarter = bill.loc[day >= "2024-07-01", "BilledCost"].sum()
    assert rows.loc["month", "as_of"] == date(2024, 8, 10)
    assert rows.loc["month", "actual"] == pytest.approx(round(august, 2))
    assert rows.loc["quarter", "actual"] == pytest.approx(round(quarter, 2))
    assert rows.loc["fiscal_year", "actual"] == pytest.approx(round(bill.BilledCost.sum(), 2))
    assert rows.loc["month", "days_remaining"] == 22
    # 20.096 a day on weekdays, 32.096 on weekends; August 10-31: 15 weekdays, 7 weekend days.
    left = rows.loc["month", "forecast"] - rows.loc["month", "actual"]
    assert left == pytest.approx(15 * 20.096 + 7 * 32.096, rel=0.01)
    for _, row in rows.iterrows():
        assert row["forecast_low_95"] <= row["forecast_low_80"] <= row["forecast"] \
            <= row["forecast_high_80"] <= row["forecast_high_95"]


def test_september_first_brings_the_support_fee(session: Session, bill: pd.DataFrame) -> None:
    report = daily_spend_forecast(session, SpendForecastQuery(
        basis=SpendBasis.CASH, horizons=(ForecastHorizon.QUARTER,)))
    by_day = report.frame.set_index("day")["forecast"]

    assert by_day[date(2024, 9, 1)] - by_day[date(2024, 9, 2)] > 40.0
    assert by_day.index.max() == date(2024, 9, 30)


def test_forecasts_per_group(session: Session, bill: pd.DataFrame) -> None:
    report = spend_forecast(session, SpendForecastQuery(
        group_by=SpendDimension.ACCOUNT, horizons=(ForecastHorizon.MONTH,)))

    assert set(report.frame["group"]) == {"111111111111", "222222222222"}
    batch = report.frame.set_index("group").loc["222222222222"]
    assert batch["forecast"] - batch["actual"] == pytest.approx(7 * 12.0, rel=0.05)


def test_committed_spend_is_known_over_the_days_left(session: Session,
                                                      bill: pd.DataFrame) -> None:
    offering = Offering("ri-test", Shape.UNIT, term_hours=8760, upfront=0.0, hourly=0.5,
                        order=0, covers={"aws/x": 1.0}, payment_option=PaymentOption.NO_UPFRONT)
    replace_inventory(session, "aws", [Commitment(offering, 2.0,
                                                  datetime(2024, 8, 20, tzinfo=UTC), "ri-1")])

    known = commitment_spend(session, ["aws"], SpendBasis.AMORTIZED, date(2024, 8, 19),
                             date(2024, 8, 22))
    report = spend_forecast(session, SpendForecastQuery(horizons=(ForecastHorizon.MONTH,)))
    narrowed = spend_forecast(session, SpendForecastQuery(
        horizons=(ForecastHorizon.MONTH,), scope=SpendScope(account="111111111111")))

    assert list(known) == [0.0, 24.0, 24.0]
    assert report.frame.loc[0, "known_spend"] == pytest.approx(12 * 24.0)
    assert narrowed.frame.loc[0, "known_spend"] == 0.0


def test_a_forecast_cannot_start_after_the_bill(session: Session, bill: pd.DataFrame) -> None:
    with pytest.raises(InvalidInput) as caught:
        spend_forecast(session, SpendForecastQuery(as_of=date(2024, 9, 1)))
    assert caught.value.column == "as_of"
