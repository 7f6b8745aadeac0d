"""GCP errors as Ladder's ProviderError, and which of them are worth retrying."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests
from google.api_core import exceptions as gexc

from core.errors import ProviderError
from providers.calllog import Call, logged_call

RETRYABLE: tuple[type[Exception], ...] = (
    gexc.TooManyRequests,       # 429: throttled, nothing done
    gexc.InternalServerError,   # 500
    gexc.BadGateway,            # 502
    gexc.ServiceUnavailable,    # 503
    gexc.GatewayTimeout,        # 504
    gexc.DeadlineExceeded,
)
"""Errors the SDK's retry policy retries: throttling and transient server errors."""


CALL_ERRORS: tuple[type[Exception], ...] = (
    gexc.GoogleAPICallError, gexc.RetryError, requests.RequestException,
)
"""What a compute client call can raise: API errors, exhausted retries, lost connections."""


def is_retryable(exc: BaseException) -> bool:
    """Whether a retry of the same request may succeed."""
    return isinstance(exc, RETRYABLE)


def retry_after(exc: BaseException) -> float | None:
    """The ``Retry-After`` seconds of the HTTP response behind ``exc``, if any."""
    response: Any = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) or {}
    value = headers.get("Retry-After") if hasattr(headers, "get") else None
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def error_code(exc: BaseException) -> str:
    """The most specific code GCP gave: the error reason (``QUOTA_EXCEEDED``) or the status."""
    reason = getattr(exc, "reason", None)
    if reason:
        return str(reason)
    errors = getattr(exc, "errors", None) or []
    for item in errors:
        if isinstance(item, dict) and item.get("reason"):
            return str(item["reason"])
    code = getattr(exc, "code", None)
    name = getattr(code, "name", None)
    return str(name or code or type(exc).__name__)


def to_provider_error(exc: Exception, action: str) -> ProviderError:
    """The ProviderError for a failed GCP call (never with credentials in its message)."""
    if isinstance(exc, gexc.RetryError):
        cause = exc.cause if isinstance(exc.cause, Exception) else exc
        return ProviderError(
            f"GCP {action}: gave up after retries ({type(cause).__name__}: "
            f"{getattr(cause, 'message', cause)})",
            retryable=True, retry_after_s=retry_after(cause), code=error_code(cause),
        )
    if isinstance(exc, gexc.GoogleAPICallError):
        return ProviderError(
            f"GCP {action}: {exc.code} {exc.message}",
            retryable=is_retryable(exc), retry_after_s=retry_after(exc), code=error_code(exc),
        )
    # The connection failed or the answer was lost: the request may or may not have
    # reached GCP. Retryable, and a purchase must look (find_order) before buying again.
    return ProviderError(f"GCP {action}: outcome unknown ({type(exc).__name__}: {exc})",
                         retryable=True, code="UnknownOutcome")


@contextmanager
def gcp_call(operation: str, /, **params: Any) -> Iterator[Call]:
    """A logged GCP call (see :func:`providers.calllog.logged_call`) raising ProviderError."""
    try:
        with logged_call("gcp", operation, **params) as call:
            yield call
    except CALL_ERRORS as exc:
        raise to_provider_error(exc, operation) from exc
