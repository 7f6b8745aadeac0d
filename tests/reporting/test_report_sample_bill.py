"""The sample's whole bill (``providers/sample/data/bill.parquet``): a fresh build equals it,
its compute rows are the sample's usage, and spend reconciles with its raw rows."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from bill_factories import store_bill
from sqlalchemy.orm import Session

from reporting.money import cents_of
from reporting.spend import SpendBasis, SpendDimension, SpendGranularity, SpendQuery, spend
from tools import build_sample_bill as bill_build

SAMPLE = Path(__file__).resolve().parents[2] / "providers" / "sample" / "data"
BILL = SAMPLE / bill_build.BILL_FILE
USAGE = SAMPLE / bill_build.USAGE_FILE


@pytest.mark.skipif(not (bill_build.DEFAULT_DATA_DIR / bill_build.FOCUS_SAMPLE).is_file(),
                    reason="shared/data not present")
def test_the_committed_bill_equals_a_fresh_build() -> None:
    fresh = bill_build.build_bill(bill_build.DEFAULT_DATA_DIR, USAGE)
    assert fresh.equals(pq.read_table(BILL))


def test_the_bills_compute_rows_are_the_samples_usage() -> None:
    bill, usage = pq.read_table(BILL).to_pandas(), pq.read_table(USAGE).to_pandas()
    compute = bill.iloc[:len(usage)].reset_index(drop=True)
    pd.testing.assert_frame_equal(compute, usage)
    rest = bill.iloc[len(usage):]
    assert set(rest["ServiceCategory"]) == {"Storage", "Databases", "Networking",
                                            "Management and Governance", "Other"}
    assert {"Tax", "Credit"} <= set(rest["ChargeCategory"])


def test_ingested_after_the_usage_its_spend_is_the_invoice_per_billing_period(
        session: Session) -> None:
    store_bill(session, USAGE, provider="sample")
    store_bill(session, BILL, provider="sample")
    raw = pq.read_table(BILL).to_pandas()

    report = spend(session, SpendQuery(basis=SpendBasis.CASH))
    by_category = spend(session, SpendQuery(basis=SpendBasis.CASH,
                                            granularity=SpendGranularity.TOTAL,
                                            group_by=SpendDimension.SERVICE_CATEGORY))

    periods = raw["BillingPeriodStart"].dt.strftime("%Y-%m")
    expected = raw.groupby(periods)["BilledCost"].sum()
    found = dict(zip(report.frame["period"], cents_of(report.frame["cost"]), strict=True))
    assert found == {p: round(v * 100) for p, v in expected.items()}
    categories = dict(zip(by_category.frame["group"], by_category.frame["cost"], strict=True))
    assert categories["Compute"] < by_category.totals()["cost"]
    assert categories["Storage"] > 0 and categories["Other"] > 0
