"""Small typed factories for the AWS market tests: offerings as the catalog refers to them."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from providers.aws import AwsClients
from providers.aws.catalog import OfferingRef, RiRef, SpRef
from providers.aws.market import AwsMarket
from providers.aws.offerings import RiOffering

_NS = uuid.UUID("3b7c0d1e-5a2f-4c8e-9d61-4c6164646572")  # the recordings' ids
YEAR, THREE_YEARS = 31_536_000, 94_608_000
NOW = datetime(2024, 9, 2, 10, 0, tzinfo=UTC)


def recorded_id(name: str) -> str:
    """An id as the recordings write it (UUID5 of a name)."""
    return str(uuid.uuid5(_NS, name))


def ri_ref(
    offering_id: str = "ri-std-1y-pu/us-east-1/m5/linux",
    *,
    instance_type: str = "m5.large",
    offering_class: str = "standard",
    duration_s: int = YEAR,
    payment: str = "Partial Upfront",
    fixed_price: float = 259.0,
    hourly_price: float = 0.030,
    factor: float = 4.0,
) -> RiRef:
    """A catalog RI offering and the AWS offering behind it (m5.large Standard 1y PU)."""
    aws_id = recorded_id(f"ri-offering:{instance_type}:{offering_class}:{duration_s}:{payment}")
    return RiRef(offering_id, RiOffering(
        region="us-east-1", offering_id=aws_id, instance_type=instance_type,
        offering_class=offering_class, offering_type=payment, duration_s=duration_s,
        fixed_price=fixed_price, hourly_price=hourly_price, product_description="Linux/UNIX",
        tenancy="default", scope="Region", marketplace=False,
    ), factor)


def sp_ref(
    offering_id: str = "sp-compute-1y-pu",
    *,
    plan_type: str = "Compute",
    family: str | None = None,
    duration_s: int = YEAR,
    payment: str = "Partial Upfront",
) -> SpRef:
    """A catalog Savings Plan offering and the AWS offering behind it."""
    aws_id = recorded_id(f"sp-offering:{plan_type}:{family}:{duration_s}:{payment}")
    return SpRef(offering_id, aws_id, plan_type, payment, duration_s)


class Clock:
    """A settable clock for the market (UTC)."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        """Move the clock forward."""
        self.now += timedelta(**delta)


def market(clients: AwsClients, *refs: OfferingRef, clock: Callable[[], datetime] | None = None
           ) -> AwsMarket:
    """A market knowing ``refs`` with the recordings' clock (2024-09-02 10:00 UTC)."""
    return AwsMarket(clients, {r.offering_id: r for r in refs}, clock=clock or Clock())
