"""Ladder's domain vocabulary: usage keys, offerings, commitments, plans and actions.

These frozen values cross package boundaries. Every cloud's discount instrument
is one of two shapes (DESIGN.md, "The common model of a commitment"):

* a **unit** offering covers, each hour, up to ``covers[key]`` units of usage of
  the listed keys together, per unit bought (weights express size flexibility);
* a **spend** offering is one dollar per hour of commitment; covering one
  unit-hour of ``key`` consumes ``rates[key]`` dollars of it.

Money is float64 everywhere inside; rounding happens only at the edges.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Any

HOUR = timedelta(hours=1)


class Shape(StrEnum):
    """The two shapes every commitment reduces to."""

    UNIT = "unit"
    SPEND = "spend"


class PaymentOption(StrEnum):
    """How much of a commitment's price is paid up front."""

    NO_UPFRONT = "no_upfront"
    PARTIAL_UPFRONT = "partial_upfront"
    ALL_UPFRONT = "all_upfront"


class ActionKind(StrEnum):
    """What an action of a plan does."""

    PURCHASE = "purchase"


@dataclass(frozen=True, slots=True)
class UsageKey:
    """One homogeneous stream of usage, measured in normalised units per hour.

    Its string form (``str(key)``) is the identifier used in traces, catalogs and
    the database: ``provider/scope/service/region/family/platform/tenancy``.
    """

    provider: str
    scope: str
    service: str
    region: str
    family: str
    platform: str = "linux"
    tenancy: str = "shared"

    def __str__(self) -> str:
        return "/".join(
            (self.provider, self.scope, self.service, self.region, self.family,
             self.platform, self.tenancy)
        )

    @classmethod
    def parse(cls, text: str) -> UsageKey:
        """Parse the seven-part string form back into a key."""
        parts = text.split("/")
        if len(parts) != 7 or not all(parts):
            raise ValueError(
                f"usage key {text!r} must have 7 non-empty parts: "
                "provider/scope/service/region/family/platform/tenancy"
            )
        return cls(*parts)


@dataclass(frozen=True, slots=True)
class KeyPrice:
    """A usage key with its on-demand price per normalised unit-hour."""

    usage_key: str
    on_demand_rate: float


def _frozen(mapping: Mapping[str, float] | None) -> Mapping[str, float]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True, slots=True)
class Offering:
    """Something that can be bought: a commitment type, scope, term and payment option.

    ``upfront`` is dollars paid once per unit bought and ``hourly`` dollars paid
    every hour of the term per unit. For a spend offering one unit is one
    committed dollar per hour, so ``upfront / term_hours + hourly == 1``.
    """

    offering_id: str
    shape: Shape
    term_hours: int
    upfront: float
    hourly: float
    order: int
    covers: Mapping[str, float] = field(default_factory=lambda: _frozen(None))
    rates: Mapping[str, float] = field(default_factory=lambda: _frozen(None))
    payment_option: PaymentOption = PaymentOption.NO_UPFRONT
    kind: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "covers", _frozen(self.covers))
        object.__setattr__(self, "rates", _frozen(self.rates))

    @property
    def amortized_hourly(self) -> float:
        """Amortised cost of one unit per hour: upfront spread over the term plus hourly."""
        return self.upfront / self.term_hours + self.hourly

    @property
    def upfront_fraction(self) -> float:
        """Share of the amortised price paid up front."""
        total = self.upfront + self.hourly * self.term_hours
        return self.upfront / total if total > 0 else 0.0

    @property
    def eligible_keys(self) -> tuple[str, ...]:
        """The usage keys this offering can cover."""
        return tuple(self.covers if self.shape is Shape.UNIT else self.rates)

    @classmethod
    def spend(
        cls,
        offering_id: str,
        *,
        term_hours: int,
        upfront_fraction: float,
        rates: Mapping[str, float],
        order: int,
        **extra: Any,
    ) -> Offering:
        """Build a spend offering from its upfront fraction (one unit = $1/h committed)."""
        return cls(
            offering_id=offering_id,
            shape=Shape.SPEND,
            term_hours=term_hours,
            upfront=upfront_fraction * term_hours,
            hourly=1.0 - upfront_fraction,
            order=order,
            rates=rates,
            **extra,
        )


@dataclass(frozen=True, slots=True)
class Catalog:
    """The keys Ladder knows with their on-demand rates, and the offerings it can buy."""

    keys: tuple[KeyPrice, ...]
    offerings: tuple[Offering, ...]
    currency: str = "USD"
    source: str = ""

    @property
    def key_ids(self) -> tuple[str, ...]:
        """Usage key identifiers in catalog order (the engine's tie-break order)."""
        return tuple(k.usage_key for k in self.keys)

    def on_demand_rates(self) -> dict[str, float]:
        """On-demand rate per usage key."""
        return {k.usage_key: k.on_demand_rate for k in self.keys}

    def offering(self, offering_id: str) -> Offering:
        """Look an offering up by id, with a clear error when it is unknown."""
        for offering in self.offerings:
            if offering.offering_id == offering_id:
                return offering
        raise KeyError(f"unknown offering {offering_id!r}")


@dataclass(frozen=True, slots=True)
class Commitment:
    """An owned offering: ``quantity`` units active for ``[start, start + term)``."""

    offering: Offering
    quantity: float
    start: datetime
    commitment_id: str = ""

    @property
    def end(self) -> datetime:
        """First hour at which the commitment is no longer active."""
        return self.start + self.offering.term_hours * HOUR

    def is_active(self, hour: datetime) -> bool:
        """Whether the commitment applies to the hour starting at ``hour``."""
        return self.start <= hour < self.end


@dataclass(frozen=True, slots=True)
class Action:
    """One step of a plan: buy ``quantity`` of an offering, with the reason why."""

    kind: ActionKind
    offering_id: str
    quantity: float
    upfront_cost: float
    hourly_cost: float
    amortized_hourly_cost: float
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Plan:
    """What the optimizer proposes: actions and the numbers that justify them.

    Costs are over the evaluation window (``window_hours``) at amortised prices;
    ``monthly_commitment`` is new amortised commitment per 730-hour month.
    """

    actions: tuple[Action, ...]
    window_start: datetime
    window_hours: int
    on_demand_equivalent: float
    cost_before: float
    cost_after: float
    esr_before: float
    esr_after: float
    upfront_cash: float
    monthly_commitment: float
    solver_status: str = "Optimal"
    created_at: datetime | None = None

    @property
    def expected_savings(self) -> float:
        """Cost saved over the window by the plan's new commitments."""
        return self.cost_before - self.cost_after


HOURS_PER_MONTH = 730.0
