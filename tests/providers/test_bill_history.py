"""Monthly exports that add up: each delivery wins on its hours, the history keeps the rest."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from focus_factories import aws_row, write
from sqlalchemy import Engine, func, select

from core.db import repository
from core.db.reporting_models import BillCostLineRow, FocusCostLineRow
from core.db.session import create_engine_for, session_scope
from core.errors import InvalidInput
from ladder.pipeline import ingest

HOURS = 24 * 4


def day_rows(first_day: int, days: int, *, quantity: float = 1.0,
             currency: str = "USD") -> list[dict[str, object]]:
    """An m5.large and a c5.large every hour of ``days`` days from 2025-01-``first_day``."""
    rows = []
    for h in range(24 * days):
        day, hour = first_day + h // 24, h % 24
        period = {"ChargePeriodStart": f"2025-01-{day:02d}T{hour:02d}:00:00Z",
                  "ChargePeriodEnd": (f"2025-01-{day:02d}T{hour + 1:02d}:00:00Z" if hour < 23
                                      else f"2025-01-{day + 1:02d}T00:00:00Z"),
                  "BillingCurrency": currency}
        rows.append(aws_row("m5.large", quantity=quantity, **period))
        rows.append(aws_row("c5.large", quantity=2 * quantity, **period))
    return rows


@pytest.fixture
def db_engine(db_url: str) -> Iterator[Engine]:
    engine = create_engine_for(db_url)
    yield engine
    engine.dispose()


def totals(engine: Engine) -> tuple[float, float, int]:
    """Units and billed cost of the latest dataset, and its hours."""
    with session_scope(engine) as session:
        latest = repository.latest_dataset(session, "aws")
        assert latest is not None
        units = float(repository.load_usage(session, latest.id)["units"].sum())
        billed = session.scalar(select(func.sum(FocusCostLineRow.billed_cost))
                                .where(FocusCostLineRow.dataset_id == latest.id))
        return units, float(billed or 0.0), latest.hours


def raw_totals(*files: Path) -> tuple[float, float]:
    """Units (m5.large 4, c5.large 4 per instance-hour) and BilledCost with plain pandas."""
    frame = pd.concat([pd.read_csv(f) for f in files])
    return float(frame["ConsumedQuantity"].sum() * 4), float(frame["BilledCost"].sum())


def test_two_half_month_files_add_up_in_either_order(db_engine: Engine, tmp_path: Path) -> None:
    first = write(tmp_path / "first.csv", day_rows(1, 2))
    second = write(tmp_path / "second.csv", day_rows(3, 2))
    ingest(db_engine, second, provider="aws")
    ingest(db_engine, first, provider="aws")
    units, billed, hours = totals(db_engine)
    assert hours == HOURS
    assert (units, billed) == pytest.approx(raw_totals(first, second))


def test_a_restated_period_replaces_only_its_own_hours(db_engine: Engine,
                                                         tmp_path: Path) -> None:
    january = write(tmp_path / "month.csv", day_rows(1, 4))
    restated = write(tmp_path / "restated.csv", day_rows(2, 2, quantity=3.0))
    ingest(db_engine, january, provider="aws")
    ingest(db_engine, restated, provider="aws")
    units, billed, hours = totals(db_engine)
    kept = pd.read_csv(january)
    kept = kept[~kept["ChargePeriodStart"].str[:10].isin(["2025-01-02", "2025-01-03"])]
    new = pd.read_csv(restated)
    assert hours == HOURS
    assert units == pytest.approx((kept["ConsumedQuantity"].sum()
                                   + new["ConsumedQuantity"].sum()) * 4)
    assert billed == pytest.approx(kept["BilledCost"].sum() + new["BilledCost"].sum())


def test_the_same_file_again_changes_nothing(db_engine: Engine, tmp_path: Path) -> None:
    first = write(tmp_path / "first.csv", day_rows(1, 2))
    second = write(tmp_path / "second.csv", day_rows(3, 2))
    ingest(db_engine, first, provider="aws")
    ingest(db_engine, second, provider="aws")
    before = totals(db_engine)
    again = ingest(db_engine, first, provider="aws")
    assert not again.created
    assert totals(db_engine) == before


def test_a_delivery_in_another_currency_is_refused_and_stores_nothing(
        db_engine: Engine, tmp_path: Path) -> None:
    ingest(db_engine, write(tmp_path / "usd.csv", day_rows(1, 1)), provider="aws")
    before = totals(db_engine)
    with pytest.raises(InvalidInput, match="in USD, this delivery in EUR") as refused:
        ingest(db_engine, write(tmp_path / "eur.csv", day_rows(2, 1, currency="EUR")),
               provider="aws")
    assert refused.value.column == "BillingCurrency"
    assert totals(db_engine) == before


def test_the_whole_bill_adds_up_over_deliveries(db_engine: Engine, tmp_path: Path) -> None:
    def with_storage(first_day: int, days: int) -> list[dict[str, object]]:
        rows = day_rows(first_day, days)
        rows += [aws_row(ServiceCategory="Storage", ServiceName="Amazon Simple Storage Service",
                         ChargeDescription="$0.023 per GB-Month", ConsumedUnit="GB-Mo",
                         x_UsageType="TimedStorage-ByteHrs", BilledCost=1.25, ListCost=1.25,
                         ChargePeriodStart=f"2025-01-{d:02d}T00:00:00Z",
                         ChargePeriodEnd=f"2025-01-{d + 1:02d}T00:00:00Z")
                 for d in range(first_day, first_day + days)]
        return rows

    first = write(tmp_path / "first.csv", with_storage(1, 2))
    second = write(tmp_path / "second.csv", with_storage(3, 2))
    ingest(db_engine, first, provider="aws")
    ingest(db_engine, second, provider="aws")
    with session_scope(db_engine) as session:
        latest = repository.latest_dataset(session, "aws")
        assert latest is not None
        billed = session.scalar(select(func.sum(BillCostLineRow.billed_cost))
                                .where(BillCostLineRow.dataset_id == latest.id))
        storage = session.scalar(select(func.sum(BillCostLineRow.billed_cost))
                                 .where(BillCostLineRow.dataset_id == latest.id,
                                        BillCostLineRow.service_category == "Storage"))
    assert billed == pytest.approx(raw_totals(first, second)[1])
    assert storage == pytest.approx(1.25 * 4)
