"""The provider protocol and the registry of providers.

Each cloud lives in its own sub-package and is imported lazily by the registry,
so that importing Ladder never imports a cloud SDK that is not used.
Providers return Ladder's own types, never SDK objects.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Protocol, runtime_checkable

from core.domain import Catalog, Commitment
from core.errors import InvalidInput, ProviderError


@runtime_checkable
class Provider(Protocol):
    """What Ladder needs from a cloud: usage, prices and the commitments it owns."""

    name: str

    def usage_paths(self) -> Sequence[Path]:
        """FOCUS files (CSV or Parquet) or folders holding this provider's billing usage."""
        ...

    def catalog(self) -> Catalog:
        """The usage keys with on-demand rates and the offerings that can be bought."""
        ...

    def inventory(self, at: datetime) -> Sequence[Commitment]:
        """Commitments owned and active at ``at`` (or starting later)."""
        ...


class OrderStatus(StrEnum):
    """Where a provider order stands."""

    ACTIVE = "active"          # bought and applying
    PENDING = "pending"        # accepted, not yet active (payment pending, queued)
    FAILED = "failed"          # refused by the provider
    NOT_FOUND = "not_found"    # the provider has no trace of it (safe to try again)


@dataclass(frozen=True, slots=True)
class PurchaseRequest:
    """Buy ``quantity`` of an offering; ``idempotency_key`` derives from the plan and action.

    ``limit_upfront`` caps the upfront price the provider may charge (AWS's
    ``LimitPrice``); ``start`` asks for a queued purchase at a later time.
    """

    idempotency_key: str
    offering_id: str
    quantity: float
    limit_upfront: float | None = None
    start: datetime | None = None


@dataclass(frozen=True, slots=True)
class ExchangeRequest:
    """Exchange convertible commitments for ``quantity`` of another offering.

    ``give_quantity`` is how many units of the (single) commitment are given up
    when not all of it is; None gives up the whole of every listed commitment
    (providers that exchange whole reservations only, as AWS, ignore it).
    """

    idempotency_key: str
    commitment_ids: tuple[str, ...]
    target_offering_id: str
    quantity: float
    give_quantity: float | None = None


@dataclass(frozen=True, slots=True)
class ReturnRequest:
    """Return (refund) a commitment while the provider still allows it."""

    idempotency_key: str
    commitment_id: str


@dataclass(frozen=True, slots=True)
class Quote:
    """What an order would cost, and whether the provider would accept it."""

    valid: bool
    upfront: float
    hourly: float
    currency: str = "USD"
    detail: str = ""


@dataclass(frozen=True, slots=True)
class OrderResult:
    """The provider's answer to an order, or to a look-up of an earlier one."""

    idempotency_key: str
    status: OrderStatus
    commitment_ids: tuple[str, ...] = ()
    detail: str = ""


@runtime_checkable
class Market(Protocol):
    """What Ladder needs to act on a cloud: quote, buy, exchange, return — and look first.

    Every order carries an idempotency key. ``find_order`` answers whether an
    order with that key already reached the provider, so that a retry after an
    unknown outcome looks before it buys (the executor's exactly-once rule).
    Errors are :class:`core.errors.ProviderError` with ``retryable`` set.
    """

    def quote_purchase(self, request: PurchaseRequest) -> Quote:
        """Price a purchase without making it."""
        ...

    def purchase(self, request: PurchaseRequest) -> OrderResult:
        """Place a purchase. Irreversible for most offerings: only the executor calls this."""
        ...

    def quote_exchange(self, request: ExchangeRequest) -> Quote:
        """Price an exchange of convertible commitments; ``valid`` says if it is allowed."""
        ...

    def exchange(self, request: ExchangeRequest) -> OrderResult:
        """Exchange convertible commitments."""
        ...

    def return_commitment(self, request: ReturnRequest) -> OrderResult:
        """Return a commitment inside the provider's return window."""
        ...

    def find_order(self, idempotency_key: str) -> OrderResult:
        """Whether an order with this key reached the provider, and its outcome."""
        ...


def is_irreversible(market: object) -> bool:
    """Whether a market's commitments can never be exchanged or returned once bought.

    A market says so with a class attribute ``irreversible = True`` (GCP commitments
    cannot be cancelled); markets without the attribute are reversible within the
    provider's own rules. The executor reads this before it buys.
    """
    return bool(getattr(market, "irreversible", False))


class ActionNotSupported(ProviderError):
    """The provider cannot do this at all (GCP commitments can be neither exchanged nor returned).

    Never retryable; ``code`` is ``"NotSupported"``.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False, code="NotSupported")


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One line of ``ladder providers check``: a credential or permission, whether it works."""

    name: str
    ok: bool
    detail: str = ""


@runtime_checkable
class Checkable(Protocol):
    """A provider that can say whether its credentials and permissions work, without buying."""

    def check(self) -> Sequence[CheckResult]:
        """Probe credentials and each permission Ladder needs; never raises for a failed probe."""
        ...


# name -> "module:factory"; the module is imported only when the provider is asked for.
_REGISTRY: dict[str, str] = {
    "sample": "providers.sample:SampleProvider",
    "aws": "providers.aws:AwsProvider",
    "azure": "providers.azure:AzureProvider",
    "gcp": "providers.gcp:GcpProvider",
}


def register(name: str, target: str) -> None:
    """Register a provider factory by dotted path (``module:attribute``)."""
    _REGISTRY[name] = target


def provider_names() -> list[str]:
    """Names of every registered provider."""
    return sorted(_REGISTRY)


NO_CATALOG: Mapping[str, str] = MappingProxyType({
    "oci": "OCI has no commitment catalog in Ladder yet: its cost lines and compute usage are "
           "stored for the reports, and nothing is planned or bought for OCI",
})
"""The clouds whose bills are stored without a provider (no catalog, no market) behind
them, and what to tell whoever asks for one."""


class UnknownProvider(InvalidInput, KeyError):
    """A provider name no provider is registered under (a KeyError too, for callers that
    look providers up as a mapping)."""

    def __str__(self) -> str:
        # KeyError's own __str__ would quote the message.
        return str(self.args[0]) if self.args else ""


def get_provider(name: str) -> Provider:
    """Instantiate the provider registered under ``name``."""
    try:
        target = _REGISTRY[name]
    except KeyError:
        why = f" ({NO_CATALOG[name]})" if name in NO_CATALOG else ""
        raise UnknownProvider(
            f"unknown provider {name!r}{why}; known: {', '.join(provider_names())}"
        ) from None
    module_name, _, attribute = target.partition(":")
    factory: Callable[[], Provider] = getattr(importlib.import_module(module_name), attribute)
    return factory()
