"""The commitments an AWS account owns, as Ladder :class:`~core.domain.Commitment` values.

* ``ec2.describe_reserved_instances`` per region (states active, payment-pending,
  queued): one commitment per RI of ``InstanceCount × factor`` normalised units,
  priced per unit from its own ``FixedPrice`` and hourly charges;
* ``savingsplans.describe_savings_plans`` (a ``nextToken`` loop: no paginator):
  one commitment per plan of ``commitment`` dollars per hour, with its own upfront
  share, and the rates of the catalog offering of the same type, term and payment.

An owned commitment's offering id is its kind's catalog id with ``@<AWS id>``, so
that it keeps its own prices beside today's catalog.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from core.domain import Catalog, Commitment, Offering, Shape
from providers.aws.naming import (
    PAYMENT_CODES,
    PAYMENT_OPTIONS,
    RI_CLASSES,
    SP_TYPES,
    TERM_BY_SECONDS,
    SpId,
    ec2_key,
    family_of,
    offering_order,
    parse_time,
    size_factor,
)
from providers.aws.session import AwsClients

log = logging.getLogger("ladder.providers.aws")

RI_STATES = ("active", "payment-pending", "queued")
SP_STATES = ("active", "payment-pending", "queued")

_RI_PLATFORMS: dict[str, str] = {
    "Linux/UNIX": "linux",
    "Linux/UNIX (Amazon VPC)": "linux",
    "Windows": "windows",
    "Windows (Amazon VPC)": "windows",
    "Red Hat Enterprise Linux": "rhel",
    "SUSE Linux": "suse",
}
_RI_TENANCY = {"default": "shared", "dedicated": "dedicated"}


def fetch_reserved_instances(
    clients: AwsClients, region: str, states: Sequence[str] = RI_STATES
) -> list[dict[str, Any]]:
    """The RIs of one region in the given states (the call is not paginated)."""
    response = clients.call("ec2", "describe_reserved_instances", region=region,
                            Filters=[{"Name": "state", "Values": list(states)}])
    return list(response.get("ReservedInstances", []))


def fetch_savings_plans(
    clients: AwsClients, states: Sequence[str] | None = SP_STATES, **params: Any
) -> list[dict[str, Any]]:
    """Savings Plans in the given states (None: every state), all pages."""
    if states:
        params["states"] = list(states)
    plans: list[dict[str, Any]] = []
    for page in clients.pages("savingsplans", "describe_savings_plans",
                              input_token="nextToken", output_token="nextToken", **params):
        plans.extend(page.get("savingsPlans", []))
    return plans


def _platform(product_description: str) -> str:
    known = _RI_PLATFORMS.get(product_description)
    return known or re.sub(r"[^a-z0-9]+", "_", product_description.lower()).strip("_")


def _covers(keys: Iterable[str], region: str, family: str, platform: str, tenancy: str,
            account: str | None) -> dict[str, float]:
    covers = {}
    for text in keys:
        key = ec2_key(text)
        if key and (key.region, key.family, key.platform, key.tenancy) == (
                region, family, platform, tenancy):
            covers[text] = 1.0
    if account:
        covers.setdefault(f"aws/{account}/ec2/{region}/{family}/{platform}/{tenancy}", 1.0)
    return covers


def ri_commitment(
    raw: dict[str, Any],
    region: str,
    *,
    keys: Iterable[str] = (),
    factors: Mapping[str, float] | None = None,
    account: str | None = None,
) -> Commitment | None:
    """One RI as a unit commitment; None when its size has no normalisation factor."""
    instance_type = str(raw["InstanceType"])
    factor = (factors or {}).get(instance_type) or size_factor(instance_type)
    if not factor:
        log.warning("aws inventory: RI %s (%s) has no normalisation factor; left out",
                    raw.get("ReservedInstancesId"), instance_type)
        return None
    start = parse_time(raw.get("Start"))
    if start is None:
        return None
    duration = int(raw.get("Duration", 0))
    term = TERM_BY_SECONDS.get(duration, f"{duration // 3600}h")
    payment = PAYMENT_CODES.get(str(raw.get("OfferingType")), "nu")
    offering_class = str(raw.get("OfferingClass", "standard"))
    platform = _platform(str(raw.get("ProductDescription", "")))
    tenancy = _RI_TENANCY.get(str(raw.get("InstanceTenancy", "default")), "shared")
    family = family_of(instance_type)
    hourly = float(raw.get("UsagePrice", 0.0)) + sum(
        float(c.get("Amount", 0.0)) for c in raw.get("RecurringCharges", [])
        if c.get("Frequency", "Hourly") == "Hourly"
    )
    kind = f"ri-{RI_CLASSES.get(offering_class, offering_class)}"
    ri_id = str(raw["ReservedInstancesId"])
    zonal = raw.get("Scope") == "Availability Zone"
    offering = Offering(
        offering_id=f"{kind}-{term}-{payment}/{region}/{family}/{platform}@{ri_id}",
        shape=Shape.UNIT,
        term_hours=duration // 3600,
        upfront=float(raw.get("FixedPrice", 0.0)) / factor,
        hourly=hourly / factor,
        order=offering_order(kind, term if term in ("1y", "3y") else "1y", payment)
        if kind in ("ri-std", "ri-conv") else 50,
        covers=_covers(keys, region, family, platform, tenancy, account),
        payment_option=PAYMENT_OPTIONS[payment],
        kind=f"{offering_class}_ri",
        description=(f"owned {offering_class} RI {ri_id}: {raw.get('InstanceCount')} × "
                     f"{instance_type} {raw.get('ProductDescription')} "
                     f"{raw.get('AvailabilityZone') if zonal else region}"
                     f"{' (zonal: not size-flexible)' if zonal else ''}, {raw.get('State')}"),
    )
    return Commitment(offering=offering, quantity=int(raw.get("InstanceCount", 0)) * factor,
                      start=start, commitment_id=ri_id)


def sp_commitment(raw: dict[str, Any], catalog: Catalog | None = None) -> Commitment | None:
    """One Savings Plan as a spend commitment, with the catalog's rates for its kind."""
    plan_type = str(raw.get("savingsPlanType", ""))
    duration = int(raw.get("termDurationInSeconds", 0))
    term = TERM_BY_SECONDS.get(duration)
    payment = PAYMENT_CODES.get(str(raw.get("paymentOption")))
    start = parse_time(raw.get("start"))
    commitment = float(raw.get("commitment", "0"))
    if plan_type not in SP_TYPES or term is None or payment is None or start is None:
        log.info("aws inventory: Savings Plan %s (%s) is not EC2 compute; left out",
                 raw.get("savingsPlanId"), plan_type)
        return None
    if commitment <= 0:
        return None
    sp_id = SpId(plan_type, term, payment, raw.get("region"), raw.get("ec2InstanceFamily"))
    catalog_id = str(sp_id)
    rates: Mapping[str, float] = {}
    if catalog is not None:
        try:
            rates = catalog.offering(catalog_id).rates
        except KeyError:
            log.warning("aws inventory: no catalog rates for %s (Savings Plan %s)",
                        catalog_id, raw.get("savingsPlanId"))
    term_hours = duration // 3600
    upfront = float(raw.get("upfrontPaymentAmount") or 0.0)
    fraction = min(1.0, upfront / (commitment * term_hours))
    offering = Offering.spend(
        f"{catalog_id}@{raw['savingsPlanId']}", term_hours=term_hours,
        upfront_fraction=fraction, rates=rates,
        order=sp_id.order,
        payment_option=PAYMENT_OPTIONS[payment],
        kind="compute_sp" if plan_type == "Compute" else "ec2_instance_sp",
        description=(f"owned {plan_type} Savings Plan {raw['savingsPlanId']}: "
                     f"${raw.get('commitment')}/h, {raw.get('state')}"),
    )
    return Commitment(offering=offering, quantity=commitment, start=start,
                      commitment_id=str(raw["savingsPlanId"]))


def commitments(
    reserved: Iterable[tuple[str, dict[str, Any]]],
    plans: Iterable[dict[str, Any]],
    at: datetime,
    *,
    catalog: Catalog | None = None,
    factors: Mapping[str, float] | None = None,
    account: str | None = None,
) -> list[Commitment]:
    """Owned RIs ((region, raw) pairs) and Savings Plans active at ``at`` or later, sorted."""
    keys = catalog.key_ids if catalog is not None else ()
    owned: list[Commitment] = []
    for region, raw in reserved:
        ri = ri_commitment(raw, region, keys=keys, factors=factors, account=account)
        if ri is not None:
            owned.append(ri)
    for raw in plans:
        sp = sp_commitment(raw, catalog)
        if sp is not None:
            owned.append(sp)
    return sorted((c for c in owned if c.end > at), key=lambda c: (c.start, c.commitment_id))
