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

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Any

HOUR = timedelta(hours=1)
HOURS_PER_MONTH = 730.0

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$"
"""A provider's or a scope's name: letters, digits and ``. _ : @ -``, not starting with a
punctuation mark (so never ``../x``, a path, or text with spaces)."""
PROVIDER_NAME_MAX = 64
"""Longest provider name (its database columns hold 64)."""
SCOPE_NAME_MAX = 128
"""Longest scope name (its database columns hold 128)."""
_NAME = re.compile(NAME_PATTERN)


def check_name(value: str, *, what: str, max_length: int) -> str:
    """``value`` if it is a valid name of ``what`` (see :data:`NAME_PATTERN`), else ValueError.

    The API's parameters and the command line's options hold names to the same rule.
    """
    if not 1 <= len(value) <= max_length:
        raise ValueError(f"{what} {value[:80]!r} must have 1 to {max_length} characters, "
                         f"not {len(value)}")
    if not _NAME.match(value):
        raise ValueError(f"{what} {value!r} may hold only letters, digits and . _ : @ -, and "
                         "must start with a letter or digit")
    return value


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
    """What an action of a plan does.

    ``EXCHANGE`` trades an owned convertible commitment for another offering of at
    least the same value; ``RETURN`` hands back a spend commitment bought within
    the provider's return window.
    """

    PURCHASE = "purchase"
    EXCHANGE = "exchange"
    RETURN = "return"


class PlanStatus(StrEnum):
    """Where a plan stands (``executor.lifecycle`` says which transitions are allowed)."""

    DRAFT = "draft"
    PROPOSED = "proposed"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    EXECUTING = "executing"
    EXECUTED = "executed"
    PARTIALLY_EXECUTED = "partially_executed"
    FAILED = "failed"


class ActionStatus(StrEnum):
    """Where an action of a plan stands (the executor moves it): ``intent`` is committed
    before the provider is called, ``unknown`` when the call's outcome was lost,
    ``ordered`` when the provider accepted an order not yet active."""

    PENDING = "pending"
    INTENT = "intent"
    UNKNOWN = "unknown"
    ORDERED = "ordered"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"


class CommitmentSource(StrEnum):
    """Where a recorded commitment came from: the provider's inventory (or the bill), a
    plan's purchase, or units given up before their term (kept for their history)."""

    INVENTORY = "inventory"
    PLAN = "plan"
    ENDED = "ended"


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
        """Amortized cost of one unit per hour: upfront spread over the term plus hourly."""
        return self.upfront / self.term_hours + self.hourly

    @property
    def upfront_fraction(self) -> float:
        """Share of the amortized price paid up front."""
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
    """An owned offering: ``quantity`` units active for ``[start, start + term)``, or until
    ``ended_at`` when they were given up before their term (exchanged or returned): those
    units still count for the hours they were owned."""

    offering: Offering
    quantity: float
    start: datetime
    commitment_id: str = ""
    ended_at: datetime | None = None

    @property
    def end(self) -> datetime:
        """First hour at which the commitment is no longer active."""
        natural = self.start + self.offering.term_hours * HOUR
        return natural if self.ended_at is None else min(natural, self.ended_at)

    def is_active(self, hour: datetime) -> bool:
        """Whether the commitment applies to the hour starting at ``hour``."""
        return self.start <= hour < self.end


@dataclass(frozen=True, slots=True)
class ActionExplanation:
    """Why an action, in the figures of the scenarios it was decided on (dollars, units, hours).

    ``covered_units_per_hour`` is the usage it covers per hour in the median
    scenario; ``expected_utilisation`` the used share of what it commits, averaged
    over the scenarios; ``break_even_hours`` the hours after which its cumulative
    savings repay its upfront (``None``: never within its term, 0: from the first
    hour); ``savings_median`` and ``savings_bad`` what it saves over the horizon in
    the median scenario and in the bad one (the 10th percentile of its savings).
    """

    covered_units_per_hour: float
    expected_utilisation: float
    break_even_hours: float | None
    savings_median: float
    savings_bad: float
    horizon_hours: int

    @property
    def break_even_month(self) -> float | None:
        """Break-even in 730-hour months."""
        return None if self.break_even_hours is None else self.break_even_hours / HOURS_PER_MONTH

    def to_dict(self) -> dict[str, float | int | None]:
        """JSON-ready figures (for a plan's ``details``)."""
        return {
            "covered_units_per_hour": self.covered_units_per_hour,
            "expected_utilisation": self.expected_utilisation,
            "break_even_hours": self.break_even_hours,
            "break_even_month": self.break_even_month,
            "savings_median": self.savings_median,
            "savings_bad": self.savings_bad,
            "horizon_hours": self.horizon_hours,
        }


@dataclass(frozen=True, slots=True)
class Action:
    """One step of a plan: buy, exchange or return ``quantity`` of an offering, and why.

    For a purchase, ``upfront_cost`` is the cash paid now. For an exchange,
    ``commitment_id`` names the owned commitment given up, ``offering_id`` its
    offering and ``quantity`` the units given up; ``target_offering_id`` and
    ``target_quantity`` say what is received. For a return, ``commitment_id``,
    ``offering_id`` and ``quantity`` name what is handed back. ``cash_effect`` is
    the cash paid (positive) or refunded (negative) now, and ``explanation`` the
    figures behind the decision, when the optimizer computed them.
    """

    kind: ActionKind
    offering_id: str
    quantity: float
    upfront_cost: float
    hourly_cost: float
    amortized_hourly_cost: float
    reason: str = ""
    commitment_id: str = ""
    target_offering_id: str = ""
    target_quantity: float = 0.0
    cash_effect: float = 0.0
    explanation: ActionExplanation | None = None


@dataclass(frozen=True, slots=True)
class Plan:
    """What the optimizer proposes: actions and the numbers that justify them.

    Costs are over the evaluation window (``window_hours``) at amortized prices;
    ``monthly_commitment`` is new amortized commitment per 730-hour month.
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
    details: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def expected_savings(self) -> float:
        """Cost saved over the window by the plan's new commitments."""
        return self.cost_before - self.cost_after


_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")


def is_convertible(offering: Offering) -> bool:
    """Whether an offering is a convertible reservation (the only kind AWS exchanges)."""
    return offering.shape is Shape.UNIT and (
        "convertible" in offering.kind.lower() or offering.offering_id.startswith("ri-conv"))


def offering_regions(offering: Offering) -> frozenset[str]:
    """The regions of the keys an offering covers (from the keys' names)."""
    found: set[str] = set()
    for key in offering.eligible_keys:
        try:
            found.add(UsageKey.parse(key).region)
        except ValueError:
            found.update(part for part in key.split("/") if _REGION.match(part))
    return frozenset(found)


def can_exchange(old: Offering, new: Offering) -> bool:
    """AWS's rule on what a convertible reservation may become: another convertible one,
    in the same region (the value rule, new worth at least old, is the caller's)."""
    return (is_convertible(old) and is_convertible(new) and old.offering_id != new.offering_id
            and bool(offering_regions(old)) and offering_regions(old) == offering_regions(new))
