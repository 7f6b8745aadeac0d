"""Spend on the whole bill: totals recomputed with plain pandas from the raw FOCUS rows.

The cash basis is Σ BilledCost per billing period (the invoice), the amortized basis
Σ EffectiveCost; a commitment's purchase counts on the cash basis only.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest
from bill_factories import bill_rows, store_bill, write_bill
from sqlalchemy.orm import Session

from core.errors import InvalidInput, NotFound
from providers.bills import cloud_of_name
from reporting.money import cents_of
from reporting.spend import (
    SpendBasis,
    SpendDimension,
    SpendGranularity,
    SpendQuery,
    SpendScope,
    spend,
)

FOCUS_SAMPLE = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "billing" \
    / "focus-sample" / "focus_sample.csv"


@pytest.fixture
def bill(tmp_path: Path, session: Session) -> pd.DataFrame:
    """The fixture's bill stored; its raw rows as pandas reads them."""
    path = write_bill(tmp_path / "bill.csv")
    store_bill(session, path)
    return pd.read_csv(path)


def _cents(value: float) -> int:
    return round(value * 100)


def _by_period(report_frame: pd.DataFrame) -> dict[str, int]:
    return {str(p): int(c) for p, c in zip(
        report_frame["period"], cents_of(report_frame["cost"]), strict=True)}


def test_cash_spend_per_month_is_the_billed_cost_of_each_billing_period(
        session: Session, bill: pd.DataFrame) -> None:
    report = spend(session, SpendQuery(basis=SpendBasis.CASH))

    expected = bill.groupby(bill["BillingPeriodStart"].str[:7])["BilledCost"].sum()
    assert _by_period(report.frame) == {p: _cents(v) for p, v in expected.items()}
    assert report.currency == "USD"


def test_amortized_spend_is_the_effective_cost_and_counts_no_purchase(
        session: Session, bill: pd.DataFrame) -> None:
    report = spend(session, SpendQuery(basis=SpendBasis.AMORTIZED,
                                       granularity=SpendGranularity.TOTAL))
    cash = spend(session, SpendQuery(basis=SpendBasis.CASH, granularity=SpendGranularity.TOTAL))

    assert report.totals()["cost"] == pytest.approx(round(bill["EffectiveCost"].sum(), 2))
    purchase = bill.loc[bill.ChargeCategory == "Purchase", "BilledCost"].sum()
    covered = bill.loc[bill.CommitmentDiscountId.notna() & (bill.ChargeCategory == "Usage"),
                       "EffectiveCost"].sum()
    # The purchase is cash only; its amortization (the covered usage) amortized only.
    assert cash.totals()["cost"] - report.totals()["cost"] == pytest.approx(
        round(purchase - covered, 2))
    assert purchase > 0 and covered > 0


def test_spend_grouped_by_service_category_adds_up_to_each_period(
        session: Session, bill: pd.DataFrame) -> None:
    report = spend(session, SpendQuery(basis=SpendBasis.CASH,
                                       group_by=SpendDimension.SERVICE_CATEGORY))
    frame = report.frame

    raw = bill.assign(period=bill["BillingPeriodStart"].str[:7]).groupby(
        ["period", "ServiceCategory"])["BilledCost"].sum()
    found = {(p, g): int(c) for p, g, c in zip(frame["period"], frame["group"],
                                                cents_of(frame["cost"]), strict=True)}
    assert found == {key: _cents(v) for key, v in raw.items()}
    assert {"Storage", "Databases", "Other", "Management and Governance"} <= set(frame["group"])


@pytest.mark.parametrize(("dimension", "column"), [
    (SpendDimension.ACCOUNT, "SubAccountId"), (SpendDimension.SERVICE, "ServiceName"),
    (SpendDimension.REGION, "RegionId"), (SpendDimension.CHARGE_CATEGORY, "ChargeCategory"),
])
def test_spend_per_dimension_equals_the_raw_rows_grouped_the_same_way(
        session: Session, bill: pd.DataFrame, dimension: SpendDimension, column: str) -> None:
    report = spend(session, SpendQuery(basis=SpendBasis.AMORTIZED, group_by=dimension,
                                       granularity=SpendGranularity.TOTAL))

    raw = bill.groupby(bill[column].astype(str))["EffectiveCost"].sum()
    found = dict(zip(report.frame["group"], cents_of(report.frame["cost"]), strict=True))
    assert found == {key: _cents(v) for key, v in raw.items()}


def test_spend_by_tag_puts_rows_without_the_tag_in_untagged(
        session: Session, bill: pd.DataFrame) -> None:
    report = spend(session, SpendQuery(basis=SpendBasis.CASH, group_by=SpendDimension.TAG,
                                       granularity=SpendGranularity.TOTAL,
                                       scope=SpendScope(tag_key="team")))

    found = dict(zip(report.frame["group"], report.frame["cost"], strict=True))
    team = bill["Tags"].str.extract(r'"team": "(\w+)"')[0].fillna("(untagged)")
    raw = bill.groupby(team)["BilledCost"].sum()
    assert found == {key: pytest.approx(round(v, 2)) for key, v in raw.items()}


def test_spend_narrowed_to_a_tag_value_and_a_day_window(
        session: Session, bill: pd.DataFrame) -> None:
    report = spend(session, SpendQuery(
        start="2025-02-01", end="2025-02-03", basis=SpendBasis.CASH,
        granularity=SpendGranularity.DAY,
        scope=SpendScope(tag_key="team", tag_value="data")))

    data = bill[bill.Tags.str.contains('"data"')]
    days = data["ChargePeriodStart"].str[:10]
    raw = data[days >= "2025-02-01"].groupby(days)["BilledCost"].sum()
    assert _by_period(report.frame) == {d: _cents(v) for d, v in raw.items()}


def test_weekly_periods_start_on_monday(session: Session, bill: pd.DataFrame) -> None:
    report = spend(session, SpendQuery(granularity=SpendGranularity.WEEK))

    # 2025-01-01 (the support fee's first day) is a Wednesday of ISO week 1.
    assert list(report.frame["period"]) == ["2025-W01", "2025-W02", "2025-W03", "2025-W04",
                                            "2025-W05"]
    assert str(report.frame["period_start"].iloc[1]) == "2025-01-06"


def test_a_bill_in_two_currencies_needs_one_named(session: Session, tmp_path: Path) -> None:
    rows = bill_rows()
    other = [dict(r, BillingCurrency="EUR", SubAccountId="333333333333") for r in rows[:2]]
    store_bill(session, write_bill(tmp_path / "usd.csv", rows[2:]), provider="aws")
    store_bill(session, write_bill(tmp_path / "eur.csv", other), provider="sample")

    with pytest.raises(InvalidInput) as caught:
        spend(session)
    assert caught.value.column == "currency"
    report = spend(session, SpendQuery(scope=SpendScope(currency="eur")))
    assert report.currency == "EUR"


def test_no_bill_is_not_found(session: Session) -> None:
    with pytest.raises(NotFound, match="ingest a FOCUS bill"):
        spend(session)


@pytest.mark.skipif(not FOCUS_SAMPLE.exists(), reason="shared FOCUS sample not present")
def test_the_focus_samples_invoice_per_provider_and_billing_period(session: Session) -> None:
    """Monthly cash spend is the invoice of each billing period where every charge falls in
    its billing period (AWS's rows); a charge billed in a later period (the sample's OCI row
    of 2024-09-30, billed in October) counts in the month it was incurred."""
    providers = store_bill(session, FOCUS_SAMPLE)
    raw = pd.read_csv(FOCUS_SAMPLE, na_values=["NULL"], keep_default_na=False)
    clouds = raw.ProviderName.map(cloud_of_name)
    assert "aws" in providers  # and whichever other clouds of the sample Ladder reads
    for provider in providers:
        rows = raw[clouds == provider]
        report = spend(session, SpendQuery(basis=SpendBasis.CASH,
                                           scope=SpendScope(provider=provider)))
        inside = (rows["ChargePeriodStart"] >= rows["BillingPeriodStart"]) & (
            rows["ChargePeriodStart"] < rows["BillingPeriodEnd"])
        month = rows["BillingPeriodStart" if inside.all() else "ChargePeriodStart"].str[:7]
        if provider == "aws":
            assert inside.all()
        expected = rows.groupby([month, rows["BillingCurrency"]])["BilledCost"].sum()
        assert {(p, report.currency): c for p, c in _by_period(report.frame).items()} == {
            key: _cents(v) for key, v in expected.items()}
        amortized = spend(session, SpendQuery(basis=SpendBasis.AMORTIZED,
                                              granularity=SpendGranularity.TOTAL,
                                              scope=SpendScope(provider=provider)))
        assert amortized.totals()["cost"] == pytest.approx(
            round(float(rows["EffectiveCost"].sum()), 2))


@pytest.mark.skipif(not FOCUS_SAMPLE.exists(), reason="shared FOCUS sample not present")
def test_spend_by_billing_period_is_each_invoice_even_for_late_charges(
        session: Session) -> None:
    """Grouped by billing period, cash spend is Σ BilledCost per BillingPeriodStart and
    currency for every cloud of the sample: OCI's charge of 2024-09-30, billed in October,
    is on October's invoice, not September's."""
    providers = store_bill(session, FOCUS_SAMPLE)
    raw = pd.read_csv(FOCUS_SAMPLE, na_values=["NULL"], keep_default_na=False)
    clouds = raw.ProviderName.map(cloud_of_name)
    late = 0
    for provider in providers:
        rows = raw[clouds == provider]
        late += int((rows["ChargePeriodStart"].str[:7] != rows["BillingPeriodStart"].str[:7])
                    .sum())
        report = spend(session, SpendQuery(basis=SpendBasis.CASH,
                                           granularity=SpendGranularity.TOTAL,
                                           group_by=SpendDimension.BILLING_PERIOD,
                                           scope=SpendScope(provider=provider)))
        got = {str(g): int(c) for g, c in zip(report.frame["group"],
                                              cents_of(report.frame["cost"]), strict=True)}
        expected = rows.groupby(rows["BillingPeriodStart"].str[:10])["BilledCost"].sum()
        assert got == {period: _cents(v) for period, v in expected.items()}, provider
    assert late > 0, "the sample holds a charge billed in a later period"


def test_a_query_takes_a_utc_midnight_as_its_day() -> None:
    query = SpendQuery(start=datetime(2024, 6, 1, tzinfo=UTC), end=date(2024, 7, 1))
    assert query.start == date(2024, 6, 1) and type(query.start) is date
    assert query.to_dict()["start"] == "2024-06-01"
    with pytest.raises(InvalidInput) as caught:
        SpendQuery(start=datetime(2024, 6, 1, 12, tzinfo=UTC))
    assert caught.value.column == "start"
