"""Rebuild the sample provider's data from the real public data in ``shared/data``.

    python -m tools.build_sample [--data ../shared/data] [--out providers/sample/data]

Writes three files, deterministically (no randomness at all):

* ``catalog.json``: AWS us-east-1 Linux prices of four EC2 families from the
  2017-11-12 price grid, per normalised unit; Standard and Convertible RIs, EC2
  Instance and Compute Savings Plans (SP rates derived from the RI grid);
* ``usage.parquet``: 92 days of hourly FOCUS 1.0 EC2 usage of three accounts,
  whose shapes are real traces (NAB CloudWatch, Azure/Google fleet aggregates,
  WorldCup98) rescaled to instance counts;
* ``inventory.json``: four commitments bought before the history starts.

``providers/sample/README.md`` explains every rule used here. This generator lives outside
the installed packages: the provider only reads the files it writes.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from core.catalog import catalog_to_dict
from core.domain import Catalog, KeyPrice, Offering, PaymentOption, Shape, UsageKey
from providers.focus.schema import FOCUS_1_0
from providers.sample import CATALOG_FILE, INVENTORY_FILE, SAMPLE_DIR, USAGE_FILE

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = REPO_ROOT.parent / "shared" / "data"

# --- prices -------------------------------------------------------------------------------

GRID_FILE = "pricing/aws-ec2-ec2instances-info/aws_ec2_ondemand_and_ri_tidy.csv"
GRID_SNAPSHOT = "2017-11-12"
REGION = "us-east-1"
REGION_NAME = "US East (N. Virginia)"
FAMILIES: tuple[str, ...] = ("m4", "c4", "c5", "r4")

NORMALIZATION_FACTORS: Mapping[str, float] = {
    "nano": 0.25, "micro": 0.5, "small": 1, "medium": 2, "large": 4, "xlarge": 8,
    "2xlarge": 16, "4xlarge": 32, "8xlarge": 64, "9xlarge": 72, "10xlarge": 80,
    "12xlarge": 96, "16xlarge": 128, "18xlarge": 144, "24xlarge": 192, "32xlarge": 256,
}
TERM_HOURS: Mapping[int, int] = {1: 8760, 3: 26280}


class RiClass(StrEnum):
    """The two Reserved Instance offering classes of the grid."""

    STANDARD = "Standard"
    CONVERTIBLE = "Convertible"


@dataclass(frozen=True, slots=True)
class Payment:
    """A payment option with its names in the grid and in offering ids."""

    option: PaymentOption
    grid: str
    short: str
    label: str
    upfront_fraction: float


PAYMENTS: tuple[Payment, ...] = (
    Payment(PaymentOption.ALL_UPFRONT, "allUpfront", "au", "All Upfront", 1.0),
    Payment(PaymentOption.PARTIAL_UPFRONT, "partialUpfront", "pu", "Partial Upfront", 0.5),
    Payment(PaymentOption.NO_UPFRONT, "noUpfront", "nu", "No Upfront", 0.0),
)
TERMS_ORDERED: tuple[int, ...] = (3, 1)  # the deeper discount applies first
RI_CLASSES: Mapping[RiClass, tuple[str, str, str]] = {
    RiClass.STANDARD: ("std", "standard_ri", "Standard Reserved Instance"),
    RiClass.CONVERTIBLE: ("conv", "convertible_ri", "Convertible Reserved Instance"),
}
EC2_SP_ORDER = 100
COMPUTE_SP_ORDER = 200

# --- the fleet ----------------------------------------------------------------------------

WINDOW_START = datetime(2024, 6, 1, tzinfo=UTC)
WINDOW_END = datetime(2024, 9, 1, tzinfo=UTC)
HOURS_PER_WEEK = 168
# c4 is decommissioned: its instances move to c5 linearly over these three weeks.
MIGRATION_START = datetime(2024, 8, 5, tzinfo=UTC)
MIGRATION_END = datetime(2024, 8, 26, tzinfo=UTC)

BILLING_ACCOUNT_ID = "582109347716"
BILLING_ACCOUNT_NAME = "Ladder Sample Org"


class Rescale(StrEnum):
    """How a source series becomes an instance count (``N`` = the workload's scale)."""

    CEIL_MEDIAN = "ceil(N * value / median)"
    CEIL_SQRT_MEDIAN = "ceil(N * sqrt(value / median))"
    ROUND_P90 = "floor(N * value / p90 + 0.5)"


@dataclass(frozen=True, slots=True)
class Account:
    """A member account of the sample organisation."""

    account_id: str
    name: str


PROD = Account("230946158273", "prod-core")
GROWTH = Account("417583920614", "growth-web")
BATCH = Account("865201794330", "batch-analytics")
ACCOUNTS: tuple[Account, ...] = (PROD, GROWTH, BATCH)


@dataclass(frozen=True, slots=True)
class Workload:
    """One stream of instances of one type in one account, shaped by one real series.

    ``migrate_to`` names the instance type that takes the workload over during the
    c4 decommissioning (``MIGRATION_START``..``MIGRATION_END``).
    """

    account: Account
    instance_type: str
    source: str
    scale: int
    rescale: Rescale
    application: str
    environment: str
    team: str
    availability_zone: str
    migrate_to: str | None = None


WORKLOADS: tuple[Workload, ...] = (
    # prod-core: steady 24/7 production; its c4 search tier migrates to c5 in August.
    Workload(PROD, "m4.2xlarge", "nab:nab_ec2_cpu_utilization_825cc2", 24,
             Rescale.CEIL_MEDIAN, "orders-api", "production", "commerce", "us-east-1a"),
    Workload(PROD, "m4.xlarge", "nab:nab_ec2_request_latency_system_failure", 12,
             Rescale.CEIL_MEDIAN, "checkout-worker", "production", "commerce", "us-east-1b"),
    Workload(PROD, "r4.2xlarge", "dc:dc_azure_v2_2019_assigned_mem", 16,
             Rescale.CEIL_MEDIAN, "session-cache", "production", "platform", "us-east-1a"),
    Workload(PROD, "c4.2xlarge", "nab:nab_cpu_utilization_asg_misconfiguration", 20,
             Rescale.CEIL_MEDIAN, "search", "production", "search", "us-east-1c",
             migrate_to="c5.2xlarge"),
    # growth-web: a storefront whose traffic grows through the season, then eases.
    Workload(GROWTH, "c5.xlarge", "worldcup98", 30,
             Rescale.CEIL_SQRT_MEDIAN, "storefront", "production", "growth", "us-east-1d"),
    Workload(GROWTH, "m4.large", "worldcup98", 20,
             Rescale.CEIL_SQRT_MEDIAN, "storefront-api", "production", "growth", "us-east-1d"),
    # batch-analytics: nightly batch (idle hours have no instances) and daily-cycling web.
    Workload(BATCH, "c5.4xlarge", "nab:nab_ec2_network_in_5abac7", 12,
             Rescale.ROUND_P90, "nightly-etl", "production", "data", "us-east-1b"),
    Workload(BATCH, "m4.4xlarge", "nab:nab_elb_request_count_8c0756", 6,
             Rescale.CEIL_MEDIAN, "reporting-portal", "production", "data", "us-east-1a"),
    Workload(BATCH, "c4.large", "dc:dc_google_2019_cpu_util", 40,
             Rescale.CEIL_MEDIAN, "stream-workers", "production", "data", "us-east-1c",
             migrate_to="c5.large"),
    Workload(BATCH, "r4.xlarge", "dc:dc_google_2019_assigned_mem", 8,
             Rescale.CEIL_MEDIAN, "analytics-warehouse", "staging", "data", "us-east-1b"),
)

NAB_FILE = "usage/nab-aws-cloudwatch/nab_hourly.csv"
DC_FILE = "usage/datacenter-aggregates/datacenter_aggregates_hourly.csv"
WORLDCUP_FILE = "usage/worldcup98/worldcup98_requests_hourly.csv"

# --- inventory ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InventoryEntry:
    """A commitment of the sample account bought before the history window: an entry of
    ``inventory.json`` (not the optimizer's ``OwnedCommitment``, an input of its LP)."""

    commitment_id: str
    offering_id: str
    quantity: float
    start: datetime


INVENTORY: tuple[InventoryEntry, ...] = (
    # Expires inside the window (2024-08-15): the optimizer has to decide what replaces it.
    InventoryEntry("sample-ri-m4-2021-08", f"ri-std-3y-au/{REGION}/m4/linux", 256.0,
                    datetime(2021, 8, 16, tzinfo=UTC)),
    # Convertible c4 RI until 2025-01: idle once c4 is decommissioned, a candidate to exchange.
    InventoryEntry("sample-ri-c4-2022-01", f"ri-conv-3y-pu/{REGION}/c4/linux", 192.0,
                    datetime(2022, 1, 10, tzinfo=UTC)),
    # Expires shortly after the window (2024-09-30).
    InventoryEntry("sample-ri-r4-2023-10", f"ri-std-1y-nu/{REGION}/r4/linux", 128.0,
                    datetime(2023, 10, 1, tzinfo=UTC)),
    InventoryEntry("sample-sp-compute-2024-03", "sp-compute-1y-nu", 4.0,
                    datetime(2024, 3, 15, tzinfo=UTC)),
)

# ==========================================================================================
# Prices
# ==========================================================================================


def normalization_factor(instance_type: str) -> float:
    """AWS's normalisation factor of an instance type, from its size."""
    return float(NORMALIZATION_FACTORS[instance_type.split(".", 1)[1]])


def family_of(instance_type: str) -> str:
    """The family of an instance type (``m4.2xlarge`` -> ``m4``)."""
    return instance_type.split(".", 1)[0]


def grid_column(ri_class: RiClass, years: int, payment: Payment) -> str:
    """Name of the grid column holding one RI option's effective hourly price."""
    return f"ri_yrTerm{years}{ri_class}_{payment.grid}_effective_hourly"


def load_price_grid(data_dir: Path) -> pd.DataFrame:
    """The 2017-11-12 grid rows of the chosen families, us-east-1 Linux, by instance type."""
    grid = pd.read_csv(data_dir / GRID_FILE)
    rows = grid[(grid["snapshot_date"] == GRID_SNAPSHOT) & (grid["region"] == REGION)
                & (grid["os"] == "linux")]
    rows = rows[rows["instance_type"].map(family_of).isin(FAMILIES)]
    return rows.set_index("instance_type").sort_index()


def reference_type(grid: pd.DataFrame, family: str) -> str:
    """The family's largest size: its prices per unit carry the most significant digits."""
    types = [t for t in grid.index if family_of(t) == family]
    if not types:
        raise ValueError(f"the price grid has no {family} instance types in {REGION}")
    return max(types, key=normalization_factor)


def grid_price(grid: pd.DataFrame, instance_type: str, column: str) -> float:
    """One price of the grid, for one instance type."""
    value = float(grid[column].to_dict()[instance_type])
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"no {column} price for {instance_type} in the grid")
    return value


def per_unit(grid: pd.DataFrame, instance_type: str, column: str) -> float:
    """A grid price of an instance type divided by its normalisation factor."""
    return grid_price(grid, instance_type, column) / normalization_factor(instance_type)


def split_payment(effective_hourly: float, term_hours: int,
                  payment: Payment) -> tuple[float, float]:
    """Split an effective hourly price into (upfront, hourly) the way AWS does.

    All upfront: everything up front. Partial upfront: half the term's price up
    front, half as an hourly fee. No upfront: all hourly.
    """
    upfront = effective_hourly * term_hours * payment.upfront_fraction
    hourly = effective_hourly * (1.0 - payment.upfront_fraction)
    return upfront, hourly


def ri_offering(grid: pd.DataFrame, family: str, ri_class: RiClass, years: int,
                payment: Payment, keys: Sequence[str], order: int) -> Offering:
    """A regional, size-flexible RI of one family, per normalised unit."""
    reference = reference_type(grid, family)
    effective = per_unit(grid, reference, grid_column(ri_class, years, payment))
    term = TERM_HOURS[years]
    upfront, hourly = split_payment(effective, term, payment)
    short, kind, label = RI_CLASSES[ri_class]
    return Offering(
        offering_id=f"ri-{short}-{years}y-{payment.short}/{REGION}/{family}/linux",
        shape=Shape.UNIT, term_hours=term, upfront=upfront, hourly=hourly, order=order,
        covers={key: 1.0 for key in keys}, payment_option=payment.option, kind=kind,
        description=(f"EC2 {label}, {family} Linux {REGION}, regional (size-flexible), "
                     f"{years} year, {payment.label}; per normalised unit "
                     f"({reference} price / {normalization_factor(reference):g})"),
    )


def savings_plan(grid: pd.DataFrame, families: Mapping[str, Sequence[str]], ri_class: RiClass,
                 years: int, payment: Payment, *, offering_id: str, kind: str,
                 description: str, order: int) -> Offering:
    """A Savings Plan whose rate per key is the RI of the same term and payment (derived)."""
    rates: dict[str, float] = {}
    for family, keys in families.items():
        rate = per_unit(grid, reference_type(grid, family), grid_column(ri_class, years, payment))
        rates.update({key: rate for key in keys})
    return Offering.spend(offering_id, term_hours=TERM_HOURS[years],
                          upfront_fraction=payment.upfront_fraction, rates=rates, order=order,
                          payment_option=payment.option, kind=kind, description=description)


def keys_by_family(usage_keys: Iterable[str]) -> dict[str, list[str]]:
    """Usage keys grouped by family, in ``FAMILIES`` order."""
    grouped: dict[str, list[str]] = {family: [] for family in FAMILIES}
    for key in sorted(usage_keys):
        grouped[UsageKey.parse(key).family].append(key)
    return {family: keys for family, keys in grouped.items() if keys}


def catalog_source() -> str:
    """The catalog's statement of where its prices come from."""
    return (
        "AWS EC2 list prices, us-east-1, Linux, shared tenancy, from the ec2instances.info "
        f"snapshot of {GRID_SNAPSHOT} (github.com/vantage-sh/ec2instances.info @94e1f006, MIT), "
        "per AWS normalised unit from each family's largest size; real terms (1y = 8760 h, "
        "3y = 26280 h); upfront/hourly split as AWS does (partial upfront = half up front). "
        "Savings Plan rates are DERIVED, not published: EC2 Instance SP = Standard RI and "
        "Compute SP = Convertible RI of the same term and payment option. "
        "Built by tools/build_sample.py."
    )


def build_catalog(grid: pd.DataFrame, usage_keys: Iterable[str]) -> Catalog:
    """The sample catalog: on-demand rates, RIs per family, EC2 Instance SPs, a Compute SP."""
    families = keys_by_family(usage_keys)
    key_prices = tuple(
        KeyPrice(key, per_unit(grid, reference_type(grid, family), "ondemand_hourly"))
        for family, keys in families.items() for key in keys
    )
    offerings: list[Offering] = []
    for family, keys in families.items():
        order = 0
        for ri_class in RI_CLASSES:
            for years in TERMS_ORDERED:
                for payment in PAYMENTS:
                    offerings.append(ri_offering(grid, family, ri_class, years, payment,
                                                 keys, order))
                    order += 1
    for family, keys in families.items():
        for step, (years, payment) in enumerate(_term_payments()):
            offerings.append(savings_plan(
                grid, {family: keys}, RiClass.STANDARD, years, payment,
                offering_id=f"sp-ec2-{years}y-{payment.short}/{REGION}/{family}",
                kind="ec2_instance_sp", order=EC2_SP_ORDER + step,
                description=(f"EC2 Instance Savings Plan, {family} {REGION}, {years} year, "
                             f"{payment.label}; rates derived = Standard RI "
                             "(same term and payment)"),
            ))
    for step, (years, payment) in enumerate(_term_payments()):
        offerings.append(savings_plan(
            grid, families, RiClass.CONVERTIBLE, years, payment,
            offering_id=f"sp-compute-{years}y-{payment.short}", kind="compute_sp",
            order=COMPUTE_SP_ORDER + step,
            description=(f"Compute Savings Plan, all families, {years} year, {payment.label}; "
                         "rates derived = Convertible RI (same term and payment)"),
        ))
    return Catalog(keys=key_prices, offerings=tuple(offerings), currency="USD",
                   source=catalog_source())


def _term_payments() -> list[tuple[int, Payment]]:
    return [(years, payment) for years in TERMS_ORDERED for payment in PAYMENTS]


# ==========================================================================================
# Usage shapes
# ==========================================================================================


@dataclass(frozen=True, slots=True)
class Series:
    """An hourly source series; ``first_hour`` is None when it has no wall clock."""

    values: np.ndarray
    first_hour: datetime | None


def _complete_hours(times: pd.Series, values: pd.Series) -> Series:
    """Reindex to every hour from first to last; missing hours are linearly interpolated."""
    series = pd.Series(values.to_numpy(dtype=float), index=pd.DatetimeIndex(times))
    full = series.reindex(pd.date_range(series.index[0], series.index[-1], freq="h"))
    filled = full.interpolate(method="linear")
    first = full.index[0].to_pydatetime().replace(tzinfo=UTC)
    return Series(filled.to_numpy(dtype=float), first)


def load_series(data_dir: Path, source: str) -> Series:
    """Read one source series (``nab:<id>``, ``dc:<id>`` or ``worldcup98``)."""
    kind, _, series_id = source.partition(":")
    if kind == "nab":
        frame = pd.read_csv(data_dir / NAB_FILE)
        frame = frame[frame["series_id"] == series_id]
        return _complete_hours(pd.to_datetime(frame["timestamp_hour"]), frame["value"])
    if kind == "dc":
        frame = pd.read_csv(data_dir / DC_FILE)
        frame = frame[frame["series_id"] == series_id].sort_values("hour_index")
        if not np.array_equal(frame["hour_index"].to_numpy(), np.arange(len(frame))):
            raise ValueError(f"{source}: hour_index is not contiguous")
        return Series(frame["value"].to_numpy(dtype=float), None)
    if kind == "worldcup98":
        frame = pd.read_csv(data_dir / WORLDCUP_FILE)
        return _complete_hours(pd.to_datetime(frame["timestamp_hour"]), frame["requests"])
    raise ValueError(f"unknown source {source!r}")


def phase_offset(first_hour: datetime | None, start: datetime) -> int:
    """Index of the first source hour at the same weekday and hour of day as ``start``.

    A series without a wall clock starts at its hour 0, taken as ``start``.
    """
    if first_hour is None:
        return 0
    return int((start - first_hour) // timedelta(hours=1)) % HOURS_PER_WEEK


def whole_weeks(series: Series) -> np.ndarray:
    """The part of a series that tiling uses: its first whole weeks."""
    weeks = len(series.values) // HOURS_PER_WEEK
    if weeks < 1:
        raise ValueError("a source series needs at least one whole week")
    return series.values[: weeks * HOURS_PER_WEEK]


def tile_whole_weeks(series: Series, start: datetime, hours: int) -> np.ndarray:
    """Fill ``hours`` from ``start`` with the series' whole weeks, keeping the weekly phase.

    Only the first ``W`` whole weeks are used; target hour ``i`` takes source hour
    ``(offset + i) mod (168 W)``, so a weekday and hour always map to the same weekday
    and hour, and a trace shorter than the window repeats from its first whole week.
    """
    used = whole_weeks(series)
    return used[(phase_offset(series.first_hour, start) + np.arange(hours)) % len(used)]


def to_instances(values: np.ndarray, reference: np.ndarray, scale: int,
                 rescale: Rescale) -> np.ndarray:
    """Turn a utilisation/demand series into instance counts (see ``Rescale``).

    ``reference`` is the whole-weeks part of the source, whose median (or 90th
    percentile) is the level that maps to ``scale`` instances.
    """
    if rescale is Rescale.ROUND_P90:
        level = float(np.quantile(reference, 0.9))
        counts = np.floor(scale * values / level + 0.5)
    else:
        ratio = values / float(np.median(reference))
        if rescale is Rescale.CEIL_SQRT_MEDIAN:
            ratio = np.sqrt(ratio)
        # Rounding first keeps float noise (24.000000001) from adding an instance.
        counts = np.ceil(np.round(scale * ratio, 6))
    return np.maximum(counts, 0).astype(np.int64)


def window_hours() -> pd.DatetimeIndex:
    """Every hour of the history window, UTC."""
    return pd.date_range(WINDOW_START, WINDOW_END, freq="h", inclusive="left")


def migration_share(hours: pd.DatetimeIndex) -> np.ndarray:
    """Share of a decommissioned workload already moved to its new type, per hour."""
    span = (MIGRATION_END - MIGRATION_START).total_seconds()
    elapsed = (hours - pd.Timestamp(MIGRATION_START)).total_seconds().to_numpy()
    return np.clip(elapsed / span, 0.0, 1.0)


def workload_counts(workload: Workload, series: Series,
                    hours: pd.DatetimeIndex) -> dict[str, np.ndarray]:
    """Instance counts per instance type of one workload over the window."""
    values = tile_whole_weeks(series, WINDOW_START, len(hours))
    total = to_instances(values, whole_weeks(series), workload.scale, workload.rescale)
    if workload.migrate_to is None:
        return {workload.instance_type: total}
    moved = np.floor(total * migration_share(hours) + 0.5).astype(np.int64)
    return {workload.instance_type: total - moved, workload.migrate_to: moved}


# ==========================================================================================
# FOCUS
# ==========================================================================================

FOCUS_DECIMAL_COLUMNS = (
    "BilledCost", "ConsumedQuantity", "ContractedCost", "ContractedUnitPrice", "EffectiveCost",
    "ListCost", "ListUnitPrice", "PricingQuantity",
)
FOCUS_DATETIME_COLUMNS = (
    "BillingPeriodEnd", "BillingPeriodStart", "ChargePeriodEnd", "ChargePeriodStart",
)
# FOCUS 1.0's columns, which are those of shared/data/billing/focus-sample/focus_sample.csv
# (its non-FOCUS row number ``Id`` left out) in its order, then AWS's FOCUS extension column.
FOCUS_COLUMNS = (*FOCUS_1_0, "x_UsageType")
TIMESTAMP = pa.timestamp("us", tz="UTC")


def focus_schema() -> pa.Schema:
    """The Arrow schema of the usage file: strings, float64 amounts, UTC timestamps."""
    def arrow_type(name: str) -> pa.DataType:
        if name in FOCUS_DECIMAL_COLUMNS:
            return pa.float64()
        if name in FOCUS_DATETIME_COLUMNS:
            return TIMESTAMP
        return pa.string()
    return pa.schema([pa.field(name, arrow_type(name)) for name in FOCUS_COLUMNS])


def price_text(price: float) -> str:
    """A price as AWS writes it in line item descriptions: at least two decimals."""
    text = format(Decimal(str(price)).normalize(), "f")
    whole, _, decimals = text.partition(".")
    return f"{whole}.{decimals.ljust(2, '0')}"


def charge_description(instance_type: str, price: float) -> str:
    """AWS's description of an on-demand Linux instance hour."""
    return f"${price_text(price)} per On Demand Linux {instance_type} Instance Hour"


def tags_json(workload: Workload) -> str:
    """The resource tags of a workload, as FOCUS's JSON string."""
    return json.dumps({"application": workload.application,
                       "environment": workload.environment, "team": workload.team})


def billing_periods(starts: pd.DatetimeIndex) -> tuple[pd.DatetimeIndex, pd.DatetimeIndex]:
    """The calendar month (start, end) holding each charge period start."""
    month = starts.tz_convert(None).to_period("M")
    begin = month.to_timestamp().tz_localize(UTC)
    end = (month + 1).to_timestamp().tz_localize(UTC)
    return pd.DatetimeIndex(begin), pd.DatetimeIndex(end)


def usage_rows(workload: Workload, instance_type: str, counts: np.ndarray,
               hours: pd.DatetimeIndex, on_demand: float) -> pd.DataFrame:
    """FOCUS rows of one (account, instance type); hours with no instances have no row."""
    running = counts > 0
    starts = hours[running]
    quantity = counts[running].astype(float)
    cost = np.round(quantity * on_demand, 10)
    period_start, period_end = billing_periods(starts)
    size = int(running.sum())
    constant: dict[str, Any] = {
        "AvailabilityZone": workload.availability_zone,
        "BillingAccountId": BILLING_ACCOUNT_ID, "BillingAccountName": BILLING_ACCOUNT_NAME,
        "BillingCurrency": "USD", "ChargeCategory": "Usage", "ChargeClass": None,
        "ChargeDescription": charge_description(instance_type, on_demand),
        "ChargeFrequency": "Usage-Based", "CommitmentDiscountCategory": None,
        "CommitmentDiscountId": None, "CommitmentDiscountName": None,
        "CommitmentDiscountStatus": None, "CommitmentDiscountType": None,
        "ConsumedUnit": "Hours", "ContractedUnitPrice": on_demand,
        "InvoiceIssuerName": "Amazon Web Services, Inc.", "ListUnitPrice": on_demand,
        "PricingCategory": "Standard", "PricingUnit": "Hours", "ProviderName": "AWS",
        "PublisherName": "Amazon Web Services, Inc.", "RegionId": REGION,
        "RegionName": REGION_NAME, "ResourceId": None, "ResourceName": None,
        "ResourceType": "instance", "ServiceCategory": "Compute",
        "ServiceName": "Amazon Elastic Compute Cloud", "SkuId": None, "SkuPriceId": None,
        "SubAccountId": workload.account.account_id, "SubAccountName": workload.account.name,
        "Tags": tags_json(workload), "x_UsageType": f"BoxUsage:{instance_type}",
    }
    varying: dict[str, Any] = {
        "BilledCost": cost, "ContractedCost": cost, "EffectiveCost": cost, "ListCost": cost,
        "ConsumedQuantity": quantity, "PricingQuantity": quantity,
        "ChargePeriodStart": starts, "ChargePeriodEnd": starts + pd.Timedelta(hours=1),
        "BillingPeriodStart": period_start, "BillingPeriodEnd": period_end,
    }
    frame = pd.DataFrame({name: [value] * size for name, value in constant.items()})
    for name, value in varying.items():
        frame[name] = np.asarray(value) if name not in FOCUS_DATETIME_COLUMNS else value
    return frame


def build_usage(data_dir: Path, grid: pd.DataFrame) -> pa.Table:
    """The FOCUS usage history of every workload, sorted by hour, account and type."""
    hours = window_hours()
    cache: dict[str, Series] = {}
    frames: list[pd.DataFrame] = []
    seen: set[tuple[str, str]] = set()
    for workload in WORKLOADS:
        series = cache.setdefault(workload.source, load_series(data_dir, workload.source))
        for instance_type, counts in workload_counts(workload, series, hours).items():
            stream = (workload.account.account_id, instance_type)
            if stream in seen:
                raise ValueError(f"two workloads run {instance_type} in {stream[0]}")
            seen.add(stream)
            on_demand = grid_price(grid, instance_type, "ondemand_hourly")
            frames.append(usage_rows(workload, instance_type, counts, hours, on_demand))
    frame = pd.concat(frames, ignore_index=True)
    frame = frame.sort_values(["ChargePeriodStart", "SubAccountId", "x_UsageType"],
                              kind="stable", ignore_index=True)
    return pa.Table.from_pandas(frame[list(FOCUS_COLUMNS)], schema=focus_schema(),
                                preserve_index=False).replace_schema_metadata(None)


def usage_keys_of(table: pa.Table) -> list[str]:
    """The usage keys (``UsageKey`` string form) that the FOCUS rows describe."""
    pairs = {
        (account, family_of(usage_type.split(":", 1)[1]))
        for account, usage_type in zip(table.column("SubAccountId").to_pylist(),
                                       table.column("x_UsageType").to_pylist(), strict=True)
    }
    return sorted(str(UsageKey("aws", account, "ec2", REGION, family))
                  for account, family in pairs)


# ==========================================================================================
# Inventory and writing
# ==========================================================================================


def build_inventory(catalog: Catalog) -> dict[str, Any]:
    """The inventory document; every offering it names must be in the catalog."""
    commitments = []
    for owned in INVENTORY:
        catalog.offering(owned.offering_id)
        commitments.append({
            "commitment_id": owned.commitment_id, "offering_id": owned.offering_id,
            "quantity": owned.quantity,
            "start": owned.start.isoformat().replace("+00:00", "Z"),
        })
    return {
        "note": ("Commitments the sample organisation bought before the usage history starts "
                 "(2024-06-01). Unit quantities are normalised units; spend quantities are "
                 "dollars per hour."),
        "commitments": commitments,
    }


def write_json(path: Path, document: Mapping[str, Any]) -> None:
    """Write a JSON document the same way every time (indent 1, trailing newline)."""
    path.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")


def write_usage(path: Path, table: pa.Table) -> None:
    """Write the FOCUS table as dictionary-encoded, zstd-compressed Parquet."""
    pq.write_table(table, path, compression="zstd", use_dictionary=True,
                   write_statistics=True)


def build(data_dir: Path, out_dir: Path) -> dict[str, Path]:
    """Regenerate the catalog, usage and inventory files into ``out_dir``."""
    if not (data_dir / GRID_FILE).is_file():
        raise FileNotFoundError(f"{data_dir} does not hold shared/data ({GRID_FILE} missing)")
    out_dir.mkdir(parents=True, exist_ok=True)
    grid = load_price_grid(data_dir)
    usage = build_usage(data_dir, grid)
    catalog = build_catalog(grid, usage_keys_of(usage))
    paths = {"catalog": out_dir / CATALOG_FILE, "usage": out_dir / USAGE_FILE,
             "inventory": out_dir / INVENTORY_FILE}
    write_json(paths["catalog"], catalog_to_dict(catalog))
    write_usage(paths["usage"], usage)
    write_json(paths["inventory"], build_inventory(catalog))
    return paths


def main(argv: Sequence[str] | None = None) -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(prog="python -m tools.build_sample",
                                     description="Rebuild the sample provider data.")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR,
                        help=f"the shared data folder (default: {DEFAULT_DATA_DIR})")
    parser.add_argument("--out", type=Path, default=SAMPLE_DIR,
                        help=f"where to write the files (default: {SAMPLE_DIR})")
    args = parser.parse_args(argv)
    for name, path in build(args.data.resolve(), args.out.resolve()).items():
        print(f"{name}: {path} ({path.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
