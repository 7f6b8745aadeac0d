"""AWS errors as Ladder's :class:`core.errors.ProviderError`, with the AWS error code.

botocore raises :class:`botocore.exceptions.ClientError` for an answer of the
service and :class:`botocore.exceptions.BotoCoreError` subclasses for everything
on this side of the wire (no credentials, no connection, a timeout). Both become
:class:`AwsProviderError`, a ``ProviderError`` that also says whether the call
may have taken effect (``outcome_unknown``): a 5xx answer or a lost response
means the service may have acted, so an order must be looked up before it is
placed again.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
    ReadTimeoutError,
)

from core.errors import ProviderError

THROTTLING_CODES: frozenset[str] = frozenset({
    # botocore's own list (botocore.retries.standard.ThrottledRetryableChecker).
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
})
"""Codes of a request that AWS refused to process because of its rate: safe to send again."""

TRANSIENT_CODES: frozenset[str] = frozenset({
    "InternalError",
    "InternalFailure",
    "InternalServerError",
    "InternalServerException",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "Unavailable",
    "RequestTimeout",
    "RequestTimeoutException",
})
"""Codes of a failure on AWS's side: trying again may help, but the call may have acted."""

ACCESS_DENIED_CODES: frozenset[str] = frozenset({
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "AuthFailure",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "ExpiredTokenException",
    "OptInRequired",
})
"""Codes meaning the credentials cannot do this call."""

MAX_BACKOFF_S = 20.0


class AwsProviderError(ProviderError):
    """A failed AWS call: the ``ProviderError`` fields plus where and how it failed."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = False,
        retry_after_s: float | None = None,
        code: str | None = None,
        operation: str = "",
        http_status: int | None = None,
        outcome_unknown: bool = False,
    ) -> None:
        super().__init__(message, retryable=retryable, retry_after_s=retry_after_s, code=code)
        self.operation = operation
        self.http_status = http_status
        self.outcome_unknown = outcome_unknown

    @property
    def access_denied(self) -> bool:
        """Whether AWS refused the call for lack of permission (or of valid credentials)."""
        return self.code in ACCESS_DENIED_CODES


def error_code(exc: ClientError) -> str:
    """The AWS error code of a service answer (``"Unknown"`` when it has none)."""
    return str(exc.response.get("Error", {}).get("Code") or "Unknown")


def http_status(exc: ClientError) -> int | None:
    """The HTTP status of a service answer, when botocore recorded it."""
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return int(status) if status is not None else None


def is_throttling(exc: BaseException) -> bool:
    """Whether ``exc`` is AWS refusing a request for its rate (nothing was done)."""
    if not isinstance(exc, ClientError):
        return False
    return error_code(exc) in THROTTLING_CODES or http_status(exc) == 429


def _retry_after(exc: ClientError) -> float | None:
    headers: dict[str, Any] = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    value = headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def to_provider_error(exc: Exception, operation: str) -> AwsProviderError:
    """Map a botocore exception of ``operation`` (``ec2.DescribeReservedInstances``)."""
    if isinstance(exc, AwsProviderError):
        return exc
    if isinstance(exc, ClientError):
        code = error_code(exc)
        status = http_status(exc)
        message = str(exc.response.get("Error", {}).get("Message") or "")
        throttled = is_throttling(exc)
        transient = code in TRANSIENT_CODES or (status is not None and status >= 500)
        retry_after = _retry_after(exc)
        if throttled and retry_after is None:
            retry_after = MAX_BACKOFF_S
        return AwsProviderError(
            f"AWS {operation} failed: {code}: {message}".rstrip(": "),
            retryable=throttled or transient,
            retry_after_s=retry_after,
            code=code,
            operation=operation,
            http_status=status,
            outcome_unknown=transient and not throttled,
        )
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return AwsProviderError(
            f"AWS {operation}: no usable credentials in boto3's standard chain",
            code="NoCredentials", operation=operation,
        )
    if isinstance(exc, NoRegionError):
        return AwsProviderError(f"AWS {operation}: no region configured", code="NoRegion",
                                operation=operation)
    if isinstance(exc, ParamValidationError):
        return AwsProviderError(f"AWS {operation}: invalid request: {exc}",
                                code="ParamValidation", operation=operation)
    if isinstance(exc, EndpointConnectionError | ConnectTimeoutError):
        # The request never reached AWS: nothing can have happened.
        return AwsProviderError(f"AWS {operation}: cannot connect: {exc}", retryable=True,
                                code=type(exc).__name__, operation=operation)
    if isinstance(exc, ReadTimeoutError | ConnectionClosedError):
        # The request was sent and the answer lost: it may have taken effect.
        return AwsProviderError(f"AWS {operation}: no answer: {exc}", retryable=True,
                                code=type(exc).__name__, operation=operation,
                                outcome_unknown=True)
    if isinstance(exc, BotoCoreError):
        return AwsProviderError(f"AWS {operation}: {exc}", retryable=True,
                                code=type(exc).__name__, operation=operation,
                                outcome_unknown=True)
    return AwsProviderError(f"AWS {operation}: {type(exc).__name__}: {exc}",
                            code=type(exc).__name__, operation=operation, outcome_unknown=True)
