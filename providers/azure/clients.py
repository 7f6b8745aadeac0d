"""The Azure SDK clients Ladder uses, built one way for production and tests.

* ``ReservationsMgmtClient`` (azure-mgmt-reservations 3.x): reservations, their
  orders, prices, purchase, exchange and return;
* ``BillingBenefitsMgmtClient``: savings plans;
* an azure-core ``PipelineClient`` for the public Azure Retail Prices API.

All three share one retry policy, one call-logging policy and, when given, one
transport: tests pass a transport replaying recorded responses, so the SDK's
serialisation, paging, long-running-operation polling, error mapping and
retries all run. Credentials come from ``DefaultAzureCredential`` unless given.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from azure.core import PipelineClient
from azure.core.credentials import TokenCredential
from azure.core.pipeline import PipelineRequest, PipelineResponse
from azure.core.pipeline.policies import (
    ContentDecodePolicy,
    HeadersPolicy,
    RetryPolicy,
    SansIOHTTPPolicy,
    UserAgentPolicy,
)
from azure.core.pipeline.transport import HttpTransport
from azure.mgmt.billingbenefits import BillingBenefitsMgmtClient
from azure.mgmt.reservations import ReservationsMgmtClient

from providers.azure.settings import AzureSettings

PRICES_ENDPOINT = "https://prices.azure.com"
USER_AGENT = "ladder-commitment-optimizer"
_log = logging.getLogger("ladder.providers.azure")


class LadderRetryPolicy(RetryPolicy):
    """azure-core's retry policy, also retrying HTTP 429 on POST.

    The stock policy retries POST only on 500/503/504 (or when ``Retry-After`` is
    present), since a POST may not be idempotent. A 429 means the request was
    refused before any work, so retrying it is safe for every method.
    """

    def _is_method_retryable(self, settings: dict[str, Any], request: Any,
                             response: Any = None) -> bool:
        if response is not None and response.status_code == 429:
            return True
        return bool(super()._is_method_retryable(settings, request, response=response))


class CallLogPolicy(SansIOHTTPPolicy):
    """Logs every HTTP attempt (retries included): method, path, status, request id, time.

    Only the path is logged, never the query string's values beyond
    ``api-version``, nor any header but the service's request id: no token can leak.
    """

    def on_request(self, request: PipelineRequest) -> None:
        """Remember when the attempt started."""
        request.context["ladder_started"] = time.monotonic()

    def on_response(self, request: PipelineRequest,
                    response: PipelineResponse) -> None:
        """Log the attempt's outcome."""
        started = request.context.get("ladder_started", time.monotonic())
        http = response.http_response
        _log.info(
            "azure http %s %s -> %s in %d ms (x-ms-request-id %s)",
            request.http_request.method, urlsplit(request.http_request.url).path,
            http.status_code, round((time.monotonic() - started) * 1000),
            http.headers.get("x-ms-request-id", "-"),
        )

    def on_exception(self, request: PipelineRequest) -> None:
        """Log an attempt that got no answer."""
        _log.info("azure http %s %s -> no answer", request.http_request.method,
                  urlsplit(request.http_request.url).path)


@dataclass(frozen=True)
class AzureClients:
    """The SDK clients of one Azure tenant and billing subscription."""

    reservations: ReservationsMgmtClient
    benefits: BillingBenefitsMgmtClient
    prices: PipelineClient[Any, Any]


def retry_policy(settings: AzureSettings) -> LadderRetryPolicy:
    """The retry policy: throttling and transient errors with exponential backoff.

    ``Retry-After`` is honoured (the policy sleeps through the transport, so a
    test transport can record the waits instead of sleeping).
    """
    return LadderRetryPolicy(retry_total=settings.retry_total,
                             retry_backoff_factor=settings.retry_backoff_factor,
                             retry_backoff_max=settings.retry_backoff_max)


def make_clients(settings: AzureSettings, credential: TokenCredential | None = None,
                 transport: HttpTransport | None = None) -> AzureClients:
    """The clients, with DefaultAzureCredential unless a credential is given."""
    if credential is None:
        from azure.identity import DefaultAzureCredential

        credential = DefaultAzureCredential()
    common: dict[str, Any] = {
        "retry_policy": retry_policy(settings),
        "per_retry_policies": [CallLogPolicy()],
        "polling_interval": settings.polling_interval_s,
        "user_agent": USER_AGENT,
    }
    if transport is not None:
        common["transport"] = transport
    subscription = settings.subscription_ids[0] if settings.subscription_ids else ""
    reservations = ReservationsMgmtClient(credential, **common)
    benefits = BillingBenefitsMgmtClient(credential, subscription, **common)
    prices: PipelineClient[Any, Any] = PipelineClient(
        PRICES_ENDPOINT,
        policies=[HeadersPolicy(), UserAgentPolicy(USER_AGENT), ContentDecodePolicy(),
                  retry_policy(settings), CallLogPolicy()],
        transport=transport,
    )
    return AzureClients(reservations=reservations, benefits=benefits, prices=prices)
