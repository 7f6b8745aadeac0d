"""The executor's calls to a provider's market, and the one retry loop they all go through.

:func:`call_with_retries` calls until the provider answers, its error says trying again
will not help, or the attempts are spent, sleeping :meth:`RetryPolicy.delay` between
attempts (the provider's ``retry_after_s`` when it gives one). Quotes and ``find_order``
use it as it is; placing an order uses it with an ``on_error`` hook that looks before
it buys again (:mod:`executor.placement`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from core.errors import ProviderError
from core.settings import Settings
from providers.base import (
    ExchangeRequest,
    Market,
    OrderResult,
    PurchaseRequest,
    Quote,
    ReturnRequest,
)

T = TypeVar("T")

Request = PurchaseRequest | ExchangeRequest | ReturnRequest
"""What one action asks of the provider."""

Sleep = Callable[[float], None]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently provider calls are retried."""

    attempts: int = 5
    base_s: float = 1.0
    max_s: float = 60.0

    def delay(self, attempt: int, error: ProviderError | None = None) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based)."""
        if error is not None and error.retry_after_s is not None:
            return min(float(error.retry_after_s), self.max_s)
        return min(self.base_s * 2 ** (attempt - 1), self.max_s)

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        """The retry policy the settings ask for."""
        return cls(attempts=settings.provider_retry_attempts,
                   base_s=settings.provider_retry_base_s)


def call_with_retries(
    call: Callable[[], T], retry: RetryPolicy, sleep: Sleep, *,
    on_error: Callable[[ProviderError, bool], bool] | None = None,
) -> T | ProviderError:
    """``call()``'s answer, or the last :class:`ProviderError` when it never answered.

    A failed attempt is retried, after ``retry.delay``, while the error is retryable and
    attempts are left. ``on_error(error, final)`` runs after every failed attempt
    (``final``: no retry follows) and can stop the retries by returning False. Any other
    exception propagates at once.
    """
    error = ProviderError("no attempt made")
    for attempt in range(1, retry.attempts + 1):
        try:
            return call()
        except ProviderError as exc:
            error = exc
            final = not exc.retryable or attempt == retry.attempts
            if (on_error is not None and not on_error(exc, final)) or final:
                return exc
            sleep(retry.delay(attempt, exc))
    return error


@dataclass(frozen=True, slots=True)
class ProviderCalls:
    """One market's calls as the executor makes them: looked up and quoted with retries,
    placed once per call (a retry of a placement must look first)."""

    market: Market
    retry: RetryPolicy
    sleep: Sleep

    def find_order(self, key: str) -> OrderResult | None:
        """``find_order`` with retries; None when the provider could not answer."""
        found = call_with_retries(lambda: self.market.find_order(key), self.retry, self.sleep)
        return None if isinstance(found, ProviderError) else found

    def quote(self, request: Request) -> Quote | ProviderError | None:
        """The request's quote with retries; the last error when it never answered.

        None for a return, which providers do not quote.
        """
        if isinstance(request, ReturnRequest):
            return None
        if isinstance(request, ExchangeRequest):
            exchange = request
            return call_with_retries(lambda: self.market.quote_exchange(exchange), self.retry,
                                     self.sleep)
        purchase = request
        return call_with_retries(lambda: self.market.quote_purchase(purchase), self.retry,
                                 self.sleep)

    def place(self, request: Request) -> OrderResult:
        """Place the order: the one provider call that commits money (no retry here)."""
        if isinstance(request, ExchangeRequest):
            return self.market.exchange(request)
        if isinstance(request, ReturnRequest):
            return self.market.return_commitment(request)
        return self.market.purchase(request)
