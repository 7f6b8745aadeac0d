"""Commitments read from the bill (issue 18, point 2).

The bills here are the bundled sample's real-shaped FOCUS rows with part of one key's usage
covered by a commitment, written as a FOCUS export writes it: covered usage (``Used``,
``BilledCost`` 0, ``EffectiveCost`` at the offering's amortized rate), the idle part
(``Unused``) and its fees (``Purchase``). The offering the rows are priced at comes from the
provider's own offline catalog; the reader is not told which one it is.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from typer.testing import CliRunner

from core.db import repository
from core.db.session import create_engine_for, session_scope
from core.domain import Catalog, Commitment, Offering, Shape
from core.settings import Settings, get_settings
from ladder.cli import app
from providers.base import get_provider
from providers.bills import cloud_rules
from providers.focus.commitments import (
    BillInventory,
    commitment_key,
    match_commitment,
    match_commitments,
    offering_rates,
    read_bill_commitments,
    reconcile,
)
from providers.focus.reader import load_focus_rows
from reporting.amortization import amortization
from reporting.common import Dimension, ReportQuery, Scope

REPO = Path(__file__).resolve().parents[3]
SAMPLE = REPO / "providers/sample/data/usage.parquet"
KEY = "aws/230946158273/ec2/us-east-1/m4/linux/shared"
ARN = "arn:aws:ec2:us-east-1:230946158273:reserved-instances/5ec1a1b2-0000-4000-8000-000000000001"
COVERED_INSTANCES = 2.0
"""m4.2xlarge instances the commitment covers each hour (16 normalised units each)."""
QUANTITY = 40.0
"""Normalised units owned: 32 used every hour, 8 idle."""
HOURS = 48
runner = CliRunner()


# The bills concatenate frames whose unused-commitment rows have no quantity.
pytestmark = pytest.mark.filterwarnings("ignore:The behavior of DataFrame concatenation")


@pytest.fixture
def aws_prices(no_cloud_credentials: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The aws provider on the sample bill with no credentials: snapshot prices, no API."""
    monkeypatch.setenv("LADDER_AWS_USAGE", str(SAMPLE))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def aws_offline(aws_prices: None, ladder_settings: Settings) -> Iterator[Settings]:
    """``aws_prices`` with the settings of a fresh database (SQLite, and PostgreSQL)."""
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def _catalog() -> Catalog:
    return get_provider("aws").catalog()


def _offering(catalog: Catalog, prefix: str) -> Offering:
    (offering,) = [o for o in catalog.offerings
                   if o.offering_id.startswith(prefix) and KEY in o.eligible_keys]
    return offering


def _covered_bill(offering: Offering, *, one_time_at: datetime | None = None) -> pd.DataFrame:
    """The sample bill with ``COVERED_INSTANCES`` m4.2xlarge of ``KEY`` covered in each of the
    last ``HOURS`` hours by ``offering`` (an RI of ``QUANTITY`` units), priced as a FOCUS
    export prices them."""
    rows = pd.read_parquet(SAMPLE)
    end = rows["ChargePeriodEnd"].max()
    first = end - pd.Timedelta(hours=HOURS)
    target = ((rows["SubAccountId"] == "230946158273")
              & (rows["x_UsageType"] == "BoxUsage:m4.2xlarge")
              & (rows["ChargePeriodStart"] >= first))
    assert target.sum() == HOURS
    assert (rows.loc[target, "ConsumedQuantity"] > COVERED_INSTANCES).all()
    rate = offering_rates(offering)[KEY]
    hourly_list = rows.loc[target, "ListUnitPrice"]
    covered = rows[target].copy()
    for column in ("ConsumedQuantity", "PricingQuantity"):
        covered[column] = COVERED_INSTANCES
    covered["ListCost"] = covered["ContractedCost"] = COVERED_INSTANCES * hourly_list
    covered["BilledCost"] = 0.0
    covered["EffectiveCost"] = COVERED_INSTANCES * 16 * rate
    covered["CommitmentDiscountId"] = ARN
    covered["CommitmentDiscountType"] = "Reserved Instance"
    covered["CommitmentDiscountCategory"] = "Usage"
    covered["CommitmentDiscountStatus"] = "Used"
    rest = rows.loc[target].copy()
    for column in ("ConsumedQuantity", "PricingQuantity"):
        rest[column] = rest[column] - COVERED_INSTANCES
    for column in ("ListCost", "ContractedCost", "BilledCost", "EffectiveCost"):
        rest[column] = rest["ConsumedQuantity"] * hourly_list
    unused = covered.copy()
    unused["x_UsageType"] = "HeavyUsage:m4.2xlarge"
    unused["ChargeDescription"] = "unused reservation, m4 Linux us-east-1"
    unused["ConsumedQuantity"] = unused["PricingQuantity"] = None
    unused["ListCost"] = unused["ContractedCost"] = 0.0
    unused["EffectiveCost"] = (QUANTITY - COVERED_INSTANCES * 16) * rate
    unused["CommitmentDiscountStatus"] = "Unused"
    fee = unused.copy()
    fee["ChargeCategory"] = "Purchase"
    fee["ChargeFrequency"] = "Recurring"
    fee["CommitmentDiscountStatus"] = None
    fee["BilledCost"] = QUANTITY * offering.hourly
    fee["EffectiveCost"] = 0.0
    parts = [rows[~target], rest, covered, unused, fee]
    if one_time_at is not None:
        upfront = fee.iloc[:1].copy()
        upfront["ChargeFrequency"] = "One-Time"
        upfront["ChargePeriodStart"] = pd.Timestamp(one_time_at)
        upfront["ChargePeriodEnd"] = pd.Timestamp(one_time_at + timedelta(hours=1))
        upfront["BilledCost"] = QUANTITY * offering.upfront
        parts.append(upfront)
    return pd.concat(parts, ignore_index=True)


def _write(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_parquet(path, index=False)
    return path


def test_the_bills_rates_name_the_offering_and_its_charges_the_quantity(
        aws_prices: None, tmp_path: Path) -> None:
    catalog = _catalog()
    offering = _offering(catalog, "ri-conv-1y-nu")
    bill = _write(_covered_bill(offering), tmp_path / "bill.parquet")

    (seen,) = read_bill_commitments(bill)
    assert (seen.commitment_id, seen.discount_type, seen.category, seen.hours) == (
        ARN, "Reserved Instance", "Usage", HOURS)
    assert seen.covered[KEY][0] == pytest.approx(HOURS * COVERED_INSTANCES * 16)
    assert seen.purchase_start is None  # a recurring fee does not date a commitment

    found = match_commitment(seen, catalog)
    assert isinstance(found, Commitment)
    assert found.offering.offering_id == offering.offering_id
    assert found.quantity == pytest.approx(QUANTITY)
    assert found.start == seen.first_hour


def test_a_one_time_purchase_dates_the_commitment(aws_prices: None, tmp_path: Path) -> None:
    catalog = _catalog()
    offering = _offering(catalog, "ri-std-1y-pu")
    bought = datetime(2024, 8, 30, 3, tzinfo=UTC)
    (seen,) = read_bill_commitments(_write(_covered_bill(offering, one_time_at=bought),
                                           tmp_path / "bill.parquet"))
    assert seen.purchase_start == bought
    inventory = match_commitments([seen], catalog)
    (owned,) = inventory.commitments
    assert owned.offering.offering_id == offering.offering_id
    assert owned.start == bought
    assert inventory.details()["start_estimated"] == []


def test_rates_no_offering_charges_are_left_out_with_the_reason(
        aws_prices: None, tmp_path: Path) -> None:
    catalog = _catalog()
    offering = _offering(catalog, "ri-conv-1y-nu")
    frame = _covered_bill(offering)
    covered = frame["CommitmentDiscountStatus"] == "Used"
    frame.loc[covered, "EffectiveCost"] *= 0.5  # a rate no RI or Savings Plan of m4 has
    (seen,) = read_bill_commitments(_write(frame, tmp_path / "bill.parquet"))
    inventory = match_commitments([seen], catalog)
    assert inventory.commitments == ()
    (left,) = inventory.details()["left_out"]
    assert left["commitment_id"] == ARN
    assert "from the nearest offering" in left["reason"] and KEY in left["reason"]


def test_a_commitment_the_last_day_no_longer_charges_has_ended(
        aws_prices: None, tmp_path: Path) -> None:
    catalog = _catalog()
    frame = _covered_bill(_offering(catalog, "ri-conv-1y-nu"))
    late = (frame["CommitmentDiscountId"] == ARN) & (
        frame["ChargePeriodStart"] >= frame["ChargePeriodEnd"].max() - pd.Timedelta(hours=30))
    # Its last 30 hours of usage billed on demand instead: it expired.
    frame.loc[late & (frame["CommitmentDiscountStatus"] == "Used"), ["CommitmentDiscountId",
              "CommitmentDiscountStatus", "CommitmentDiscountType",
              "CommitmentDiscountCategory"]] = None
    frame = frame[~(late & (frame["CommitmentDiscountId"] == ARN))]
    (seen,) = read_bill_commitments(_write(frame, tmp_path / "bill.parquet"))
    data_end = datetime(2024, 9, 1, tzinfo=UTC)
    inventory = match_commitments([seen], catalog, data_end=data_end)
    assert inventory.commitments == ()
    assert inventory.unmatched[0].reason.startswith("ended")


def test_the_real_focus_sample_names_its_savings_plans_and_says_why_none_is_used() -> None:
    """The FinOps Foundation's sample: two Savings Plans cover EC2 rows at EffectiveCost 0
    (the sample is anonymised), so no offering explains them, and the reason says so."""
    sample = REPO.parent / "shared/data/billing/focus-sample/focus_sample.csv"
    if not sample.exists():
        pytest.skip(f"{sample} is not beside this checkout")
    seen = read_bill_commitments(sample)
    assert {s.discount_type for s in seen} == {"Savings Plan"}
    assert len(seen) == 2 and all(s.category == "Spend" for s in seen)
    raw = pd.read_csv(sample, usecols=["CommitmentDiscountId", "EffectiveCost"],
                      keep_default_na=False)
    raw = raw[~raw["CommitmentDiscountId"].isin(["", "NULL"])]
    assert sorted(s.commitment_id for s in seen) == sorted(raw["CommitmentDiscountId"].unique())
    assert sum(s.effective for s in seen) == pytest.approx(raw["EffectiveCost"].sum())


def test_reconcile_keeps_the_apis_record_adds_the_bills_and_lists_disagreements(
        aws_prices: None) -> None:
    catalog = _catalog()
    offering = _offering(catalog, "ri-conv-1y-nu")
    start = datetime(2024, 8, 1, tzinfo=UTC)
    api = [Commitment(offering, 40.0, start, "5ec1a1b2-0000-4000-8000-000000000001"),
           Commitment(offering, 8.0, start, "api-only")]
    bill = BillInventory(
        (Commitment(offering, 44.0, start + timedelta(days=3), ARN),
         Commitment(offering, 4.0, start, "arn:aws:ec2:us-east-1:1:reserved-instances/bill")),
        (), {})
    merged, differ = reconcile(api, bill)
    assert [(c.commitment_id, c.quantity) for c in merged] == [
        ("5ec1a1b2-0000-4000-8000-000000000001", 40.0), ("api-only", 8.0),
        ("arn:aws:ec2:us-east-1:1:reserved-instances/bill", 4.0)]
    (line,) = differ
    assert line.startswith("5ec1a1b2-") and "the bill charged" in line
    assert commitment_key(ARN) == commitment_key("5EC1A1B2-0000-4000-8000-000000000001")


def test_optimize_plans_with_the_bills_commitments_and_reports_their_effective_cost(
        aws_offline: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No credentials: the bill's RI is the inventory, the plan says so, and the amortized
    cost the reports give it over the bill equals the file's EffectiveCost, to the cent."""
    offering = _offering(_catalog(), "ri-conv-1y-nu")
    frame = _covered_bill(offering)
    bill = _write(frame, tmp_path / "bill.parquet")
    monkeypatch.setenv("LADDER_AWS_USAGE", str(bill))
    get_settings.cache_clear()
    result = runner.invoke(app, ["optimize", "--provider", "aws"])
    assert result.exit_code == 0, result.output

    engine = create_engine_for(aws_offline.database_url)
    with session_scope(engine) as session:
        (plan,) = repository.list_plans(session, provider="aws")
        inventory = plan.details["inventory"]
        assert (inventory["from_api"], inventory["from_bill"], inventory["total"]) == (0, 1, 1)
        assert inventory["start_estimated"] == [ARN]
        (owned,) = repository.list_commitments(session, "aws")
        assert (owned.commitment_id, owned.offering.offering_id) == (ARN, offering.offering_id)
        assert owned.quantity == pytest.approx(QUANTITY)
        report = amortization(session, ReportQuery(
            start=date(2024, 8, 30), end=date(2024, 9, 1), group_by=Dimension.COMMITMENT,
            scope=Scope(provider="aws")))
        rows = report.frame
        mine = rows[rows["group"].astype(str).str.contains(ARN)]
        assert len(mine) == 1
        expected = frame.loc[frame["CommitmentDiscountId"] == ARN, "EffectiveCost"].sum()
        assert float(mine["commitment_amortized_cost"].iloc[0]) == pytest.approx(
            round(expected, 2), abs=0.005)
        plan_id = plan.id
    engine.dispose()
    shown = runner.invoke(app, ["plans", "show", str(plan_id)])
    assert shown.exit_code == 0, shown.output
    text = " ".join(shown.output.split())
    assert "Owned: 1 commitment(s), 0 from the cloud API, 1 read from the bill" in text
    assert "start estimated (first billed hour) for 1" in text


CLOUD_BILLS = {
    "aws": ("LADDER_AWS_USAGE", SAMPLE),
    "azure": ("LADDER_AZURE_USAGE_PATH", REPO / "providers/azure/data/sample_usage.parquet"),
    "gcp": ("LADDER_GCP_USAGE_PATH", REPO / "providers/gcp/data/sample_usage.parquet"),
}


def _cover_whole_rows(cloud: str, sample: Path, catalog: Catalog) -> tuple[
        pd.DataFrame, Offering, float]:
    """The cloud's sample bill with every row of its busiest key in its last day covered
    by the first unit offering of that key, plus an idle part of a quarter of the covered
    units each hour; returns the bill, the offering and the quantity owned."""
    rows = pd.read_parquet(sample)
    con = duckdb.connect()
    load_focus_rows(con, [sample], cloud_rules(cloud))
    used = con.execute("""SELECT _row - 1 AS i, usage_key, ConsumedQuantity_num * factor AS units,
        date_trunc('hour', ChargePeriodStart_ts) AS hour FROM focus_rows WHERE is_used""").df()
    con.close()
    last = used["hour"].max() - pd.Timedelta(hours=23)
    recent = used[used["hour"] >= last]
    offered = {k for o in catalog.offerings if o.shape is Shape.UNIT for k in o.eligible_keys}
    key = recent[recent["usage_key"].isin(offered)]["usage_key"].value_counts().index[0]
    offering = next(o for o in catalog.offerings
                    if o.shape is Shape.UNIT and key in o.eligible_keys)
    rate = offering_rates(offering)[key]
    mine = recent[recent["usage_key"] == key]
    index = mine["i"].to_numpy()
    cid = f"{cloud}-commitment-1"
    rows.loc[index, "CommitmentDiscountId"] = cid
    rows.loc[index, "CommitmentDiscountCategory"] = "Usage"
    rows.loc[index, "CommitmentDiscountType"] = "Reservation"
    rows.loc[index, "CommitmentDiscountStatus"] = "Used"
    rows.loc[index, "BilledCost"] = 0.0
    rows.loc[index, "EffectiveCost"] = mine["units"].to_numpy() * rate
    per_hour = mine.groupby("hour")["units"].sum()
    idle = rows.loc[index].drop_duplicates("ChargePeriodStart").copy()
    idle["CommitmentDiscountStatus"] = "Unused"
    hours = pd.to_datetime(idle["ChargePeriodStart"], utc=True).dt.floor("h")
    idle["EffectiveCost"] = hours.map(per_hour.tz_convert("UTC") if per_hour.index.tz
                                      else per_hour).to_numpy() * 0.25 * rate
    quantity = float(per_hour.sum() * 1.25 / len(per_hour) * rate / offering.amortized_hourly)
    return pd.concat([rows, idle], ignore_index=True), offering, quantity


@pytest.mark.parametrize("cloud", sorted(CLOUD_BILLS))
def test_every_clouds_reservations_are_read_from_its_bill(
        cloud: str, no_cloud_credentials: None, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    """AWS RIs, Azure reservations and GCP resource CUDs bill alike in FOCUS: the same
    reading names the offering from each cloud's own offline catalog, and its quantity."""
    variable, sample = CLOUD_BILLS[cloud]
    monkeypatch.setenv(variable, str(sample))
    get_settings.cache_clear()
    catalog = get_provider(cloud).catalog()
    frame, offering, quantity = _cover_whole_rows(cloud, sample, catalog)
    (seen,) = read_bill_commitments(_write(frame, tmp_path / "bill.parquet"),
                                    cloud_rules(cloud))
    assert seen.hours == 24
    inventory = match_commitments([seen], catalog)
    assert inventory.unmatched == ()
    (owned,) = inventory.commitments
    assert owned.offering.offering_id == offering.offering_id
    assert owned.quantity == pytest.approx(quantity)
    get_settings.cache_clear()
