"""The GCP catalog: usage keys per series and resource, and resource-based CUD offerings.

One usage key per project, region, machine series and resource
(``gcp/<project>/compute/us-central1/n2.vcpu/linux/shared``, in vCPU-hours;
``…/n2.memory/…`` in GiB-hours), priced on demand per unit-hour. Each key has two
unit offerings, the 1- and 3-year commitments: one unit is one vCPU (or one
GiB) committed, covering one unit of that key per hour, billed monthly with
nothing up front. Offering ids name what to buy:
``gcp:cud:<region>:<series>:<vcpu|memory>:<1y|3y>``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from core.domain import Catalog, KeyPrice, Offering, PaymentOption, Shape, UsageKey
from providers.gcp.pricing import COMMITMENT_TYPES, PLANS, ResourcePrice, load_prices

SERVICE = "compute"
KIND = "gcp_resource_cud"
TERMS: dict[str, str] = {"1y": "TWELVE_MONTH", "3y": "THIRTY_SIX_MONTH"}
PLAN_TERMS: dict[str, str] = {plan: term for term, plan in TERMS.items()}
SNAPSHOT_DATE = date(2026, 7, 30)
"""The date of the Cloud Billing catalog snapshot behind ``data/resource_prices.csv``."""
SOURCE = (
    "GCP Compute Engine list prices per vCPU-hour and GiB-hour, derived from the Cloud Billing "
    "catalog snapshot of 2026-07-30 (Cyclenerd/google-cloud-pricing-cost-calculator, "
    "Apache-2.0; providers/gcp/data/NOTICE); resource-based commitments billed monthly"
)


@dataclass(frozen=True, slots=True)
class CudOffering:
    """What an offering id of this catalog names."""

    region: str
    series: str
    resource: str
    term: str

    @property
    def plan(self) -> str:
        """The commitment plan (``TWELVE_MONTH`` or ``THIRTY_SIX_MONTH``)."""
        return TERMS[self.term]

    @property
    def commitment_type(self) -> str:
        """The commitment ``type`` covering this series."""
        return COMMITMENT_TYPES[self.series]

    @property
    def offering_id(self) -> str:
        """The offering id this names."""
        return f"gcp:cud:{self.region}:{self.series}:{self.resource}:{self.term}"

    @classmethod
    def parse(cls, offering_id: str) -> CudOffering:
        """Read an offering id back; ValueError when it is not a GCP commitment offering."""
        parts = offering_id.split(":")
        if (len(parts) != 6 or parts[:2] != ["gcp", "cud"] or parts[4] not in ("vcpu", "memory")
                or parts[5] not in TERMS or parts[3] not in COMMITMENT_TYPES):
            raise ValueError(f"{offering_id!r} is not a GCP commitment offering "
                             "(gcp:cud:<region>:<series>:<vcpu|memory>:<1y|3y>)")
        return cls(parts[2], parts[3], parts[4], parts[5])


def usage_key(project: str, region: str, series: str, resource: str) -> str:
    """The usage key of one project, region, series and resource."""
    return str(UsageKey("gcp", project, SERVICE, region, f"{series}.{resource}"))


def offering(project: str, price: ResourcePrice, term: str) -> Offering:
    """The unit offering of one resource commitment of ``term`` (``1y``/``3y``)."""
    spec = CudOffering(price.region, price.series, price.resource, term)
    unit = "vCPU" if price.resource == "vcpu" else "GiB of memory"
    return Offering(
        offering_id=spec.offering_id,
        shape=Shape.UNIT,
        term_hours=PLANS[spec.plan],
        upfront=0.0,
        hourly=price.commitment_hourly(spec.plan),
        order=0,
        covers={usage_key(project, price.region, price.series, price.resource): 1.0},
        payment_option=PaymentOption.NO_UPFRONT,
        kind=KIND,
        description=(f"GCP {term} resource-based commitment, {price.series.upper()} {unit} in "
                     f"{price.region} ({spec.commitment_type}); cannot be cancelled"),
    )


def build_catalog(project: str, *, regions: Iterable[str] = (),
                  series: Iterable[str] = ()) -> Catalog:
    """The catalog of one project from the bundled prices, narrowed to regions and series."""
    wanted_regions, wanted_series = set(regions), set(series)
    prices = [
        p for p in load_prices()
        if (not wanted_regions or p.region in wanted_regions)
        and (not wanted_series or p.series in wanted_series)
    ]
    if not prices:
        raise ValueError(f"no GCP prices for regions {sorted(wanted_regions)} and series "
                         f"{sorted(wanted_series)}")
    keys = tuple(
        KeyPrice(usage_key(project, p.region, p.series, p.resource), p.on_demand_hourly)
        for p in prices
    )
    offerings = tuple(offering(project, p, term) for p in prices for term in TERMS)
    return Catalog(keys=keys, offerings=offerings, currency="USD", source=SOURCE)
