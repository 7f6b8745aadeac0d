"""Azure errors as Ladder's ProviderError, and the refusal of a return above the refund limit."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)

from core.errors import PolicyViolation, ProviderError
from providers.calllog import Call, logged_call

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})


class RefundLimitExceeded(ProviderError, PolicyViolation):
    """A return would exceed Azure's rolling 12-month refund limit (USD 50,000): refused.

    It is both a ProviderError (not retryable: the limit frees up only as earlier
    refunds age out of the 12 months) and a PolicyViolation.
    """

    status_code = 403
    title = "Refund limit exceeded"

    def __init__(self, message: str, *, remaining: float, refund: float) -> None:
        super().__init__(message, retryable=False, code="RefundLimitExceeded")
        self.remaining = remaining
        self.refund = refund


def _retry_after(response: Any) -> float | None:
    headers = getattr(response, "headers", None) or {}
    value = headers.get("Retry-After") if hasattr(headers, "get") else None
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _code(exc: HttpResponseError) -> str:
    error = getattr(exc, "error", None)
    code = getattr(error, "code", None)
    if code:
        return str(code)
    status = getattr(exc, "status_code", None)
    return f"HTTP{status}" if status else type(exc).__name__


def to_provider_error(exc: AzureError, action: str) -> ProviderError:
    """The ProviderError for a failed Azure call (its message never holds a token)."""
    if isinstance(exc, ClientAuthenticationError):
        return ProviderError(f"Azure {action}: authentication failed ({exc.message})",
                             retryable=False, code="AuthenticationFailed")
    if isinstance(exc, HttpResponseError):
        status = exc.status_code or 0
        error = getattr(exc, "error", None)
        message = getattr(error, "message", None) or exc.reason or exc.message
        return ProviderError(
            f"Azure {action}: HTTP {status} {_code(exc)}: {message}",
            retryable=status in RETRYABLE_STATUS,
            retry_after_s=_retry_after(exc.response), code=_code(exc),
        )
    if isinstance(exc, ServiceRequestError):
        return ProviderError(f"Azure {action}: the request was not sent ({exc.message})",
                             retryable=True, code="RequestNotSent")
    if isinstance(exc, ServiceResponseError):
        # The request went out and its answer was lost: the order may exist.
        return ProviderError(f"Azure {action}: outcome unknown ({exc.message})",
                             retryable=True, code="UnknownOutcome")
    return ProviderError(f"Azure {action}: {type(exc).__name__}: {exc}", retryable=True,
                         code=type(exc).__name__)


@contextmanager
def azure_call(operation: str, /, **params: Any) -> Iterator[Call]:
    """A logged Azure call (see :func:`providers.calllog.logged_call`) raising ProviderError."""
    try:
        with logged_call("azure", operation, **params) as call:
            yield call
    except AzureError as exc:
        raise to_provider_error(exc, operation) from exc
