"""The Azure catalog: VM usage keys per ISF group, reservations and the savings plan.

Prices come from the public Azure Retail Prices API (through azure-core, with
Ladder's retry and logging policies), per region, for the base size of each
instance size flexibility group (its smallest ratio):

* one usage key per subscription, region and group, in normalised units
  (``azure/<subscription>/vm/<region>/<isf-group>/linux/shared``), priced at the
  base size's Linux pay-as-you-go rate divided by its ratio;
* reservations are **unit** offerings, one unit being one instance of the base
  size, covering its ratio of normalised units of the group's key in every
  subscription (Ladder buys with a shared applied scope); paid up front or
  monthly (the same total): ``azure:ri:<region>:<arm sku>:<P1Y|P3Y>:<upfront|monthly>``;
* the compute savings plan is one **spend** offering per term and billing plan
  (``azure:sp:<P1Y|P3Y>:<upfront|monthly>``): one unit is one dollar per hour,
  covering each key at the base size's savings plan rate per normalised unit.

Windows keys are not priced: reservations and savings plans cover only the
compute part of a Windows VM, which a unit of the Linux key stands for.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from azure.core import PipelineClient
from azure.core.rest import HttpRequest

from core.domain import Catalog, KeyPrice, Offering, PaymentOption, Shape, UsageKey
from providers.azure.errors import azure_call
from providers.azure.sizes import VmSize, base_size, group_slug, groups

SERVICE = "vm"
PRICES_API_VERSION = "2023-01-01-preview"
TERMS: dict[str, int] = {"P1Y": 8760, "P3Y": 26280}
RETAIL_TERMS: dict[str, str] = {"1 Year": "P1Y", "3 Years": "P3Y"}
BILLING: dict[str, str] = {"upfront": "Upfront", "monthly": "Monthly"}
"""Ladder's payment names → Azure ``billingPlan`` values."""
RI_KIND = "azure_reservation"
SP_KIND = "azure_savings_plan"
SKUS_PER_REQUEST = 15
SOURCE = ("Azure Retail Prices API (prices.azure.com, list prices in USD), base size of each "
          "instance size flexibility group; ratios from providers/azure/data (see NOTICE)")


@dataclass(frozen=True, slots=True)
class ReservationOffering:
    """What a reservation offering id names."""

    region: str
    arm_sku: str
    term: str
    payment: str

    @property
    def offering_id(self) -> str:
        """The offering id."""
        return f"azure:ri:{self.region}:{self.arm_sku}:{self.term}:{self.payment}"

    @property
    def billing_plan(self) -> str:
        """Azure's ``billingPlan``."""
        return BILLING[self.payment]

    @classmethod
    def parse(cls, offering_id: str) -> ReservationOffering:
        """Read an offering id back; ValueError when it is not an Azure reservation offering."""
        parts = offering_id.split(":")
        if (len(parts) < 6 or parts[:2] != ["azure", "ri"] or parts[4] not in TERMS
                or parts[5] not in BILLING):
            raise ValueError(f"{offering_id!r} is not an Azure reservation offering "
                             "(azure:ri:<region>:<arm sku>:<P1Y|P3Y>:<upfront|monthly>)")
        return cls(parts[2], parts[3], parts[4], parts[5])


@dataclass(frozen=True, slots=True)
class SavingsPlanOffering:
    """What a savings plan offering id names."""

    term: str
    payment: str

    @property
    def offering_id(self) -> str:
        """The offering id."""
        return f"azure:sp:{self.term}:{self.payment}"

    @property
    def billing_plan(self) -> str:
        """Azure's savings plan ``billingPlan`` (``P1M`` for monthly)."""
        return "Upfront" if self.payment == "upfront" else "P1M"

    @classmethod
    def parse(cls, offering_id: str) -> SavingsPlanOffering:
        """Read an offering id back; ValueError when it is not an Azure savings plan offering."""
        parts = offering_id.split(":")
        if (len(parts) != 4 or parts[:2] != ["azure", "sp"] or parts[2] not in TERMS
                or parts[3] not in BILLING):
            raise ValueError(f"{offering_id!r} is not an Azure savings plan offering "
                             "(azure:sp:<P1Y|P3Y>:<upfront|monthly>)")
        return cls(parts[2], parts[3])


def usage_key(subscription: str, region: str, group: str, platform: str = "linux") -> str:
    """The usage key of one subscription, region and ISF group."""
    return str(UsageKey("azure", subscription, SERVICE, region, group_slug(group), platform))


def fetch_retail_prices(client: PipelineClient, region: str,
                        skus: Sequence[str]) -> list[dict[str, Any]]:
    """Retail price items of Virtual Machines for these ARM SKUs in one region (all pages)."""
    items: list[dict[str, Any]] = []
    for start in range(0, len(skus), SKUS_PER_REQUEST):
        chunk = skus[start:start + SKUS_PER_REQUEST]
        names = " or ".join(f"armSkuName eq '{sku}'" for sku in chunk)
        query = (f"serviceName eq 'Virtual Machines' and armRegionName eq '{region}' "
                 f"and ({names})")
        link: str | None = client.format_url("/api/retail/prices")
        params: dict[str, str] | None = {"api-version": PRICES_API_VERSION, "$filter": query}
        while link:
            with azure_call("retailPrices.list", region=region,
                            skus=len(chunk)) as call:
                response = client.send_request(HttpRequest("GET", link, params=params))
                response.raise_for_status()
                page = response.json()
                call.note(items=len(page.get("Items", [])))
            items.extend(page.get("Items", []))
            link, params = page.get("NextPageLink"), None
    return items


def _is_linux_on_demand(item: dict[str, Any]) -> bool:
    text = f"{item.get('productName', '')} {item.get('skuName', '')} {item.get('meterName', '')}"
    return (item.get("type") == "Consumption" and item.get("unitOfMeasure") == "1 Hour"
            and not any(word in text for word in ("Windows", "Spot", "Low Priority")))


@dataclass(frozen=True, slots=True)
class GroupPrices:
    """Prices of one ISF group's base size in one region."""

    size: VmSize
    region: str
    on_demand: float
    reservation: dict[str, float]
    savings_plan: dict[str, float]


def group_prices(items: Iterable[dict[str, Any]], region: str,
                 sizes: Iterable[VmSize]) -> Iterator[GroupPrices]:
    """The base-size prices found in retail price items, per group."""
    by_sku: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        by_sku.setdefault(str(item.get("armSkuName")), []).append(item)
    for size in sizes:
        found = by_sku.get(size.arm_sku, [])
        on_demand = [i for i in found if _is_linux_on_demand(i)]
        if not on_demand:
            continue
        reservation = {
            RETAIL_TERMS[str(i["reservationTerm"])]: float(i["unitPrice"])
            for i in found
            if i.get("type") == "Reservation" and i.get("reservationTerm") in RETAIL_TERMS
        }
        savings_plan = {
            RETAIL_TERMS[str(plan["term"])]: float(plan["unitPrice"])
            for plan in on_demand[0].get("savingsPlan") or []
            if plan.get("term") in RETAIL_TERMS
        }
        yield GroupPrices(size, region, float(on_demand[0]["unitPrice"]), reservation,
                          savings_plan)


def build_catalog(prices: Sequence[GroupPrices], subscriptions: Sequence[str]) -> Catalog:
    """Keys, reservation offerings and savings plan offerings from base-size prices."""
    if not subscriptions:
        raise ValueError("an Azure catalog needs at least one subscription")
    keys: list[KeyPrice] = []
    offerings: list[Offering] = []
    sp_rates: dict[str, dict[str, float]] = {term: {} for term in TERMS}
    for price in prices:
        ratio = price.size.ratio
        covered = {usage_key(s, price.region, price.size.group): ratio for s in subscriptions}
        keys.extend(KeyPrice(key, price.on_demand / ratio) for key in covered)
        for term, total in price.reservation.items():
            for payment in BILLING:
                spec = ReservationOffering(price.region, price.size.arm_sku, term, payment)
                offerings.append(Offering(
                    offering_id=spec.offering_id, shape=Shape.UNIT, term_hours=TERMS[term],
                    upfront=total if payment == "upfront" else 0.0,
                    hourly=0.0 if payment == "upfront" else total / TERMS[term],
                    order=0, covers=covered,
                    payment_option=(PaymentOption.ALL_UPFRONT if payment == "upfront"
                                    else PaymentOption.NO_UPFRONT),
                    kind=RI_KIND,
                    description=(f"Azure {term} reservation of {price.size.arm_sku} "
                                 f"({price.size.group}, ratio {ratio:g}) in {price.region}, "
                                 f"shared scope, paid {payment}"),
                ))
        for term, hourly in price.savings_plan.items():
            for key in covered:
                sp_rates[term][key] = hourly / ratio
    for term, rates in sp_rates.items():
        if not rates:
            continue
        for payment in BILLING:
            spec_sp = SavingsPlanOffering(term, payment)
            offerings.append(Offering.spend(
                spec_sp.offering_id, term_hours=TERMS[term],
                upfront_fraction=1.0 if payment == "upfront" else 0.0, rates=rates, order=1,
                payment_option=(PaymentOption.ALL_UPFRONT if payment == "upfront"
                                else PaymentOption.NO_UPFRONT),
                kind=SP_KIND,
                description=f"Azure compute savings plan, {term}, shared scope, paid {payment}",
            ))
    return Catalog(keys=tuple(keys), offerings=tuple(offerings), currency="USD", source=SOURCE)


def load_catalog(client: PipelineClient, regions: Sequence[str],
                 subscriptions: Sequence[str], wanted_groups: Sequence[str] = ()) -> Catalog:
    """Fetch retail prices for the base size of each wanted group and build the catalog."""
    names = list(wanted_groups) or sorted(groups())
    bases = [base_size(name) for name in names]
    prices: list[GroupPrices] = []
    for region in regions:
        items = fetch_retail_prices(client, region, [b.arm_sku for b in bases])
        prices.extend(group_prices(items, region, bases))
    if not prices:
        raise ValueError(f"no Azure VM prices found for regions {list(regions)}")
    return build_catalog(prices, subscriptions)
