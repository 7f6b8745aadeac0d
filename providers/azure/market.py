"""Buying, exchanging and returning Azure reservations (and buying savings plans), exactly once.

**Purchase** is ``reservation_order.calculate`` (which hands out a new
reservation order id) then ``reservation_order.begin_purchase`` (a PUT to that
id, idempotent). The id is written to the order journal between the two, so a
retry of the same action re-uses it: it first looks the order up
(``reservation_order.get``) and only PUTs again, to the same id, if Azure has no
such order. The order's display name is derived from the idempotency key, so
that :meth:`AzureMarket.find_order` can still find it by listing the orders if
the journal was lost.

**Savings plans** are bought through a savings plan order alias whose name is
derived from the idempotency key: a PUT to a fixed name, idempotent by itself.

**Exchange** is ``calculate_exchange.begin_post`` (a session, refused when the
policy result has errors) then ``exchange.begin_post`` with that session.
**Return** is ``calculate_refund.post`` then ``return_operations.begin_post``;
a return is refused before any call that changes anything when its refund
exceeds what is left of Azure's rolling 12-month refund limit (USD 50,000), as
the calculation's policy result reports it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from azure.core.exceptions import AzureError, ResourceNotFoundError
from azure.mgmt.billingbenefits import models as bb
from azure.mgmt.reservations import models as rm

from core.errors import ProviderError
from providers.azure.catalog import TERMS, ReservationOffering, SavingsPlanOffering
from providers.azure.clients import AzureClients
from providers.azure.errors import RefundLimitExceeded, azure_call, to_provider_error
from providers.azure.inventory import (
    LIVE_RESERVATION_STATES,
    parse_reservation_id,
    reservation_commitment_id,
    text,
)
from providers.azure.journal import JournalEntry, OrderJournal
from providers.azure.settings import AzureSettings
from providers.base import (
    ExchangeRequest,
    OrderResult,
    OrderStatus,
    PurchaseRequest,
    Quote,
    ReturnRequest,
)
from providers.calllog import logged_call

LADDER_NAMESPACE = uuid.UUID("3c0b8f5e-2a71-5d84-b6e3-9f1d2c4a7e60")
"""UUID5 namespace of the names Ladder derives from idempotency keys (fixed forever)."""

_ACTIVE = frozenset({"succeeded"})
_FAILED = frozenset({"failed", "cancelled", "canceled"})


def display_name(idempotency_key: str) -> str:
    """The name given to what an action buys: ``ladder-`` and the key's UUID5 hex."""
    return "ladder-" + uuid.uuid5(LADDER_NAMESPACE, idempotency_key).hex


def reservation_arm_id(order_id: str, reservation_id: str) -> str:
    """The ARM id of a reservation."""
    return (f"/providers/Microsoft.Capacity/reservationOrders/{order_id}"
            f"/reservations/{reservation_id}")


def _status(state: Any) -> OrderStatus:
    lowered = text(state).lower()
    if lowered in _ACTIVE:
        return OrderStatus.ACTIVE
    if lowered in _FAILED:
        return OrderStatus.FAILED
    return OrderStatus.PENDING


@dataclass(frozen=True, slots=True)
class RefundQuote:
    """What returning a reservation would refund, and what is left of the refund limit."""

    valid: bool
    refund: float
    remaining_limit: float
    limit: float
    currency: str
    session_id: str
    quantity: int
    policy_errors: tuple[str, ...] = ()

    @property
    def within_limit(self) -> bool:
        """Whether the refund fits in what is left of the rolling 12-month limit."""
        return self.refund <= self.remaining_limit


class AzureMarket:
    """Quote, buy, exchange and return Azure reservations; buy savings plans."""

    irreversible = False

    def __init__(self, settings: AzureSettings, clients: AzureClients,
                 journal: OrderJournal) -> None:
        self.settings = settings
        self.clients = clients
        self.journal = journal

    # -- purchase -------------------------------------------------------------------------

    def _reservation_body(self, spec: ReservationOffering, quantity: int,
                          idempotency_key: str) -> rm.PurchaseRequest:
        return rm.PurchaseRequest(
            sku=rm.SkuName(name=spec.arm_sku),
            location=spec.region,
            properties=rm.PurchaseRequestProperties(
                reserved_resource_type="VirtualMachines",
                billing_scope_id=self.settings.billing_scope,
                term=spec.term,
                billing_plan=spec.billing_plan,
                quantity=quantity,
                display_name=display_name(idempotency_key),
                applied_scope_type="Shared",
                renew=False,
                reserved_resource_properties=(
                    rm.PurchaseRequestPropertiesReservedResourceProperties(
                        instance_flexibility="On")),
            ),
        )

    @staticmethod
    def _quantity(request: PurchaseRequest) -> int:
        if request.quantity <= 0 or request.quantity != int(request.quantity):
            raise ProviderError(f"reservations are bought in whole instances, got "
                                f"{request.quantity}", retryable=False, code="InvalidQuantity")
        if request.start is not None:
            raise ProviderError("queued Azure purchases are not supported; buy at the time",
                                retryable=False, code="InvalidStart")
        return int(request.quantity)

    def _calculate(self, body: rm.PurchaseRequest) -> rm.CalculatePriceResponseProperties:
        with azure_call("reservationOrder.calculate",
                        sku=body.sku.name if body.sku else "", location=body.location,
                        quantity=body.properties.quantity if body.properties else 0) as call:
            response = self.clients.reservations.reservation_order.calculate(body)
            properties = response.properties
            call.note(order=getattr(properties, "reservation_order_id", ""))
        if properties is None or not properties.reservation_order_id:
            raise ProviderError("Azure reservationOrder.calculate returned no order id",
                                retryable=True, code="NoOrderId")
        return properties

    def quote_purchase(self, request: PurchaseRequest) -> Quote:
        """Price a reservation with ``calculate`` (nothing is recorded or bought)."""
        try:
            spec = ReservationOffering.parse(request.offering_id)
            quantity = self._quantity(request)
        except (ValueError, ProviderError) as exc:
            return Quote(valid=False, upfront=0.0, hourly=0.0, detail=str(exc))
        properties = self._calculate(self._reservation_body(spec, quantity,
                                                            request.idempotency_key))
        total = properties.billing_currency_total
        amount = float(getattr(total, "amount", 0.0) or 0.0)
        upfront = amount if spec.payment == "upfront" else 0.0
        hourly = 0.0 if spec.payment == "upfront" else amount / TERMS[spec.term]
        return Quote(valid=True, upfront=upfront, hourly=hourly,
                     currency=str(getattr(total, "currency_code", "USD") or "USD"),
                     detail=str(properties.sku_title or ""))

    def purchase(self, request: PurchaseRequest) -> OrderResult:
        """Buy a reservation (or a savings plan): calculate, journal the order id, purchase."""
        if request.offering_id.startswith("azure:sp:"):
            return self._purchase_savings_plan(request)
        try:
            spec = ReservationOffering.parse(request.offering_id)
        except ValueError as exc:
            raise ProviderError(str(exc), retryable=False, code="UnknownOffering") from exc
        quantity = self._quantity(request)
        body = self._reservation_body(spec, quantity, request.idempotency_key)
        entry = self.journal.get(request.idempotency_key)
        if entry is not None:
            existing = self._get_order(entry.order_id)
            if existing is not None:
                return self._order_result(request.idempotency_key, existing)
            order_id = entry.order_id  # calculated, never bought: PUT to the same id
        else:
            properties = self._calculate(body)
            total = float(getattr(properties.billing_currency_total, "amount", 0.0) or 0.0)
            if (request.limit_upfront is not None and spec.payment == "upfront"
                    and total > request.limit_upfront):
                raise ProviderError(f"Azure asks {total:.2f} up front, above the limit of "
                                    f"{request.limit_upfront:.2f}", retryable=False,
                                    code="PriceAboveLimit")
            order_id = str(properties.reservation_order_id)
            self.journal.put(request.idempotency_key, JournalEntry("reservation", order_id))
        with azure_call("reservationOrder.purchase", order=order_id,
                        sku=spec.arm_sku, location=spec.region, term=spec.term,
                        quantity=quantity, idempotency_key=request.idempotency_key) as call:
            poller = self.clients.reservations.reservation_order.begin_purchase(
                order_id, body)
            poller.wait(timeout=self.settings.lro_timeout_s)
            if not poller.done():
                call.note(status="pending")
                return OrderResult(request.idempotency_key, OrderStatus.PENDING,
                                   detail=f"reservation order {order_id} still processing")
            order = poller.result()
            call.note(status=getattr(order.properties, "provisioning_state", ""))
        return self._order_result(request.idempotency_key, order)

    def _get_order(self, order_id: str) -> rm.ReservationOrderResponse | None:
        try:
            with logged_call("azure", "reservationOrder.get", order=order_id) as call:
                order = self.clients.reservations.reservation_order.get(order_id)
                call.note(state=getattr(order.properties, "provisioning_state", ""))
                return order
        except ResourceNotFoundError:
            return None
        except AzureError as exc:
            raise to_provider_error(exc, "reservationOrder.get") from exc

    @staticmethod
    def _order_result(idempotency_key: str, order: Any) -> OrderResult:
        properties = order.properties
        ids: list[str] = []
        for reservation in getattr(properties, "reservations", None) or []:
            try:
                ids.append(reservation_commitment_id(*parse_reservation_id(str(reservation.id))))
            except ValueError:
                continue
        state = text(getattr(properties, "provisioning_state", None))
        return OrderResult(idempotency_key, _status(state), tuple(ids),
                           detail=f"reservation order {order.name}: {state}")

    def _purchase_savings_plan(self, request: PurchaseRequest) -> OrderResult:
        """Buy a savings plan through an alias named after the key (a PUT, idempotent)."""
        try:
            spec = SavingsPlanOffering.parse(request.offering_id)
        except ValueError as exc:
            raise ProviderError(str(exc), retryable=False, code="UnknownOffering") from exc
        if request.quantity <= 0:
            raise ProviderError("a savings plan commits a positive amount per hour",
                                retryable=False, code="InvalidQuantity")
        alias = display_name(request.idempotency_key)
        body = bb.SavingsPlanOrderAliasModel(
            sku=bb.ResourceSku(name="Compute_Savings_Plan"),
            properties=bb.SavingsPlanOrderAliasProperties(
                display_name=alias, billing_scope_id=self.settings.billing_scope,
                term=spec.term, billing_plan=spec.billing_plan, applied_scope_type="Shared",
                commitment=bb.Commitment(grain="Hourly", currency_code="USD",
                                         amount=round(request.quantity, 3)),
                renew=False,
            ),
        )
        self.journal.put(request.idempotency_key, JournalEntry("savings_plan", alias))
        with azure_call("savingsPlanOrderAlias.create", alias=alias,
                        term=spec.term, amount=request.quantity,
                        idempotency_key=request.idempotency_key):
            poller = self.clients.benefits.savings_plan_order_alias.begin_create(alias, body)
            poller.wait(timeout=self.settings.lro_timeout_s)
            if not poller.done():
                return OrderResult(request.idempotency_key, OrderStatus.PENDING,
                                   detail=f"savings plan alias {alias} still processing")
            created = poller.result()
        return self._alias_result(request.idempotency_key, created)

    @staticmethod
    def _alias_result(idempotency_key: str, alias: Any) -> OrderResult:
        properties = alias.properties
        order = str(getattr(properties, "savings_plan_order_id", "") or "")
        state = text(getattr(properties, "provisioning_state", None))
        return OrderResult(idempotency_key, _status(state), (order,) if order else (),
                           detail=f"savings plan alias {alias.name}: {state}")

    # -- find -----------------------------------------------------------------------------

    def find_order(self, idempotency_key: str) -> OrderResult:
        """Whether the action with this key reached Azure: by journal, else by derived name."""
        entry = self.journal.get(idempotency_key)
        if entry is None:
            return self._find_by_name(idempotency_key)
        if entry.kind == "reservation":
            order = self._get_order(entry.order_id)
            if order is None:
                return OrderResult(idempotency_key, OrderStatus.NOT_FOUND,
                                   detail=f"order {entry.order_id} calculated, never bought")
            return self._order_result(idempotency_key, order)
        if entry.kind == "savings_plan":
            return self._find_alias(idempotency_key, entry.order_id)
        return self._find_returned(idempotency_key, entry)

    def _find_by_name(self, idempotency_key: str) -> OrderResult:
        name = display_name(idempotency_key)
        with azure_call("reservationOrder.list", display_name=name):
            for order in self.clients.reservations.reservation_order.list():
                if getattr(order.properties, "display_name", None) == name:
                    return self._order_result(idempotency_key, order)
        return self._find_alias(idempotency_key, name)

    def _find_alias(self, idempotency_key: str, alias: str) -> OrderResult:
        try:
            with logged_call("azure", "savingsPlanOrderAlias.get", alias=alias):
                found = self.clients.benefits.savings_plan_order_alias.get(alias)
        except ResourceNotFoundError:
            return OrderResult(idempotency_key, OrderStatus.NOT_FOUND)
        except AzureError as exc:
            raise to_provider_error(exc, "savingsPlanOrderAlias.get") from exc
        return self._alias_result(idempotency_key, found)

    def _find_returned(self, idempotency_key: str, entry: JournalEntry) -> OrderResult:
        """An exchange or return happened when its source reservations are no longer live."""
        sources = [s for s in entry.detail.split(",") if s]
        gone = []
        for source in sources:
            order_id, reservation_id = source.split("/")
            reservation = self._get_reservation(order_id, reservation_id)
            state = text(getattr(reservation.properties, "provisioning_state", None)).lower() \
                if reservation is not None else "notfound"
            gone.append(state not in LIVE_RESERVATION_STATES)
        if sources and all(gone):
            return OrderResult(idempotency_key, OrderStatus.ACTIVE, tuple(sources),
                               detail=f"{entry.kind} {entry.order_id} done")
        return OrderResult(idempotency_key, OrderStatus.NOT_FOUND,
                           detail=f"{entry.kind} {entry.order_id}: sources still live")

    def _get_reservation(self, order_id: str, reservation_id: str) -> Any:
        try:
            with logged_call("azure", "reservation.get", order=order_id,
                             reservation=reservation_id):
                return self.clients.reservations.reservation.get(order_id, reservation_id)
        except ResourceNotFoundError:
            return None
        except AzureError as exc:
            raise to_provider_error(exc, "reservation.get") from exc

    def _source(self, commitment_id: str) -> tuple[str, str, int]:
        """(order id, reservation id, quantity) of an owned reservation."""
        try:
            order_id, reservation_id = commitment_id.split("/")
        except ValueError as exc:
            raise ProviderError(f"{commitment_id!r} is not an Azure reservation id "
                                "(<order id>/<reservation id>)", retryable=False,
                                code="UnknownCommitment") from exc
        reservation = self._get_reservation(order_id, reservation_id)
        if reservation is None:
            raise ProviderError(f"reservation {commitment_id} not found", retryable=False,
                                code="UnknownCommitment")
        return order_id, reservation_id, int(reservation.properties.quantity or 0)

    # -- exchange -------------------------------------------------------------------------

    def _calculate_exchange(self, request: ExchangeRequest
                            ) -> tuple[rm.CalculateExchangeResponseProperties, list[str]]:
        spec = ReservationOffering.parse(request.target_offering_id)
        quantity = self._quantity(PurchaseRequest(request.idempotency_key,
                                                  request.target_offering_id, request.quantity))
        sources = [self._source(c) for c in request.commitment_ids]
        body = rm.CalculateExchangeRequest(properties=rm.CalculateExchangeRequestProperties(
            reservations_to_purchase=[
                self._reservation_body(spec, quantity, request.idempotency_key)],
            reservations_to_exchange=[
                rm.ReservationToReturn(reservation_id=reservation_arm_id(o, r), quantity=q)
                for o, r, q in sources],
        ))
        with azure_call("calculateExchange.post", target=spec.offering_id,
                        sources=",".join(request.commitment_ids)) as call:
            result = self.clients.reservations.calculate_exchange.begin_post(body).result()
            call.note(status=text(result.status))
        if result.properties is None or not result.properties.session_id:
            raise ProviderError(f"Azure calculateExchange: {text(result.status)}, no session",
                                retryable=False, code=text(result.status) or "NoSession")
        return result.properties, [f"{o}/{r}" for o, r, _ in sources]

    @staticmethod
    def _policy_errors(properties: Any) -> list[str]:
        # Exchange results carry the errors directly, refund results under ``properties``.
        policy = getattr(properties, "policy_result", None)
        errors = (getattr(policy, "policy_errors", None)
                  or getattr(getattr(policy, "properties", None), "policy_errors", None) or [])
        return [f"{text(e.code)}: {e.message}" for e in errors]

    def quote_exchange(self, request: ExchangeRequest) -> Quote:
        """Price an exchange; ``valid`` is false when Azure's exchange policy refuses it."""
        properties, _ = self._calculate_exchange(request)
        errors = self._policy_errors(properties)
        net = properties.net_payable
        return Quote(valid=not errors, upfront=float(getattr(net, "amount", 0.0) or 0.0),
                     hourly=0.0, currency=str(getattr(net, "currency_code", "USD") or "USD"),
                     detail="; ".join(errors) or f"session {properties.session_id}")

    def exchange(self, request: ExchangeRequest) -> OrderResult:
        """Exchange reservations: calculate (refused on policy errors), journal, exchange."""
        if self.journal.get(request.idempotency_key) is not None:
            found = self.find_order(request.idempotency_key)
            if found.status is not OrderStatus.NOT_FOUND:
                return found
        properties, sources = self._calculate_exchange(request)
        errors = self._policy_errors(properties)
        if errors:
            raise ProviderError(f"Azure refuses the exchange: {'; '.join(errors)}",
                                retryable=False, code=errors[0].split(":")[0])
        session = str(properties.session_id)
        self.journal.put(request.idempotency_key,
                         JournalEntry("exchange", session, ",".join(sources)))
        with azure_call("exchange.post", session=session,
                        idempotency_key=request.idempotency_key) as call:
            poller = self.clients.reservations.exchange.begin_post(
                rm.ExchangeRequest(properties=rm.ExchangeRequestProperties(
                    session_id=session)))
            poller.wait(timeout=self.settings.lro_timeout_s)
            if not poller.done():
                return OrderResult(request.idempotency_key, OrderStatus.PENDING,
                                   detail=f"exchange session {session} still processing")
            result = poller.result()
            call.note(status=text(result.status))
        bought = [
            reservation_commitment_id(*parse_reservation_id(str(r.reservation_id)))
            for r in getattr(result.properties, "reservations_to_purchase", None) or []
            if r.reservation_id
        ]
        status = {"succeeded": OrderStatus.ACTIVE, "failed": OrderStatus.FAILED,
                  "cancelled": OrderStatus.FAILED}.get(text(result.status).lower(),
                                                       OrderStatus.PENDING)
        return OrderResult(request.idempotency_key, status, tuple(bought),
                           detail=f"exchange session {session}: {text(result.status)}")

    # -- return ---------------------------------------------------------------------------

    def quote_return(self, request: ReturnRequest) -> RefundQuote:
        """What a return would refund, and what remains of the rolling 12-month limit."""
        order_id, reservation_id, quantity = self._source(request.commitment_id)
        return self._calculate_refund(order_id, reservation_id, quantity)

    def _calculate_refund(self, order_id: str, reservation_id: str,
                          quantity: int) -> RefundQuote:
        body = rm.CalculateRefundRequest(
            id=f"/providers/microsoft.capacity/reservationOrders/{order_id}",
            properties=rm.CalculateRefundRequestProperties(
                scope="Reservation",
                reservation_to_return=rm.ReservationToReturn(
                    reservation_id=reservation_arm_id(order_id, reservation_id),
                    quantity=quantity)),
        )
        with azure_call("calculateRefund.post", order=order_id,
                        reservation=reservation_id, quantity=quantity) as call:
            response = self.clients.reservations.calculate_refund.post(order_id, body)
            call.note(session=getattr(response.properties, "session_id", ""))
        properties = response.properties
        refund = getattr(properties, "pricing_refund_amount", None)
        policy = getattr(getattr(properties, "policy_result", None), "properties", None)
        consumed = float(getattr(getattr(policy, "consumed_refunds_total", None), "amount", 0.0)
                         or 0.0)
        limit = float(getattr(getattr(policy, "max_refund_limit", None), "amount", None)
                      or self.settings.refund_limit_usd)
        errors = tuple(self._policy_errors(properties))
        return RefundQuote(
            valid=not errors,
            refund=float(getattr(refund, "amount", 0.0) or 0.0),
            remaining_limit=max(limit - consumed, 0.0), limit=limit,
            currency=str(getattr(refund, "currency_code", "USD") or "USD"),
            session_id=str(getattr(properties, "session_id", "") or ""),
            quantity=quantity, policy_errors=errors,
        )

    def return_commitment(self, request: ReturnRequest) -> OrderResult:
        """Return a reservation, refused above the remaining refund limit or on policy errors."""
        if self.journal.get(request.idempotency_key) is not None:
            found = self.find_order(request.idempotency_key)
            if found.status is not OrderStatus.NOT_FOUND:
                return found
        order_id, reservation_id, quantity = self._source(request.commitment_id)
        quote = self._calculate_refund(order_id, reservation_id, quantity)
        if quote.policy_errors:
            raise ProviderError(f"Azure refuses the return: {'; '.join(quote.policy_errors)}",
                                retryable=False, code=quote.policy_errors[0].split(":")[0])
        if not quote.within_limit:
            raise RefundLimitExceeded(
                f"returning {request.commitment_id} would refund {quote.refund:,.2f} "
                f"{quote.currency}, above the {quote.remaining_limit:,.2f} left of Azure's "
                f"rolling 12-month refund limit of {quote.limit:,.2f}",
                remaining=quote.remaining_limit, refund=quote.refund)
        self.journal.put(request.idempotency_key, JournalEntry(
            "return", quote.session_id, reservation_commitment_id(order_id, reservation_id)))
        body = rm.RefundRequest(properties=rm.RefundRequestProperties(
            session_id=quote.session_id, scope="Reservation",
            reservation_to_return=rm.ReservationToReturn(
                reservation_id=reservation_arm_id(order_id, reservation_id), quantity=quantity),
            return_reason=f"Ladder {request.idempotency_key}"[:200]))
        with azure_call("return.post", order=order_id, reservation=reservation_id,
                        session=quote.session_id, refund=quote.refund,
                        idempotency_key=request.idempotency_key) as call:
            poller = self.clients.reservations.return_operations.begin_post(order_id, body)
            poller.wait(timeout=self.settings.lro_timeout_s)
            if not poller.done():
                return OrderResult(request.idempotency_key, OrderStatus.PENDING,
                                   detail=f"return of {request.commitment_id} processing")
            order = poller.result()
            call.note(state=getattr(order.properties, "provisioning_state", ""))
        return OrderResult(request.idempotency_key, OrderStatus.ACTIVE,
                           (reservation_commitment_id(order_id, reservation_id),),
                           detail=f"refund {quote.refund:,.2f} {quote.currency}; "
                                  f"{quote.remaining_limit - quote.refund:,.2f} of the "
                                  "12-month limit left")
