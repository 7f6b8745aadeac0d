"""The sample provider: its bundled data, how it was derived, and the provider protocol."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import setuptools

import providers.sample as sample
from core.domain import Catalog, Offering, PaymentOption, Shape, UsageKey
from providers.base import Provider, get_provider
from providers.sample import (
    SampleProvider,
    bill_path,
    catalog_path,
    inventory_path,
    usage_path,
)
from tools import build_sample as sample_build

SHARED_DATA = sample_build.DEFAULT_DATA_DIR
needs_shared_data = pytest.mark.skipif(
    not (SHARED_DATA / sample_build.GRID_FILE).is_file(),
    reason=f"shared data not present at {SHARED_DATA}",
)
CALCULATOR_FILE = "pricing/aws-calculator-c5xlarge/c5xlarge_windows_apne1_calculator_rates.csv"
FOCUS_SAMPLE_FILE = "billing/focus-sample/focus_sample.csv"
KINDS = {"standard_ri", "convertible_ri", "ec2_instance_sp", "compute_sp"}
SHORT_PAYMENT = {"au": PaymentOption.ALL_UPFRONT, "pu": PaymentOption.PARTIAL_UPFRONT,
                 "nu": PaymentOption.NO_UPFRONT}
CALCULATOR_PAYMENT = {"All Upfront": "au", "Partial Upfront": "pu", "No Upfront": "nu"}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return SampleProvider().catalog()


@pytest.fixture(scope="module")
def usage() -> pd.DataFrame:
    return pd.read_parquet(usage_path())


@pytest.fixture(scope="module")
def grid() -> pd.DataFrame:
    if not (SHARED_DATA / sample_build.GRID_FILE).is_file():
        pytest.skip(f"shared data not present at {SHARED_DATA}")
    return sample_build.load_price_grid(SHARED_DATA)


@dataclass(frozen=True)
class CalculatorRow:
    """One option of the AWS calculator answer key (c5.xlarge Windows, ap-northeast-1)."""

    product: str
    years: int
    payment: str
    upfront: float
    recurring: float
    given_effective: float | None

    @property
    def term_hours(self) -> int:
        return sample_build.TERM_HOURS[self.years]

    @property
    def effective(self) -> float:
        return self.upfront / self.term_hours + self.recurring


@pytest.fixture(scope="module")
def calculator() -> list[CalculatorRow]:
    path = SHARED_DATA / CALCULATOR_FILE
    if not path.is_file():
        pytest.skip(f"calculator answer key not present at {path}")
    with path.open(newline="", encoding="utf-8") as handle:
        return [
            CalculatorRow(
                product=raw["offering"], years=int(raw["term_years"]),
                payment=CALCULATOR_PAYMENT[raw["payment_option"]],
                upfront=float(raw["upfront_usd"]), recurring=float(raw["recurring_hourly_usd"]),
                given_effective=(float(raw["effective_or_sp_rate_hourly_usd"])
                                 if raw["effective_or_sp_rate_hourly_usd"] else None),
            )
            for raw in csv.DictReader(handle) if raw["offering"] != "OnDemand"
        ]


def effective_rates(calculator: list[CalculatorRow]) -> dict[tuple[int, str], dict[str, float]]:
    """The calculator's effective $/h (upfront / term + recurring) by option and product."""
    rates: dict[tuple[int, str], dict[str, float]] = {}
    for row in calculator:
        rates.setdefault((row.years, row.payment), {})[row.product] = row.effective
    return rates


def family_keys(catalog: Catalog, family: str) -> set[str]:
    return {k for k in catalog.key_ids if UsageKey.parse(k).family == family}


def offering_family(offering: Offering) -> str:
    return offering.offering_id.split("/")[2]


def payment_short(offering: Offering) -> str:
    return offering.offering_id.split("/")[0].rsplit("-", 1)[1]


# --- the build --------------------------------------------------------------------------


@needs_shared_data
def test_committed_files_equal_a_fresh_build(tmp_path: Path) -> None:
    paths = sample_build.build(SHARED_DATA, tmp_path)

    assert paths["catalog"].read_bytes() == catalog_path().read_bytes()
    assert paths["inventory"].read_bytes() == inventory_path().read_bytes()
    fresh, committed = pq.read_table(paths["usage"]), pq.read_table(usage_path())
    assert fresh.schema.equals(committed.schema, check_metadata=True)
    assert fresh.equals(committed)


def test_tiling_keeps_weekday_and_hour_of_the_source() -> None:
    thursday_22h = datetime(1998, 4, 30, 22, tzinfo=UTC)
    hours_of_week = np.arange(2 * 168 + 50, dtype=float)  # 2 whole weeks and a bit
    series = sample_build.Series(hours_of_week, thursday_22h)
    saturday = datetime(2024, 6, 1, tzinfo=UTC)

    tiled = sample_build.tile_whole_weeks(series, saturday, 5 * 168)

    source_times = [thursday_22h + timedelta(hours=float(v)) for v in tiled]
    target_times = [saturday + timedelta(hours=i) for i in range(len(tiled))]
    assert all(s.weekday() == t.weekday() and s.hour == t.hour
               for s, t in zip(source_times, target_times, strict=True))
    assert tiled.max() < 2 * 168  # the partial third week is never used
    assert tiled[0] == 26 and tiled[2 * 168] == 26  # 1998-05-02 00:00, then wraps


def test_rescaling_rules_give_whole_instances() -> None:
    values = np.array([0.0, 5.0, 10.0, 20.0, 40.0])
    reference = np.array([5.0, 10.0, 10.0, 10.0, 20.0])  # median 10, 90th percentile 16

    ceil = sample_build.to_instances(values, reference, 4, sample_build.Rescale.CEIL_MEDIAN)
    root = sample_build.to_instances(values, reference, 4,
                                     sample_build.Rescale.CEIL_SQRT_MEDIAN)
    p90 = sample_build.to_instances(values, reference, 4, sample_build.Rescale.ROUND_P90)

    assert ceil.tolist() == [0, 2, 4, 8, 16]
    assert root.tolist() == [0, 3, 4, 6, 8]
    assert p90.tolist() == [0, 1, 3, 5, 10]


# --- the catalog ------------------------------------------------------------------------


def test_catalog_keys_are_aws_usage_keys_of_several_accounts_and_families(
        catalog: Catalog) -> None:
    keys = [UsageKey.parse(k) for k in catalog.key_ids]

    assert {(k.provider, k.service, k.region, k.platform, k.tenancy) for k in keys} == {
        ("aws", "ec2", "us-east-1", "linux", "shared")}
    assert len({k.scope for k in keys}) == 3
    assert {k.family for k in keys} == {"m4", "c4", "c5", "r4"}
    assert all(re.fullmatch(r"\d{12}", k.scope) for k in keys)
    assert catalog.currency == "USD"
    assert "derived" in catalog.source.lower() and "2017-11-12" in catalog.source


def test_catalog_offers_every_ri_and_savings_plan_option(catalog: Catalog) -> None:
    kinds = [o.kind for o in catalog.offerings]

    assert kinds.count("standard_ri") == kinds.count("convertible_ri") == 4 * 2 * 3
    assert kinds.count("ec2_instance_sp") == 4 * 2 * 3
    assert kinds.count("compute_sp") == 2 * 3
    assert set(kinds) == KINDS


def test_every_offering_is_well_formed(catalog: Catalog) -> None:
    on_demand = catalog.on_demand_rates()
    for offering in catalog.offerings:
        assert offering.term_hours in (8760, 26280), offering.offering_id
        assert offering.payment_option is SHORT_PAYMENT[payment_short(offering)]
        assert offering.upfront >= 0 and offering.hourly >= 0
        if offering.payment_option is PaymentOption.NO_UPFRONT:
            assert offering.upfront == 0
        if offering.payment_option is PaymentOption.ALL_UPFRONT:
            assert offering.hourly == 0
        if offering.payment_option is PaymentOption.PARTIAL_UPFRONT:
            assert offering.upfront == pytest.approx(offering.hourly * offering.term_hours)
        if offering.shape is Shape.UNIT:
            assert offering.kind in ("standard_ri", "convertible_ri")
            assert set(offering.covers) == family_keys(catalog, offering_family(offering))
            assert set(offering.covers.values()) == {1.0}
            assert 0 <= offering.order < sample_build.EC2_SP_ORDER
            rates = {key: offering.amortized_hourly for key in offering.covers}
        else:
            assert offering.amortized_hourly == pytest.approx(1.0)
            if offering.kind == "ec2_instance_sp":
                assert set(offering.rates) == family_keys(catalog, offering_family(offering))
                assert sample_build.EC2_SP_ORDER <= offering.order \
                    < sample_build.COMPUTE_SP_ORDER
            else:
                assert offering.kind == "compute_sp"
                assert set(offering.rates) == set(catalog.key_ids)
                assert offering.order >= sample_build.COMPUTE_SP_ORDER
            rates = dict(offering.rates)
        assert all(0 < rate < on_demand[key] for key, rate in rates.items()), \
            offering.offering_id


def test_savings_plan_rates_are_the_ri_rates_of_the_same_term_and_payment(
        catalog: Catalog) -> None:
    for sp in catalog.offerings:
        if sp.shape is not Shape.SPEND:
            continue
        ri_class = "std" if sp.kind == "ec2_instance_sp" else "conv"
        term = "1y" if sp.term_hours == 8760 else "3y"
        for key, rate in sp.rates.items():
            family = UsageKey.parse(key).family
            ri = catalog.offering(
                f"ri-{ri_class}-{term}-{payment_short(sp)}/us-east-1/{family}/linux")
            assert rate == pytest.approx(ri.amortized_hourly, rel=1e-12)


def test_deeper_commitments_are_cheaper(catalog: Catalog) -> None:
    for family in sample_build.FAMILIES:
        for ri_class in ("std", "conv"):
            rates = [catalog.offering(f"ri-{ri_class}-{term}-{pay}/us-east-1/{family}/linux")
                     .amortized_hourly for term in ("1y", "3y") for pay in ("nu", "pu", "au")]
            assert rates[:3] == sorted(rates[:3], reverse=True)
            assert rates[3:] == sorted(rates[3:], reverse=True)
            assert max(rates[3:]) < min(rates[:3])


def grid_approx(price: float, exact: bool) -> Any:
    """A grid price, exactly or within the grid's rounding (see the next test)."""
    return pytest.approx(price, rel=1e-12) if exact else pytest.approx(price, abs=0.001 + 1e-12)


def test_catalog_rates_equal_the_grid_prices_per_normalised_unit(
        catalog: Catalog, grid: pd.DataFrame) -> None:
    """Exactly for each family's largest size; within 0.1 cent/h for the others.

    The grid rounds effective prices to 3 decimals and AWS prices sizes on their
    own, so a small size can differ from the per-unit price by up to $0.001/h.
    """
    on_demand = catalog.on_demand_rates()
    for instance_type in grid.index:
        family = sample_build.family_of(instance_type)
        factor = sample_build.normalization_factor(instance_type)
        exact = instance_type == sample_build.reference_type(grid, family)
        key = sorted(family_keys(catalog, family))[0]
        assert on_demand[key] * factor == grid_approx(
            sample_build.grid_price(grid, instance_type, "ondemand_hourly"), exact)
        for ri_class, short in ((sample_build.RiClass.STANDARD, "std"),
                                (sample_build.RiClass.CONVERTIBLE, "conv")):
            for years in (1, 3):
                for payment in sample_build.PAYMENTS:
                    offering = catalog.offering(
                        f"ri-{short}-{years}y-{payment.short}/us-east-1/{family}/linux")
                    column = sample_build.grid_column(ri_class, years, payment)
                    assert offering.amortized_hourly * factor == grid_approx(
                        sample_build.grid_price(grid, instance_type, column), exact), column


# --- the derivation checked against the AWS calculator answer key ------------------------


def test_calculator_amortized_rate_reproduces_its_effective_rate(
        calculator: list[CalculatorRow]) -> None:
    checked = 0
    for row in calculator:
        if row.given_effective is None:
            continue  # Standard RI paid up front: no effective rate shown (next test)
        unit = Offering(offering_id=f"{row.product}-{row.years}y-{row.payment}",
                        shape=Shape.UNIT, term_hours=row.term_hours, upfront=row.upfront,
                        hourly=row.recurring, order=0)
        assert unit.amortized_hourly == pytest.approx(row.given_effective, rel=1e-9), row
        checked += 1
    assert checked == 14  # 12 Savings Plan rows and 2 Standard RI no-upfront rows


def test_calculator_ec2_instance_sp_equals_standard_ri_within_0_2_percent(
        calculator: list[CalculatorRow]) -> None:
    effective = effective_rates(calculator)

    assert len(effective) == 6
    for option, rates in effective.items():
        assert rates["EC2InstanceSavingsPlan"] == pytest.approx(rates["StandardRI"],
                                                                rel=0.002), option


def test_upfront_split_reproduces_the_calculator(calculator: list[CalculatorRow]) -> None:
    """Savings Plans split exactly; RIs to 0.2 % (AWS rounds RI upfront to whole dollars)."""
    payments = {p.short: p for p in sample_build.PAYMENTS}
    for row in calculator:
        upfront, hourly = sample_build.split_payment(row.effective, row.term_hours,
                                                     payments[row.payment])
        rel = 0.002 if row.product == "StandardRI" else 1e-9
        assert upfront == pytest.approx(row.upfront, rel=rel, abs=1e-9), row
        assert hourly == pytest.approx(row.recurring, rel=rel, abs=1e-9), row


def test_compute_sp_premium_over_ec2_sp_is_within_what_the_calculator_shows(
        catalog: Catalog, calculator: list[CalculatorRow]) -> None:
    """Compute SP costs 11-14 % more than EC2 Instance SP in the calculator (Windows,
    2025); the grid's Convertible/Standard premium that the catalog uses is 14-20 %
    (Linux, 2017): always a premium, at most 7 points above the calculator's."""
    for (years, payment), rates in effective_rates(calculator).items():
        premium = rates["ComputeSavingsPlan"] / rates["EC2InstanceSavingsPlan"]
        compute = catalog.offering(f"sp-compute-{years}y-{payment}")
        for family in sample_build.FAMILIES:
            ec2 = catalog.offering(f"sp-ec2-{years}y-{payment}/us-east-1/{family}")
            for key, rate in ec2.rates.items():
                assert 1 < premium <= compute.rates[key] / rate <= premium + 0.07


# --- the usage history ------------------------------------------------------------------


def test_usage_covers_92_days_of_every_hour(usage: pd.DataFrame) -> None:
    hours = pd.DatetimeIndex(usage["ChargePeriodStart"].unique()).sort_values()

    assert len(hours) >= 2160
    assert hours[0] == pd.Timestamp("2024-06-01", tz="UTC")
    assert hours[-1] == pd.Timestamp("2024-08-31 23:00", tz="UTC")
    assert (hours[1:] - hours[:-1] == pd.Timedelta(hours=1)).all()


def test_usage_has_several_accounts_and_families_and_one_row_per_stream_hour(
        usage: pd.DataFrame) -> None:
    families = usage["x_UsageType"].str.extract(r"BoxUsage:(\w+)\.")[0]

    assert usage["SubAccountId"].nunique() == 3
    assert set(families) == {"m4", "c4", "c5", "r4"}
    assert not usage.duplicated(["ChargePeriodStart", "SubAccountId", "x_UsageType"]).any()


def test_usage_quantities_are_positive_whole_instances(usage: pd.DataFrame) -> None:
    quantity = usage["ConsumedQuantity"]

    assert quantity.notna().all() and (quantity > 0).all()
    assert (quantity == np.floor(quantity)).all()
    assert (usage["PricingQuantity"] == quantity).all()


def test_usage_costs_are_quantity_times_list_price(usage: pd.DataFrame) -> None:
    expected = usage["ConsumedQuantity"] * usage["ListUnitPrice"]
    for column in ("ListCost", "BilledCost", "EffectiveCost", "ContractedCost"):
        assert np.allclose(usage[column], expected, rtol=0, atol=1e-9), column
    assert (usage["ContractedUnitPrice"] == usage["ListUnitPrice"]).all()


def test_usage_list_prices_are_the_2017_on_demand_prices(usage: pd.DataFrame,
                                                         grid: pd.DataFrame) -> None:
    prices = usage.drop_duplicates(["x_UsageType", "ListUnitPrice"])
    assert not prices["x_UsageType"].duplicated().any()
    for row in prices.to_dict("records"):
        instance_type = str(row["x_UsageType"]).split(":", 1)[1]
        assert row["ListUnitPrice"] == sample_build.grid_price(grid, instance_type,
                                                               "ondemand_hourly")


def test_usage_rows_read_as_an_aws_focus_export(usage: pd.DataFrame) -> None:
    constant = {
        "BillingCurrency": "USD", "ProviderName": "AWS", "ChargeCategory": "Usage",
        "ServiceName": "Amazon Elastic Compute Cloud", "ServiceCategory": "Compute",
        "ChargeFrequency": "Usage-Based", "PricingCategory": "Standard",
        "ConsumedUnit": "Hours", "PricingUnit": "Hours", "ResourceType": "instance",
        "RegionId": "us-east-1", "InvoiceIssuerName": "Amazon Web Services, Inc.",
    }
    for column, value in constant.items():
        assert (usage[column] == value).all(), column
    starts = usage["ChargePeriodStart"]
    assert (usage["ChargePeriodEnd"] - starts == pd.Timedelta(hours=1)).all()
    month_start = starts.dt.tz_convert(None).dt.to_period("M").dt.to_timestamp()
    assert (usage["BillingPeriodStart"].dt.tz_convert(None) == month_start).all()
    next_month = month_start + pd.offsets.MonthBegin(1)
    assert (usage["BillingPeriodEnd"].dt.tz_convert(None) == next_month).all()
    assert usage["CommitmentDiscountId"].isna().all()
    streams = usage.drop_duplicates(["x_UsageType", "Tags"])
    for row in streams.to_dict("records"):
        instance_type = str(row["x_UsageType"]).removeprefix("BoxUsage:")
        match = re.fullmatch(r"\$(\d+\.\d{2,}) per On Demand Linux (\S+) Instance Hour",
                             str(row["ChargeDescription"]))
        assert match and match[2] == instance_type
        assert float(match[1]) == row["ListUnitPrice"]
        assert set(json.loads(str(row["Tags"]))) == {"application", "environment", "team"}


def test_usage_columns_are_those_of_the_focus_sample(usage: pd.DataFrame) -> None:
    path = SHARED_DATA / FOCUS_SAMPLE_FILE
    if not path.is_file():
        pytest.skip(f"FOCUS sample not present at {path}")
    sample_columns = pd.read_csv(path, nrows=0).columns.tolist()

    assert list(usage.columns) == [c for c in sample_columns if c != "Id"] + ["x_UsageType"]
    schema = pq.read_schema(usage_path())
    assert str(schema.field("ChargePeriodStart").type) == "timestamp[us, tz=UTC]"
    assert str(schema.field("BilledCost").type) == "double"
    assert str(schema.field("SubAccountId").type) == "string"


def test_usage_keys_are_the_catalog_keys(usage: pd.DataFrame, catalog: Catalog) -> None:
    keys = {
        str(UsageKey("aws", account, "ec2", "us-east-1", usage_type.split(":")[1].split(".")[0]))
        for account, usage_type in zip(usage["SubAccountId"], usage["x_UsageType"], strict=True)
    }
    assert keys == set(catalog.key_ids)


def test_c4_is_decommissioned_before_the_window_ends(usage: pd.DataFrame) -> None:
    c4 = usage[usage["x_UsageType"].str.startswith("BoxUsage:c4.")]

    assert c4["ChargePeriodStart"].max() < sample_build.MIGRATION_END
    assert c4["ChargePeriodStart"].min() == sample_build.WINDOW_START


def test_usage_file_is_small_and_dictionary_encoded() -> None:
    metadata = pq.ParquetFile(usage_path()).metadata

    assert usage_path().stat().st_size < 5 * 2**20
    column = metadata.row_group(0).column(metadata.schema.names.index("SubAccountName"))
    assert "RLE_DICTIONARY" in column.encodings


# --- the provider -----------------------------------------------------------------------


def test_sample_provider_satisfies_the_protocol_and_is_registered() -> None:
    provider = get_provider("sample")

    assert isinstance(provider, SampleProvider)
    assert isinstance(provider, Provider)
    assert provider.name == "sample"
    assert list(provider.usage_paths()) == [bill_path()]


def test_the_sample_plans_on_its_whole_bill_whose_compute_rows_are_the_usage_file() -> None:
    """The bill the quick start reads holds the usage file's rows unchanged, and more."""
    bill, usage = pd.read_parquet(bill_path()), pd.read_parquet(usage_path())
    ec2 = bill[bill["x_UsageType"].str.contains("BoxUsage", na=False)]
    keys = ["ChargePeriodStart", "SubAccountId", "x_UsageType", "ConsumedQuantity"]
    assert len(bill) > len(usage)
    pd.testing.assert_frame_equal(
        ec2[keys].sort_values(keys).reset_index(drop=True),
        usage[keys].sort_values(keys).reset_index(drop=True))


def test_a_data_folder_without_a_bill_plans_on_its_usage_file(tmp_path: Path) -> None:
    (tmp_path / "usage.parquet").write_bytes(usage_path().read_bytes())
    assert list(SampleProvider(data_dir=tmp_path).usage_paths()) == [tmp_path / "usage.parquet"]


def test_paths_resolve_from_the_module_not_the_working_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)

    module_dir = Path(sample.__file__).resolve().parent
    assert module_dir / "data" == sample.SAMPLE_DIR
    for path in (catalog_path(), usage_path(), inventory_path()):
        assert path.is_absolute() and path.is_file()
    assert len(SampleProvider().catalog().offerings) > 0


@pytest.fixture()
def provider() -> Iterator[SampleProvider]:
    yield SampleProvider()


def test_inventory_returns_commitments_from_the_catalog(provider: SampleProvider) -> None:
    window_start = datetime(2024, 6, 1, tzinfo=UTC)
    owned = provider.inventory(window_start)
    catalog = provider.catalog()

    assert 2 <= len(owned) <= 5
    for commitment in owned:
        assert commitment.offering == catalog.offering(commitment.offering.offering_id)
        assert commitment.quantity > 0 and commitment.commitment_id
        assert commitment.start < window_start and commitment.start.tzinfo is not None
    assert any(c.end <= datetime(2024, 9, 1, tzinfo=UTC) for c in owned)
    assert {c.offering.shape for c in owned} == {Shape.UNIT, Shape.SPEND}


def test_inventory_leaves_out_expired_commitments(provider: SampleProvider) -> None:
    at_start = provider.inventory(datetime(2024, 6, 1, tzinfo=UTC))
    after = provider.inventory(datetime(2024, 9, 1))  # naive datetimes are UTC

    assert {c.commitment_id for c in after} < {c.commitment_id for c in at_start}
    assert all(c.end > datetime(2024, 9, 1, tzinfo=UTC) for c in after)
    assert provider.inventory(datetime(2030, 1, 1, tzinfo=UTC)) == []


def test_the_generators_are_outside_the_installed_packages() -> None:
    """tools/ (the offline generators) is not in setuptools' package list, and importing the
    sample provider and the CLI loads none of it."""
    root = Path(__file__).resolve().parents[2]
    found = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    packages = setuptools.find_packages(str(root), include=found["packages"]["find"]["include"])
    assert "providers.sample" in packages and not any(p.startswith("tools") for p in packages)
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, providers.sample, ladder.cli; "
         "print(sorted(m for m in sys.modules if m.split('.')[0] == 'tools'))"],
        cwd=root, capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "[]"
