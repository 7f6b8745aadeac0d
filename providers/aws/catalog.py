"""Ladder's catalog from AWS prices: pure functions over the records the fetchers read.

For each usage key ``aws/<account>/ec2/<region>/<family>/<platform>/<tenancy>``:

* its **on-demand rate** per normalised unit-hour is the on-demand price of the
  family's reference size (the smallest size with a ``normalizationSizeFactor``,
  see :func:`providers.aws.pricing.reference_products`) divided by that factor;
* **Reserved Instances** (unit offerings): for Linux, shared tenancy — the only
  regional RIs that are size-flexible, which Ladder's per-family keys need — one
  offering per class, term and payment option, priced from the reference size's
  AWS offering: ``upfront = FixedPrice / factor`` and
  ``hourly = (UsagePrice + hourly RecurringCharges) / factor`` per normalised unit;
  it covers the family's keys in that region in every account, weight 1;
* **Savings Plans** (spend offerings): one Compute offering per term and payment
  option over every key, one EC2 Instance offering per region, family, term and
  payment option over that family's keys; a key's rate is the reference size's
  Savings Plans rate divided by its factor.

Each offering also keeps a reference to what AWS sells (:class:`RiRef`,
:class:`SpRef`), which the market uses to buy it.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from core.domain import Catalog, KeyPrice, Offering, Shape, UsageKey
from providers.aws.naming import (
    OPERATION_BY_PLATFORM,
    PAYMENT_CODES,
    PAYMENT_OPTIONS,
    RI_PRODUCT_DESCRIPTION,
    TENANCY_RI,
    TERM_BY_SECONDS,
    UPFRONT_FRACTION,
    RiId,
    SpId,
    ec2_key,
    family_of,
)
from providers.aws.offerings import RiOffering, SpRate
from providers.aws.pricing import PriceGroup, ProductPrice, reference_products

log = logging.getLogger("ladder.providers.aws")

CURRENCY = "USD"


@dataclass(frozen=True, slots=True)
class RiRef:
    """What buying one normalised unit of a Ladder RI offering means at AWS."""

    offering_id: str
    offering: RiOffering
    normalization_factor: float


@dataclass(frozen=True, slots=True)
class SpRef:
    """The AWS Savings Plans offering behind a Ladder spend offering."""

    offering_id: str
    aws_offering_id: str
    plan_type: str
    payment_option: str
    duration_s: int
    currency: str = CURRENCY


OfferingRef = RiRef | SpRef


@dataclass(frozen=True)
class AwsCatalog:
    """The catalog, the AWS offering behind each of its offerings, and what was left out."""

    catalog: Catalog
    refs: Mapping[str, OfferingRef]
    factors: Mapping[str, float]
    skipped_keys: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "refs", MappingProxyType(dict(self.refs)))
        object.__setattr__(self, "factors", MappingProxyType(dict(self.factors)))


def _group(key: UsageKey) -> PriceGroup:
    return PriceGroup(key.region, key.family, key.platform, key.tenancy)


def _ri_offerings(
    groups: Mapping[PriceGroup, list[str]],
    references: Mapping[PriceGroup, ProductPrice],
    ri_offerings: Sequence[RiOffering],
) -> tuple[list[Offering], dict[str, OfferingRef]]:
    offerings: list[Offering] = []
    refs: dict[str, OfferingRef] = {}
    for group, key_ids in sorted(groups.items(), key=lambda item: str(item[0])):
        description = RI_PRODUCT_DESCRIPTION.get(group.platform)
        reference = references[group]
        factor = reference.normalization_factor
        if description is None or group.tenancy != "shared" or factor is None:
            continue
        best: dict[tuple[str, str, str], RiOffering] = {}
        for ri in ri_offerings:
            term = TERM_BY_SECONDS.get(ri.duration_s)
            payment = PAYMENT_CODES.get(ri.offering_type)
            if (ri.region != group.region or ri.instance_type != reference.instance_type
                    or ri.scope != "Region" or ri.marketplace or term is None or payment is None
                    or ri.product_description != description
                    or ri.tenancy != TENANCY_RI[group.tenancy] or ri.currency != CURRENCY):
                continue
            slot = (ri.offering_class, term, payment)
            current = best.get(slot)
            if current is None or (ri.amortized_hourly, ri.offering_id) < (
                    current.amortized_hourly, current.offering_id):
                best[slot] = ri
        for (offering_class, term, payment), ri in sorted(best.items()):
            if ri.fixed_price <= 0 and ri.hourly_price <= 0:
                continue
            rid = RiId(offering_class, term, payment, group.region, group.family, group.platform)
            offerings.append(Offering(
                offering_id=str(rid), shape=Shape.UNIT, term_hours=ri.duration_s // 3600,
                upfront=ri.fixed_price / factor, hourly=ri.hourly_price / factor,
                order=rid.order, covers=dict.fromkeys(key_ids, 1.0),
                payment_option=PAYMENT_OPTIONS[payment], kind=f"{offering_class}_ri",
                description=(f"EC2 {offering_class.title()} Reserved Instance, {group.family} "
                             f"{description} {group.region}, regional (size-flexible), "
                             f"{term[0]} year, {ri.offering_type}; per normalised unit of "
                             f"{ri.instance_type} (factor {factor:g}), AWS offering "
                             f"{ri.offering_id}"),
            ))
            refs[str(rid)] = RiRef(str(rid), ri, factor)
    return offerings, refs


def _sp_offerings(
    keys: Sequence[UsageKey],
    references: Mapping[PriceGroup, ProductPrice],
    sp_rates: Sequence[SpRate],
) -> tuple[list[Offering], dict[str, OfferingRef]]:
    by_product: dict[tuple[str, str, str, str], list[SpRate]] = defaultdict(list)
    for rate in sp_rates:
        if rate.currency == CURRENCY and rate.rate > 0:
            by_product[(rate.region, rate.instance_type, rate.operation, rate.tenancy)].append(rate)
    rates: dict[str, dict[str, float]] = defaultdict(dict)
    sources: dict[str, tuple[SpId, SpRate]] = {}
    for key in keys:
        reference = references[_group(key)]
        factor = reference.normalization_factor
        assert factor is not None  # reference_products keeps only sizes with a factor
        product = (key.region, reference.instance_type, OPERATION_BY_PLATFORM[key.platform],
                   key.tenancy)
        for rate in by_product.get(product, []):
            term = TERM_BY_SECONDS.get(rate.duration_s)
            payment = PAYMENT_CODES.get(rate.payment_option)
            if term is None or payment is None or rate.plan_type not in ("Compute", "EC2Instance"):
                continue
            if rate.plan_type == "EC2Instance":
                sid = SpId("EC2Instance", term, payment, key.region, family_of(rate.instance_type))
            else:
                sid = SpId("Compute", term, payment)
            _, known = sources.setdefault(str(sid), (sid, rate))
            if known.offering_id != rate.offering_id:
                log.warning("aws: %s is sold as %s and %s; keeping the first",
                            sid, known.offering_id, rate.offering_id)
                continue
            rates[str(sid)][str(key)] = rate.rate / factor
    offerings: list[Offering] = []
    refs: dict[str, OfferingRef] = {}
    for offering_id, key_rates in rates.items():
        sid, source = sources[offering_id]
        compute = sid.plan_type == "Compute"
        scope = "" if compute else f", {sid.family} {sid.region}"
        offerings.append(Offering.spend(
            offering_id, term_hours=source.duration_s // 3600,
            upfront_fraction=UPFRONT_FRACTION[sid.payment], rates=key_rates, order=sid.order,
            payment_option=PAYMENT_OPTIONS[sid.payment],
            kind="compute_sp" if compute else "ec2_instance_sp",
            description=(f"{'Compute' if compute else 'EC2 Instance'} Savings Plan{scope}, "
                         f"{sid.term[0]} year, {source.payment_option}; rates per normalised "
                         f"unit, AWS offering {source.offering_id}"),
        ))
        refs[offering_id] = SpRef(offering_id, source.offering_id, source.plan_type,
                                  source.payment_option, source.duration_s, source.currency)
    return offerings, refs


def build_catalog(
    usage_keys: Iterable[str],
    products: Sequence[ProductPrice],
    ri_offerings: Sequence[RiOffering],
    sp_rates: Sequence[SpRate],
    *,
    source: str = "",
) -> AwsCatalog:
    """The catalog for ``usage_keys`` from price-list products, RI offerings and SP rates.

    Keys that are not AWS EC2 keys, or whose family has no priced size in the
    price list, are left out and listed in ``skipped_keys``.
    """
    references = reference_products(products)
    keys: list[UsageKey] = []
    skipped: list[str] = []
    for text in sorted(set(usage_keys)):
        key = ec2_key(text)
        if key is None or _group(key) not in references:
            skipped.append(text)
        else:
            keys.append(key)
    if skipped:
        log.warning("aws catalog: %d usage keys have no price and are left out: %s",
                    len(skipped), ", ".join(skipped[:5]))
    prices = []
    groups: dict[PriceGroup, list[str]] = defaultdict(list)
    for key in keys:
        reference = references[_group(key)]
        assert reference.on_demand_hourly and reference.normalization_factor
        prices.append(KeyPrice(str(key),
                               reference.on_demand_hourly / reference.normalization_factor))
        groups[_group(key)].append(str(key))
    ri, ri_refs = _ri_offerings(groups, references, ri_offerings)
    sp, sp_refs = _sp_offerings(keys, references, sp_rates)
    offerings = sorted(ri + sp, key=lambda o: (o.order, o.offering_id))
    factors = {p.instance_type: p.normalization_factor for p in products
               if p.normalization_factor is not None}
    catalog = Catalog(keys=tuple(prices), offerings=tuple(offerings), currency=CURRENCY,
                      source=source or "aws: pricing.get_products, "
                      "ec2.describe_reserved_instances_offerings, "
                      "savingsplans.describe_savings_plans_offering_rates")
    return AwsCatalog(catalog=catalog, refs={**ri_refs, **sp_refs}, factors=factors,
                      skipped_keys=tuple(skipped))
