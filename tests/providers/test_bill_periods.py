"""Exports that add up, by billing period (``ladder.history``), on the bundled sample's bill.

The fixture is the sample's whole bill (``providers/sample/data/bill.parquet``, built by
``tools/build_sample_bill.py``): June and July 2024, cut here with pandas into the files a
test ingests one after the other. Every figure is compared with one ingest of all the files
and with the raw rows summed with plain pandas: spend (BilledCost and EffectiveCost per
billing period), chargeback by the ``team`` tag, the hourly compute usage (hours, units,
on-demand cost) and the amortized compute cost.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from sqlalchemy import Engine, func, select

from core.db import repository
from core.db.models import DatasetRow
from core.db.period_models import UsagePeriodHour
from core.db.reporting_models import BillCostLineRow, FocusCostLineRow
from core.db.session import create_engine_for, migrate, session_scope
from core.errors import InvalidInput
from ladder import history, pipeline
from ladder.pipeline import ingest
from reporting import Dimension, ReportQuery, Scope, amortization, bill_lines, chargeback
from reporting.spend import (
    SpendBasis,
    SpendDimension,
    SpendGranularity,
    SpendQuery,
    SpendScope,
    spend,
)

BILL = Path(__file__).resolve().parents[2] / "providers" / "sample" / "data" / "bill.parquet"
JUNE, JULY = "2024-06", "2024-07"


@pytest.fixture(scope="module")
def bill() -> pd.DataFrame:
    """June and July of the sample's bill, every row."""
    frame = pq.read_table(BILL).to_pandas()
    periods = frame["BillingPeriodStart"].dt.strftime("%Y-%m")
    return frame[periods.isin([JUNE, JULY])].reset_index(drop=True)


@pytest.fixture
def db_engine(db_url: str) -> Iterator[Engine]:
    engine = create_engine_for(db_url)
    yield engine
    engine.dispose()


def write(path: Path, rows: pd.DataFrame) -> Path:
    """The rows as a FOCUS Parquet file."""
    rows.reset_index(drop=True).to_parquet(path, index=False)
    return path


def period(rows: pd.DataFrame) -> pd.Series:
    return rows["BillingPeriodStart"].dt.strftime("%Y-%m")


def compute(rows: pd.DataFrame) -> pd.DataFrame:
    """The EC2 instance hours of the rows (those the hourly usage is made of)."""
    return rows[(rows["ChargeCategory"] == "Usage")
                & rows["x_UsageType"].fillna("").str.contains("BoxUsage")]


def team_of(tags: pd.Series) -> pd.Series:
    return tags.map(lambda t: json.loads(t).get("team", "(untagged)") if t else "(untagged)")


def expected(rows: pd.DataFrame) -> dict[str, object]:
    """What the reports must say, from the raw rows with plain pandas."""
    used = compute(rows)
    start = pd.to_datetime(used["ChargePeriodStart"], utc=True)
    return {
        "billed": rows.groupby(period(rows))["BilledCost"].sum().round(2).to_dict(),
        "effective": rows.groupby(period(rows))["EffectiveCost"].sum().round(2).to_dict(),
        "by_team": rows.groupby(team_of(rows["Tags"]))["EffectiveCost"].sum().round(2).to_dict(),
        "compute_list": round(float(used["ListCost"].sum()), 2),
        "compute_by_team": used.groupby(team_of(used["Tags"]))["ListCost"].sum()
        .round(2).to_dict(),
        "usage_hours": int(start.dt.floor("h").nunique()),
        "usage_start": start.min(),
    }


def figures(engine: Engine) -> dict[str, object]:
    """What Ladder reports after the ingests: the same figures as :func:`expected`, and the
    dataset's units (which the raw rows give only through normalisation factors)."""
    with session_scope(engine) as session:
        latest = repository.latest_dataset(session, "aws")
        assert latest is not None
        usage = repository.load_usage(session, latest.id)
        monthly = SpendQuery(granularity=SpendGranularity.TOTAL,
                             group_by=SpendDimension.BILLING_PERIOD)
        cash = spend(session, SpendQuery(basis=SpendBasis.CASH,
                                         granularity=SpendGranularity.TOTAL,
                                         group_by=SpendDimension.BILLING_PERIOD)).frame
        amortized = spend(session, monthly).frame
        teams = spend(session, SpendQuery(granularity=SpendGranularity.TOTAL,
                                          group_by=SpendDimension.TAG,
                                          scope=SpendScope(tag_key="team"))).frame
        charged = chargeback(session, ReportQuery(group_by=Dimension.TAG,
                                                  scope=Scope(tag_key="team"))).frame
        amortized_compute = amortization(session, ReportQuery()).frame
        used = usage[usage["units"] > 0]
        lines = bill_lines.load_bill_lines(session, latest.id)
        by_period = lines.groupby(lines["billing_period"].astype(str).str[:7])["billed_cost"]
        return {
            "lines_billed": {p: round(float(c), 6) for p, c in by_period.sum().items()},
            "billed": {str(p)[:7]: round(float(c), 2)
                       for p, c in zip(cash["group"], cash["cost"], strict=True)},
            "effective": {str(p)[:7]: round(float(c), 2)
                          for p, c in zip(amortized["group"], amortized["cost"], strict=True)},
            "by_team": {str(g): round(float(c), 2)
                        for g, c in zip(teams["group"], teams["cost"], strict=True)},
            "compute_list": round(float(usage["on_demand_cost"].sum()), 2),
            "compute_by_team": charged.groupby("group")["amortized_cost"].sum().round(2)
            .to_dict(),
            "amortized_compute": round(float(amortized_compute["amortized_cost"].sum()), 2),
            "usage_hours": int(used["hour"].nunique()),
            "usage_start": latest.start,
            "units": round(float(usage["units"].sum()), 6),
            "hours": latest.hours,
        }


def assert_reports(found: dict[str, object], rows: pd.DataFrame) -> None:
    """Ladder's figures are the raw rows' (money to the cent; chargeback and the amortized
    compute cost within a cent per group, as they round per period and group)."""
    want = expected(rows)
    # Reports round each group so that the groups add up to the rounded total: a group may be
    # a cent off its own rounding.
    for name in ("billed", "effective", "by_team"):
        assert found[name] == pytest.approx(want[name], abs=0.011), name
    assert found["compute_list"] == pytest.approx(want["compute_list"], abs=0.005)
    assert found["compute_by_team"] == pytest.approx(want["compute_by_team"], abs=0.011)
    assert found["amortized_compute"] == pytest.approx(want["compute_list"], abs=0.02)
    assert found["usage_hours"] == want["usage_hours"]
    assert found["usage_start"] == want["usage_start"]


def one_ingest(tmp_path: Path, files: list[Path]) -> dict[str, object]:
    """The figures of one ingest of all ``files`` together, into a fresh database."""
    folder = tmp_path / "together"
    folder.mkdir()
    for file in files:
        (folder / file.name).write_bytes(file.read_bytes())
    engine = create_engine_for(f"sqlite:///{tmp_path / 'reference.db'}")
    try:
        migrate(engine)
        ingest(engine, folder, provider="aws")
        return figures(engine)
    finally:
        engine.dispose()


def charge_start(rows: pd.DataFrame) -> pd.Series:
    return pd.to_datetime(rows["ChargePeriodStart"], utc=True)


@pytest.mark.parametrize("order", ["in order", "reversed"])
def test_two_half_month_files_one_after_the_other_equal_one_ingest_of_both(
        db_engine: Engine, tmp_path: Path, bill: pd.DataFrame, order: str) -> None:
    # June cut in two by ChargePeriodStart: both halves are on June's invoice (the month's
    # tax, a row over the whole month, is in the first half only).
    first = write(tmp_path / "first.parquet", bill[charge_start(bill) < "2024-06-16"])
    second = write(tmp_path / "second.parquet", bill[charge_start(bill) >= "2024-06-16"])
    assert set(period(pd.read_parquet(first))) == {JUNE}
    for file in ([first, second] if order == "in order" else [second, first]):
        ingest(db_engine, file, provider="aws")
    found = figures(db_engine)
    assert found == one_ingest(tmp_path, [first, second])
    assert_reports(found, bill)


def test_a_restated_month_replaces_that_month_only(db_engine: Engine, tmp_path: Path,
                                                   bill: pd.DataFrame) -> None:
    june, july = bill[period(bill) == JUNE], bill[period(bill) == JULY].copy()
    # A late charge on July's invoice, dated 30 June: June's own lines of that day stay June's.
    late = compute(july).index[:3]
    july.loc[late, "ChargePeriodStart"] = july.loc[late, "ChargePeriodStart"].map(
        lambda t: t.replace(month=6, day=30))
    july.loc[late, "ChargePeriodEnd"] = july.loc[late, "ChargePeriodStart"] + pd.Timedelta(
        hours=1)
    ingest(db_engine, write(tmp_path / "june.parquet", june), provider="aws")
    ingest(db_engine, write(tmp_path / "july.parquet", july), provider="aws")
    before = figures(db_engine)
    assert_reports(before, pd.concat([june, july]))

    # The restatement: one account's rows are gone, another's cost 10 % more, the late
    # charges re-rated; same billing period, fewer rows.
    restated = july[july["SubAccountId"] != "417583920614"].copy()
    dearer = restated["SubAccountId"] == "230946158273"
    for column in ("ListCost", "BilledCost", "EffectiveCost", "ContractedCost"):
        restated.loc[dearer, column] = restated.loc[dearer, column] * 1.1
    assert len(restated) < len(july)
    outcome = ingest(db_engine, write(tmp_path / "july-restated.parquet", restated),
                     provider="aws")
    days = charge_start(restated)
    assert outcome.covered == (f"{JULY}: {days.min():%m-%d}..{days.max():%m-%d}",)
    after = figures(db_engine)
    assert_reports(after, pd.concat([june, restated]))
    assert after["lines_billed"][JUNE] == before["lines_billed"][JUNE]  # type: ignore[index]
    assert after["lines_billed"][JULY] != before["lines_billed"][JULY]  # type: ignore[index]
    assert after == one_ingest(tmp_path, [tmp_path / "june.parquet",
                                          tmp_path / "july-restated.parquet"])


def table_counts(engine: Engine) -> tuple[int, ...]:
    """Rows of every table an ingest writes."""
    with session_scope(engine) as session:
        return tuple(int(session.scalar(select(func.count()).select_from(model)) or 0)
                     for model in (DatasetRow, UsagePeriodHour, FocusCostLineRow,
                                   BillCostLineRow))


def test_the_same_file_twice_changes_nothing(db_engine: Engine, tmp_path: Path,
                                            bill: pd.DataFrame) -> None:
    june = write(tmp_path / "june.parquet", bill[period(bill) == JUNE])
    july = write(tmp_path / "july.parquet", bill[period(bill) == JULY])
    ingest(db_engine, june, provider="aws")
    ingest(db_engine, july, provider="aws")
    before, counts = figures(db_engine), table_counts(db_engine)
    for file in (july, june):
        again = ingest(db_engine, file, provider="aws")
        assert not again.created
    assert figures(db_engine) == before
    assert table_counts(db_engine) == counts


def test_a_failing_second_ingest_leaves_the_first_intact(
        db_engine: Engine, tmp_path: Path, bill: pd.DataFrame,
        monkeypatch: pytest.MonkeyPatch) -> None:
    june = bill[period(bill) == JUNE]
    july = bill[period(bill) == JULY].copy()
    ingest(db_engine, write(tmp_path / "june.parquet", june), provider="aws")
    before, counts = figures(db_engine), table_counts(db_engine)

    # A bad row: refused before anything is written, naming the file and the column.
    bad = july.copy()
    bad.iloc[5, bad.columns.get_loc("ConsumedQuantity")] = -1.0
    with pytest.raises(InvalidInput, match="ConsumedQuantity"):
        ingest(db_engine, write(tmp_path / "bad.parquet", bad), provider="aws")
    # A failure in the last step of the store: the dataset, its hours and cost lines,
    # already written in the transaction, are rolled back with it.
    good = write(tmp_path / "july.parquet", july)

    def broken(*_args: object, **_kwargs: object) -> int:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(pipeline.bill_lines, "add_bill_lines", broken)
    with pytest.raises(RuntimeError, match="went away"):
        ingest(db_engine, good, provider="aws")
    assert figures(db_engine) == before
    assert table_counts(db_engine) == counts
    monkeypatch.undo()
    ingest(db_engine, good, provider="aws")
    assert_reports(figures(db_engine), pd.concat([june, july]))


def test_files_without_billing_period_columns_fall_back_to_calendar_months(
        db_engine: Engine, tmp_path: Path, bill: pd.DataFrame) -> None:
    # The fallback: a row's period is its ChargePeriodStart's calendar month (UTC).
    rows = bill.drop(columns=["BillingPeriodStart", "BillingPeriodEnd"])
    start = charge_start(rows)
    first = write(tmp_path / "first.parquet", rows[start < "2024-06-20"])
    second = write(tmp_path / "second.parquet", rows[start >= "2024-06-20"])
    ingest(db_engine, second, provider="aws")
    ingest(db_engine, first, provider="aws")
    found = figures(db_engine)
    assert found == one_ingest(tmp_path, [first, second])
    assert found["compute_list"] == expected(bill)["compute_list"]
    assert found["by_team"] == pytest.approx(expected(bill)["by_team"], abs=0.005)
    # A restated June without period columns replaces June (by ChargePeriodStart) only.
    june = rows[start.dt.month == 6].copy()
    june["BilledCost"] = june["BilledCost"] * 2
    ingest(db_engine, write(tmp_path / "june-restated.parquet", june), provider="aws")
    with session_scope(db_engine) as session:
        latest = repository.latest_dataset(session, "aws")
        assert latest is not None
        billed = session.scalar(select(func.sum(BillCostLineRow.billed_cost))
                                .where(BillCostLineRow.dataset_id == latest.id))
    july = rows[start.dt.month == 7]
    assert billed == pytest.approx(june["BilledCost"].sum() + july["BilledCost"].sum())


def test_what_a_delivery_covers_is_per_billing_period_the_days_its_rows_start_on() -> None:
    lines = pd.DataFrame({
        "day": [date(2024, 6, 30), date(2024, 7, 1), date(2024, 7, 2), date(2024, 8, 1)],
        "billing_period": [date(2024, 7, 1), date(2024, 7, 1), date(2024, 7, 1), None],
        "charge_start_day": [date(2024, 6, 30), date(2024, 6, 30), date(2024, 7, 2),
                             date(2024, 8, 1)],
    })
    covers = history.coverage(lines)
    assert covers.to_dict("records") == [
        {"billing_period": date(2024, 7, 1), "first": date(2024, 6, 30),
         "last": date(2024, 7, 2)},
        {"billing_period": date(2024, 8, 1), "first": date(2024, 8, 1),
         "last": date(2024, 8, 1)},
    ]
    # June's own line of 30 June, and lines stored with no start day (their day counts).
    old = pd.DataFrame({"day": [date(2024, 6, 30), date(2024, 7, 1), date(2024, 7, 3)],
                        "billing_period": [date(2024, 6, 1), None, date(2024, 7, 1)]})
    assert list(history.covered(covers, *history.anchors(old))) == [False, True, False]
