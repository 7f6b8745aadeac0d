"""On-demand prices and normalisation factors from the Price List API (``pricing.get_products``).

Each item of ``PriceList`` is a JSON *string* (one product with its terms), which
:func:`parse_price_list_item` decodes into a :class:`ProductPrice`. Only what Ladder
needs is kept: the instance type, region, platform and tenancy that make a usage
key, ``normalizationSizeFactor`` and the on-demand price per instance-hour.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from providers.aws.naming import (
    OPERATION_BY_PLATFORM,
    TENANCY_PRICING,
    family_of,
)
from providers.aws.session import AwsClients
from providers.focus.compute import PLATFORM_BY_OPERATION

log = logging.getLogger("ladder.providers.aws")

_TENANCY_KEY = {name: key for key, name in TENANCY_PRICING.items()}


@dataclass(frozen=True, slots=True)
class ProductPrice:
    """One EC2 product of the price list: an instance type's on-demand price and size factor."""

    sku: str
    instance_type: str
    region: str
    platform: str
    tenancy: str
    normalization_factor: float | None
    on_demand_hourly: float | None
    currency: str = "USD"

    @property
    def family(self) -> str:
        """The instance family (``m5`` for ``m5.large``)."""
        return family_of(self.instance_type)


@dataclass(frozen=True, slots=True)
class PriceGroup:
    """What one price-list query asks for: one family's sizes for one usage-key pool."""

    region: str
    family: str
    platform: str
    tenancy: str


def _factor(text: Any) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):  # "NA" for sizes without a factor
        return None
    return value if value > 0 else None


def _on_demand(terms: Any, currency: str) -> float | None:
    """The hourly on-demand price: the first ``Hrs`` dimension of the OnDemand terms."""
    for term in (terms or {}).get("OnDemand", {}).values():
        for dimension in term.get("priceDimensions", {}).values():
            if dimension.get("unit") != "Hrs":
                continue
            price = dimension.get("pricePerUnit", {}).get(currency)
            if price is not None:
                return float(price)
    return None


def parse_price_list_item(item: str, currency: str = "USD") -> ProductPrice | None:
    """Decode one ``PriceList`` JSON string; None when it is not a used EC2 instance product."""
    product = json.loads(item)
    attributes: dict[str, str] = product.get("product", {}).get("attributes", {})
    operation = attributes.get("operation", "")
    platform = PLATFORM_BY_OPERATION.get(operation)
    tenancy = _TENANCY_KEY.get(attributes.get("tenancy", ""))
    instance_type = attributes.get("instanceType")
    if platform is None or tenancy is None or not instance_type:
        return None
    if attributes.get("capacitystatus", "Used") != "Used":
        return None  # the unused part of a capacity reservation, not instance usage
    if attributes.get("marketoption", "OnDemand") != "OnDemand":
        return None  # capacity blocks
    return ProductPrice(
        sku=str(product.get("product", {}).get("sku", "")),
        instance_type=instance_type,
        region=attributes.get("regionCode", ""),
        platform=platform,
        tenancy=tenancy,
        normalization_factor=_factor(attributes.get("normalizationSizeFactor")),
        on_demand_hourly=_on_demand(product.get("terms"), currency),
        currency=currency,
    )


def fetch_products(clients: AwsClients, groups: Iterable[PriceGroup]) -> list[ProductPrice]:
    """Every size of each group's family from ``pricing.get_products`` (all pages)."""
    products: list[ProductPrice] = []
    for group in sorted(set(groups), key=lambda g: (g.region, g.family, g.platform, g.tenancy)):
        filters = [
            {"Type": "TERM_MATCH", "Field": "regionCode", "Value": group.region},
            {"Type": "TERM_MATCH", "Field": "operation",
             "Value": OPERATION_BY_PLATFORM[group.platform]},
            {"Type": "TERM_MATCH", "Field": "tenancy", "Value": TENANCY_PRICING[group.tenancy]},
            {"Type": "TERM_MATCH", "Field": "capacitystatus", "Value": "Used"},
            {"Type": "CONTAINS", "Field": "instanceType", "Value": f"{group.family}."},
        ]
        for page in clients.pages("pricing", "get_products",
                                  region=clients.settings.pricing_region,
                                  ServiceCode="AmazonEC2", Filters=filters,
                                  FormatVersion="aws_v1", MaxResults=100):
            for item in page.get("PriceList", []):
                parsed = parse_price_list_item(item)
                if parsed is not None and parsed.family == group.family:
                    products.append(parsed)
    log.info("aws price list: %d products", len(products))
    return products


def reference_products(products: Sequence[ProductPrice]) -> dict[PriceGroup, ProductPrice]:
    """Per group, the size Ladder prices and buys: the smallest with a factor and a price.

    Regional Linux RIs are size-flexible, so the smallest size buys any number of
    normalised units with the finest granularity; for Linux the per-unit prices of
    all sizes agree, and one reference size keeps on-demand, RI and Savings Plans
    rates of a key consistent with each other.
    """
    best: dict[PriceGroup, ProductPrice] = {}
    for product in products:
        if product.normalization_factor is None or not product.on_demand_hourly:
            continue
        group = PriceGroup(product.region, product.family, product.platform, product.tenancy)
        current = best.get(group)
        rank = (product.normalization_factor, product.instance_type)
        if current is None or rank < (current.normalization_factor or 0.0,
                                      current.instance_type):
            best[group] = product
    return best
