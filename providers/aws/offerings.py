"""What AWS sells: Reserved Instance offerings and Savings Plans offering rates.

* ``ec2.describe_reserved_instances_offerings`` (paginated, one region per client)
  gives each RI offering's fixed and hourly price;
* ``savingsplans.describe_savings_plans_offering_rates`` (no paginator: a
  ``nextToken`` loop) gives each Savings Plan's rate per instance type, region,
  operation and tenancy.

Both are read as small frozen records so that :mod:`providers.aws.catalog` can
build the catalog without calling anything.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from providers.aws.naming import (
    OPERATION_BY_PLATFORM,
    TENANCY_BY_USAGE_TYPE,
    TERM_SECONDS,
)
from providers.aws.session import AwsClients

_USAGE_TYPE = re.compile(r"(?:^|-)(BoxUsage|DedicatedUsage|HostUsage):(?P<type>[a-z0-9.-]+)$")
_FILTER_CHUNK = 20


@dataclass(frozen=True, slots=True)
class RiOffering:
    """One Reserved Instance offering of one region, as AWS sells it (prices per instance)."""

    region: str
    offering_id: str
    instance_type: str
    offering_class: str  # "standard" | "convertible"
    offering_type: str  # "No Upfront" | "Partial Upfront" | "All Upfront"
    duration_s: int
    fixed_price: float
    hourly_price: float
    product_description: str
    tenancy: str  # "default" | "dedicated"
    scope: str  # "Region" | "Availability Zone"
    marketplace: bool
    currency: str = "USD"

    @property
    def amortized_hourly(self) -> float:
        """Fixed price spread over the term plus the hourly price, per instance."""
        return self.fixed_price / (self.duration_s / 3600) + self.hourly_price


def ri_offering(region: str, raw: dict[str, Any]) -> RiOffering:
    """Read one item of ``ReservedInstancesOfferings`` (the hourly price sums its charges)."""
    recurring = sum(
        float(charge.get("Amount", 0.0))
        for charge in raw.get("RecurringCharges", [])
        if charge.get("Frequency", "Hourly") == "Hourly"
    )
    return RiOffering(
        region=region,
        offering_id=str(raw["ReservedInstancesOfferingId"]),
        instance_type=str(raw["InstanceType"]),
        offering_class=str(raw.get("OfferingClass", "standard")),
        offering_type=str(raw.get("OfferingType", "")),
        duration_s=int(raw.get("Duration", 0)),
        fixed_price=float(raw.get("FixedPrice", 0.0)),
        hourly_price=float(raw.get("UsagePrice", 0.0)) + recurring,
        product_description=str(raw.get("ProductDescription", "")),
        tenancy=str(raw.get("InstanceTenancy", "default")),
        scope=str(raw.get("Scope", "Region")),
        marketplace=bool(raw.get("Marketplace", False)),
        currency=str(raw.get("CurrencyCode", "USD")),
    )


def fetch_ri_offerings(
    clients: AwsClients, region: str, instance_type: str, product_description: str = "Linux/UNIX",
    tenancy: str = "default",
) -> list[RiOffering]:
    """Regional RI offerings sold by AWS (not the Marketplace) for one instance type."""
    offerings: list[RiOffering] = []
    for page in clients.pages(
        "ec2", "describe_reserved_instances_offerings", region=region,
        InstanceType=instance_type, ProductDescription=product_description,
        InstanceTenancy=tenancy, IncludeMarketplace=False,
        MinDuration=TERM_SECONDS["1y"], MaxDuration=TERM_SECONDS["3y"],
        Filters=[{"Name": "scope", "Values": ["Region"]}], MaxResults=100,
    ):
        offerings.extend(ri_offering(region, raw)
                         for raw in page.get("ReservedInstancesOfferings", []))
    return offerings


@dataclass(frozen=True, slots=True)
class SpRate:
    """The rate of one Savings Plan offering for one instance type, region, operation, tenancy."""

    offering_id: str
    plan_type: str  # "Compute" | "EC2Instance"
    payment_option: str
    duration_s: int
    currency: str
    rate: float
    region: str
    instance_type: str
    operation: str
    tenancy: str


def sp_rate(raw: dict[str, Any]) -> SpRate | None:
    """Read one item of ``searchResults``; None when it is not an EC2 instance-hour rate."""
    if raw.get("unit") != "Hrs" or raw.get("productType", "EC2") != "EC2":
        return None
    properties = {p.get("name"): p.get("value") for p in raw.get("properties", [])}
    usage = _USAGE_TYPE.search(str(raw.get("usageType", "")))
    tenancy = properties.get("tenancy") or (
        TENANCY_BY_USAGE_TYPE.get(usage.group(1)) if usage else None
    )
    instance_type = properties.get("instanceType") or (usage["type"] if usage else None)
    region = properties.get("region")
    if tenancy not in ("shared", "dedicated") or not instance_type or not region:
        return None
    offering = raw.get("savingsPlanOffering", {})
    return SpRate(
        offering_id=str(offering.get("offeringId", "")),
        plan_type=str(offering.get("planType", "")),
        payment_option=str(offering.get("paymentOption", "")),
        duration_s=int(offering.get("durationSeconds", 0)),
        currency=str(offering.get("currency", "USD")),
        rate=float(raw.get("rate", "0")),
        region=str(region),
        instance_type=str(instance_type),
        operation=str(raw.get("operation", "")),
        tenancy=str(tenancy),
    )


def _chunks(values: Sequence[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(values), size):
        yield list(values[start:start + size])


def fetch_sp_rates(
    clients: AwsClients, regions: Iterable[str], instance_types: Iterable[str],
    platforms: Iterable[str],
) -> list[SpRate]:
    """Compute and EC2 Instance Savings Plans rates for the given instance types (all pages)."""
    region_list = sorted(set(regions))
    operations = sorted({OPERATION_BY_PLATFORM[p] for p in platforms})
    rates: list[SpRate] = []
    for types in _chunks(sorted(set(instance_types)), _FILTER_CHUNK):
        for page in clients.pages(
            "savingsplans", "describe_savings_plans_offering_rates",
            input_token="nextToken", output_token="nextToken",
            savingsPlanTypes=["Compute", "EC2Instance"], products=["EC2"],
            serviceCodes=["AmazonEC2"], operations=operations,
            filters=[{"name": "region", "values": region_list},
                     {"name": "instanceType", "values": types}],
            maxResults=1000,
        ):
            for raw in page.get("searchResults", []):
                parsed = sp_rate(raw)
                if parsed is not None:
                    rates.append(parsed)
    return rates
