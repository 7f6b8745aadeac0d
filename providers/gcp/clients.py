"""The google-cloud-compute clients Ladder uses, built one way for production and tests.

Clients use the REST transport. Credentials come from Application Default
Credentials unless given (tests pass anonymous ones). ``adapter`` mounts a
``requests`` transport adapter on every client's HTTP session: tests mount one
that replays recorded responses, so the real client, its request encoding, its
pagination and its error mapping all run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import requests
from google.api_core import retry as gretry
from google.auth import credentials as gcredentials
from google.cloud import compute_v1

from providers.gcp.errors import RETRYABLE
from providers.gcp.settings import GcpSettings

_log = logging.getLogger("ladder.providers.gcp")


@dataclass(frozen=True)
class GcpClients:
    """The compute clients of one project, and the authorised session behind them."""

    commitments: compute_v1.RegionCommitmentsClient
    operations: compute_v1.RegionOperationsClient
    session: requests.Session


def _transport(kind: type[Any], credentials: gcredentials.Credentials | None,
               adapter: requests.adapters.BaseAdapter | None) -> Any:
    transport = kind(credentials=credentials)
    if adapter is not None:
        # The REST transport's HTTP session (google.auth's AuthorizedSession) is where
        # requests go out; mounting there replays recordings below the whole SDK.
        transport._session.mount("https://", adapter)
    return transport


def make_clients(credentials: gcredentials.Credentials | None = None,
                 adapter: requests.adapters.BaseAdapter | None = None) -> GcpClients:
    """Region commitment and operation clients on the REST transport."""
    from google.cloud.compute_v1.services.region_commitments.transports.rest import (
        RegionCommitmentsRestTransport,
    )
    from google.cloud.compute_v1.services.region_operations.transports.rest import (
        RegionOperationsRestTransport,
    )

    commitments_transport = _transport(RegionCommitmentsRestTransport, credentials, adapter)
    operations_transport = _transport(RegionOperationsRestTransport, credentials, adapter)
    return GcpClients(
        commitments=compute_v1.RegionCommitmentsClient(transport=commitments_transport),
        operations=compute_v1.RegionOperationsClient(transport=operations_transport),
        session=commitments_transport._session,
    )


def make_retry(settings: GcpSettings) -> gretry.Retry:
    """The SDK retry policy: throttling and transient errors, exponential backoff.

    Safe for ``insert`` too: every insert carries a ``request_id``, so a retried
    insert that already reached GCP is answered with the first one's operation.
    """

    def on_error(exc: Exception) -> None:
        _log.info("gcp retrying after %s: %s", type(exc).__name__,
                  getattr(exc, "message", exc))

    return gretry.Retry(
        predicate=gretry.if_exception_type(*RETRYABLE),
        initial=settings.retry_initial_s,
        maximum=settings.retry_maximum_s,
        multiplier=2.0,
        timeout=settings.retry_timeout_s,
        on_error=on_error,
    )
