"""boto3 clients for Ladder: retry configuration, one call wrapper, logging, error mapping.

Every AWS call of the provider goes through :meth:`AwsClients.call`, which

* logs each call once it ends, on ``ladder.providers.aws``: INFO ``aws ok`` or WARNING
  ``aws failed``, with the operation, region, parameters (anything secret-looking
  masked), and the request id and botocore's retry count, or the error code;
* retries **throttling** with exponential backoff and full jitter, at most
  ``throttle_attempts`` times: a throttled request was refused before AWS acted on
  it, so sending it again can never do anything twice;
* turns every other failure into :class:`~providers.aws.errors.AwsProviderError`
  (a ``ProviderError`` with ``retryable``, ``retry_after_s`` and the AWS ``code``).

Two kinds of clients, because retrying is only safe for some calls:

* **idempotent** calls (every read, and the writes that carry a ``clientToken``:
  ``CreateSavingsPlan``, ``ReturnSavingsPlan``) use botocore's retry mode
  (``standard`` or ``adaptive``, ``max_attempts``): botocore retries throttling,
  5xx answers and connection errors with its own backoff;
* **non-idempotent** calls (``PurchaseReservedInstancesOffering`` and
  ``AcceptReservedInstancesExchangeQuote``, which have no idempotency token) use
  a client with ``total_max_attempts=1``: botocore must not send them again after a
  5xx or a lost answer, because the first one may have bought. Only Ladder's
  throttling retry applies; an unknown outcome is reported with
  ``outcome_unknown=True`` and the market looks the order up before any retry.

Ladder's throttling loop also runs over the idempotent clients: it is the outer
layer for sustained throttling (botocore's attempts are spent within seconds),
and it is what runs when botocore's HTTP layer is replaced, as with ``Stubber``.

Credentials come only from boto3's standard chain; the session is built from a
profile *name* at most, and nothing here reads, stores or logs a key.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from providers.aws.config import AwsSettings
from providers.aws.errors import (
    MAX_BACKOFF_S,
    AwsProviderError,
    is_throttling,
    to_provider_error,
)

log = logging.getLogger("ladder.providers.aws")

ClientFactory = Callable[[str, str, Config], Any]
"""Makes a botocore client from (service, region, config); the default uses the boto3 session."""

_SECRET_WORDS = ("secret", "password", "credential", "sessiontoken", "accesskey", "authorization")
_MAX_LOGGED_CHARS = 200


def _masked(value: Any) -> Any:
    """A copy of request parameters for the log: secret-looking keys masked, long values cut."""
    if isinstance(value, Mapping):
        return {
            key: "***" if any(word in str(key).lower() for word in _SECRET_WORDS) else _masked(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        shown = [_masked(item) for item in value[:10]]
        return [*shown, f"... {len(value) - 10} more"] if len(value) > 10 else shown
    if value is None or isinstance(value, bool | int | float):
        return value
    text = str(value)
    return text if len(text) <= _MAX_LOGGED_CHARS else text[:_MAX_LOGGED_CHARS] + "..."


class AwsClients:
    """botocore clients per (service, region, kind) and the one way Ladder calls them."""

    def __init__(
        self,
        settings: AwsSettings | None = None,
        *,
        session: boto3.session.Session | None = None,
        client_factory: ClientFactory | None = None,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.settings = settings or AwsSettings()
        self._session = session
        self._factory = client_factory
        self._sleep = sleep
        self._jitter = jitter
        self._clients: dict[tuple[str, str, bool], Any] = {}

    @property
    def session(self) -> boto3.session.Session:
        """The boto3 session (created on first use, from the standard credential chain)."""
        if self._session is None:
            self._session = boto3.session.Session(profile_name=self.settings.profile)
        return self._session

    def has_credentials(self) -> bool:
        """Whether boto3's standard chain finds credentials (no AWS call is made)."""
        try:
            return self.session.get_credentials() is not None
        except BotoCoreError:
            return False

    def config(self, *, idempotent: bool) -> Config:
        """The botocore config of a client: retries for idempotent calls, none otherwise."""
        retries: dict[str, Any] = {
            "mode": self.settings.retry_mode,
            "total_max_attempts": self.settings.max_attempts if idempotent else 1,
        }
        return Config(
            retries=retries,
            connect_timeout=self.settings.connect_timeout_s,
            read_timeout=self.settings.read_timeout_s,
            user_agent_extra="ladder",
        )

    def client(self, service: str, region: str | None = None, *, idempotent: bool = True) -> Any:
        """The client of ``service`` in ``region`` (default: the home region), made once."""
        region = region or self.settings.home_region
        key = (service, region, idempotent)
        if key not in self._clients:
            config = self.config(idempotent=idempotent)
            if self._factory is not None:
                self._clients[key] = self._factory(service, region, config)
            else:
                self._clients[key] = self.session.client(service, region_name=region,
                                                         config=config)
        return self._clients[key]

    def call(
        self,
        service: str,
        operation: str,
        *,
        region: str | None = None,
        idempotent: bool = True,
        **params: Any,
    ) -> dict[str, Any]:
        """Call ``operation`` (botocore's snake_case name), logged, throttle-retried and mapped.

        Raises :class:`~providers.aws.errors.AwsProviderError` for any failure.
        """
        client = self.client(service, region, idempotent=idempotent)
        name = f"{service}.{client.meta.method_to_api_mapping.get(operation, operation)}"
        where = client.meta.region_name
        attempts = self.settings.throttle_attempts
        shown = _masked(params)
        for attempt in range(1, attempts + 1):
            log.debug("aws call %s region=%s params=%s", name, where, shown)
            started = time.monotonic()
            try:
                response: dict[str, Any] = getattr(client, operation)(**params)
            except (ClientError, BotoCoreError) as exc:
                if isinstance(exc, AssertionError):  # a Stubber's verdict on the request
                    raise
                elapsed = time.monotonic() - started
                if is_throttling(exc) and attempt < attempts:
                    delay = self._jitter() * min(MAX_BACKOFF_S, 2.0 ** attempt)
                    log.warning("aws throttled %s region=%s attempt=%d/%d: retrying in %.2f s",
                                name, where, attempt, attempts, delay)
                    self._sleep(delay)
                    continue
                error = to_provider_error(exc, name)
                log.warning("aws failed %s region=%s params=%s code=%s retryable=%s "
                            "after %.2f s", name, where, shown, error.code, error.retryable,
                            elapsed)
                raise error from exc
            meta = response.get("ResponseMetadata", {})
            log.info("aws ok %s region=%s params=%s request_id=%s retries=%s in %.2f s", name,
                     where, shown, meta.get("RequestId", "-"), meta.get("RetryAttempts", 0),
                     time.monotonic() - started)
            return response
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    def pages(
        self,
        service: str,
        operation: str,
        *,
        region: str | None = None,
        input_token: str | None = None,
        output_token: str | None = None,
        **params: Any,
    ) -> Iterator[dict[str, Any]]:
        """Every page of a listing, each page one :meth:`call`.

        The token names come from botocore's paginator model when the operation has
        one (``describe_reserved_instances_offerings``, ``get_products``); services
        without paginators (Savings Plans) name them: ``input_token="nextToken"``.
        """
        client = self.client(service, region)
        if input_token is None or output_token is None:
            if not client.can_paginate(operation):
                raise ValueError(f"{service}.{operation} has no paginator: name its tokens")
            model = client.get_paginator(operation)._pagination_cfg
            input_token = input_token or str(model["input_token"])
            output_token = output_token or str(model["output_token"])
        token: str | None = None
        seen: set[str] = set()
        while True:
            page_params = dict(params)
            if token:
                page_params[input_token] = token
            page = self.call(service, operation, region=region, **page_params)
            yield page
            token = page.get(output_token) or None
            if token is None:
                return
            if token in seen:  # a service echoing its token would loop forever
                raise AwsProviderError(f"AWS {service}.{operation} repeated a page token",
                                       code="RepeatedPageToken",
                                       operation=f"{service}.{operation}")
            seen.add(token)
