"""Buying GCP resource-based commitments, exactly once, and looking orders up.

A purchase is one ``regionCommitments.insert``. Its idempotency rests on two
names derived from the action's idempotency key, so that nothing needs to be
stored before the call:

* ``request_id`` = UUID5 of the key: GCP answers a repeated insert with the
  operation of the first one, so the SDK may retry an insert whose answer was
  lost (throttling, 5xx, a dropped connection) without buying twice;
* the commitment ``name`` = ``ladder-`` + the same UUID's hex: a later retry of
  the whole purchase, after the request-id window, fails with ``alreadyExists``
  instead of buying again, and :meth:`GcpMarket.find_order` finds the commitment
  by that name.

Commitments cannot be cancelled, exchanged or returned: the market is
``irreversible`` and those actions raise :class:`providers.base.ActionNotSupported`.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import compute_v1

from core.errors import ProviderError
from providers.base import (
    ActionNotSupported,
    ExchangeRequest,
    OrderResult,
    OrderStatus,
    PurchaseRequest,
    Quote,
    ReturnRequest,
)
from providers.calllog import logged_call
from providers.gcp.catalog import CudOffering
from providers.gcp.clients import GcpClients, make_retry
from providers.gcp.errors import CALL_ERRORS, gcp_call, to_provider_error
from providers.gcp.pricing import MB_PER_GIB, load_prices
from providers.gcp.settings import GcpSettings

LADDER_NAMESPACE = uuid.UUID("6b1d7a52-4d0e-5b7e-9c44-1a2f3e4d5c6b")
"""UUID5 namespace of Ladder's idempotency keys (fixed forever: names derive from it)."""
MEMORY_STEP_MB = 256
"""Memory is committed in MB; Ladder buys whole multiples of 256 MB (a quarter GiB)."""

_STATUS: dict[str, OrderStatus] = {
    "ACTIVE": OrderStatus.ACTIVE,
    "EXPIRED": OrderStatus.ACTIVE,       # it was bought: the order did happen
    "NOT_YET_ACTIVE": OrderStatus.PENDING,
    "CREATING": OrderStatus.PENDING,
    "CANCELLED": OrderStatus.FAILED,
}


def request_id(idempotency_key: str) -> str:
    """The insert's ``request_id``: a UUID5 of the idempotency key."""
    return str(uuid.uuid5(LADDER_NAMESPACE, idempotency_key))


def commitment_name(idempotency_key: str) -> str:
    """The commitment's name: ``ladder-`` and the hex of the key's UUID5 (39 characters)."""
    return "ladder-" + uuid.uuid5(LADDER_NAMESPACE, idempotency_key).hex


def commitment_id(region: str, name: str) -> str:
    """Ladder's id of a GCP commitment: ``<region>/<name>``."""
    return f"{region}/{name}"


@dataclass(frozen=True, slots=True)
class _Order:
    spec: CudOffering
    amount: int


def _order(request: PurchaseRequest) -> _Order:
    """Validate a purchase request into what GCP is asked for (resource amount)."""
    try:
        spec = CudOffering.parse(request.offering_id)
    except ValueError as exc:
        raise ProviderError(str(exc), retryable=False, code="UnknownOffering") from exc
    if request.quantity <= 0:
        raise ProviderError(f"quantity must be > 0, got {request.quantity}", retryable=False,
                            code="InvalidQuantity")
    if request.start is not None:
        raise ProviderError("GCP commitments start when bought; queued purchases are not "
                            "supported", retryable=False, code="InvalidStart")
    if spec.resource == "vcpu":
        if request.quantity != int(request.quantity):
            raise ProviderError(f"vCPU commitments are whole vCPUs, got {request.quantity}",
                                retryable=False, code="InvalidQuantity")
        return _Order(spec, int(request.quantity))
    megabytes = request.quantity * MB_PER_GIB
    if megabytes % MEMORY_STEP_MB:
        raise ProviderError(f"memory commitments are multiples of 0.25 GiB, got "
                            f"{request.quantity} GiB", retryable=False, code="InvalidQuantity")
    return _Order(spec, int(megabytes))


class GcpMarket:
    """Quote and buy GCP commitments of one project; they can never be undone."""

    irreversible = True
    """GCP commitments cannot be cancelled, exchanged or returned once bought."""

    def __init__(self, settings: GcpSettings, project: str, clients: GcpClients) -> None:
        self.settings = settings
        self.project = project
        self.clients = clients
        self._retry = make_retry(settings)

    def quote_purchase(self, request: PurchaseRequest) -> Quote:
        """List price of a commitment from the bundled prices (GCP has no quote call)."""
        try:
            order = _order(request)
        except ProviderError as exc:
            return Quote(valid=False, upfront=0.0, hourly=0.0, detail=str(exc))
        spec = order.spec
        for price in load_prices():
            if (price.region, price.series, price.resource) == (
                    spec.region, spec.series, spec.resource):
                hourly = price.commitment_hourly(spec.plan) * request.quantity
                return Quote(valid=True, upfront=0.0, hourly=hourly,
                             detail="list price; billed monthly; cannot be cancelled")
        return Quote(valid=False, upfront=0.0, hourly=0.0,
                     detail=f"no price for {spec.series} {spec.resource} in {spec.region}")

    def purchase(self, request: PurchaseRequest) -> OrderResult:
        """Insert the commitment (idempotent by request id and name) and wait for it."""
        order = _order(request)
        spec = order.spec
        name = commitment_name(request.idempotency_key)
        resource = compute_v1.ResourceCommitment(
            type_="VCPU" if spec.resource == "vcpu" else "MEMORY", amount=order.amount)
        commitment = compute_v1.Commitment(
            name=name, plan=spec.plan, type_=spec.commitment_type, resources=[resource],
            description=f"Ladder purchase {request.idempotency_key}"[:2048],
        )
        try:
            with logged_call("gcp", "regionCommitments.insert", project=self.project,
                             region=spec.region, commitment=name, plan=spec.plan,
                             type=spec.commitment_type, amount=order.amount,
                             idempotency_key=request.idempotency_key) as call:
                operation = self.clients.commitments.insert_unary(
                    request=compute_v1.InsertRegionCommitmentRequest(
                        project=self.project, region=spec.region,
                        commitment_resource=commitment,
                        request_id=request_id(request.idempotency_key)),
                    retry=self._retry)
                call.note(operation=operation.name, status=operation.status.name)
        except gexc.Conflict:
            # The name exists: an earlier attempt with this key bought it. Report that one.
            return self.find_order(request.idempotency_key)
        except CALL_ERRORS as exc:
            raise to_provider_error(exc, "regionCommitments.insert") from exc
        operation = self._wait(spec.region, operation)
        if operation.status != compute_v1.Operation.Status.DONE:
            return OrderResult(request.idempotency_key, OrderStatus.PENDING,
                               (commitment_id(spec.region, name),),
                               detail=f"operation {operation.name} still running")
        if operation.error and operation.error.errors:
            first = operation.error.errors[0]
            if first.code == "RESOURCE_ALREADY_EXISTS":
                return self.find_order(request.idempotency_key)
            return OrderResult(request.idempotency_key, OrderStatus.FAILED,
                               detail=f"{first.code}: {first.message}")
        return self.find_order(request.idempotency_key)

    def _wait(self, region: str, operation: compute_v1.Operation) -> compute_v1.Operation:
        """Wait for a region operation (GCP's ``wait`` blocks up to two minutes per call)."""
        deadline = time.monotonic() + self.settings.operation_timeout_s
        while (operation.status != compute_v1.Operation.Status.DONE
               and time.monotonic() < deadline):
            with gcp_call("regionOperations.wait", project=self.project,
                          region=region, operation=operation.name) as call:
                operation = self.clients.operations.wait(
                    project=self.project, region=region, operation=operation.name,
                    retry=self._retry)
                call.note(status=operation.status.name)
        return operation

    def find_order(self, idempotency_key: str) -> OrderResult:
        """The commitment bought with this key, found by its derived name in any region."""
        name = commitment_name(idempotency_key)
        found = self._find(name)
        if found is None:
            return OrderResult(idempotency_key, OrderStatus.NOT_FOUND)
        region, commitment = found
        status = _STATUS.get(commitment.status, OrderStatus.PENDING)
        return OrderResult(idempotency_key, status, (commitment_id(region, name),),
                           detail=f"{commitment.status}: {commitment.status_message}".strip(": "))

    def _find(self, name: str) -> tuple[str, Any] | None:
        with gcp_call("regionCommitments.aggregatedList", project=self.project,
                      filter=name) as call:
            pages = self.clients.commitments.aggregated_list(
                request=compute_v1.AggregatedListRegionCommitmentsRequest(
                    project=self.project, filter=f'name = "{name}"'),
                retry=self._retry)
            for scope, scoped in pages:
                for commitment in scoped.commitments:
                    if commitment.name == name:
                        call.note(found=scope)
                        return scope.removeprefix("regions/"), commitment
        return None

    def quote_exchange(self, request: ExchangeRequest) -> Quote:
        """GCP commitments cannot be exchanged."""
        raise ActionNotSupported("GCP commitments cannot be exchanged")

    def exchange(self, request: ExchangeRequest) -> OrderResult:
        """GCP commitments cannot be exchanged."""
        raise ActionNotSupported("GCP commitments cannot be exchanged")

    def return_commitment(self, request: ReturnRequest) -> OrderResult:
        """GCP commitments cannot be cancelled or returned."""
        raise ActionNotSupported("GCP commitments cannot be cancelled or returned")
