"""Buying, exchanging and returning AWS commitments, each exactly once.

The idempotency key of an action (from the executor) reaches AWS as a tag, so that
:meth:`AwsMarket.find_order` can always ask AWS whether the action already happened:

=========================  ==================================================================
action                     how it is made safe to retry
=========================  ==================================================================
Savings Plan purchase      ``create_savings_plan`` with ``clientToken`` = UUID5 of the key
                           (AWS answers a repeat with the same plan) and the tag
                           ``ladder:purchase-key`` set in the same call.
RI purchase                ``purchase_reserved_instances_offering`` has **no idempotency
                           token**. It is sent once (no botocore retry; throttling only
                           is retried, as AWS did nothing), with ``LimitPrice``; the new
                           RI is tagged ``ladder:purchase-key`` right after. Before every
                           purchase, and after an unknown outcome, the inventory is
                           checked (the *matching rule* below).
RI exchange                the source RIs are tagged ``ladder:exchange-key`` *before*
                           ``accept_reserved_instances_exchange_quote`` (sent once, only
                           when the quote says ``IsValidExchange``); the exchange has
                           happened when the tagged sources are retired.
Savings Plan return        only while ``returnableUntil`` is in the future; tagged
                           ``ladder:return-key``, then ``return_savings_plan`` with
                           ``clientToken``; done when the plan is pending-return/returned.
=========================  ==================================================================

**Matching rule for an RI purchase** (the RI may exist untagged when the answer to
the purchase was lost, or the process died before tagging): an RI is the earlier
order of a request when it

1. carries the request's ``ladder:purchase-key`` tag — or carries no
   ``ladder:purchase-key`` tag at all (an RI tagged with another key belongs to
   that other order), and
2. is for the same instance type, region scope, product description, tenancy,
   offering class, payment option and duration as the offering resolved for the
   request, with the same ``InstanceCount``, and
3. started inside the window: from ``since`` (when the intent was written; by
   default ``match_window_s`` ago) to now, or, for a queued purchase, at the
   requested ``PurchaseTime`` (within an hour).

One untagged match is claimed (tagged with the key) and returned; more than one
is ambiguous and raises ``AmbiguousOrder`` for a person to settle (tag the right
one). An RI bought by hand with the same attributes inside the window would be
taken for Ladder's: Ladder then buys one order too little, never one too many.
"""

from __future__ import annotations

import hashlib
import logging
import math
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_DOWN, Decimal
from typing import Any

from providers.aws.catalog import OfferingRef, RiRef, SpRef
from providers.aws.errors import AwsProviderError
from providers.aws.inventory import fetch_savings_plans
from providers.aws.naming import (
    PAYMENT_BY_CODE,
    PAYMENT_CODES,
    RI_PRODUCT_DESCRIPTION,
    TERM_BY_SECONDS,
    TERM_SECONDS,
    RiId,
    SpId,
    iso_utc,
    parse_offering_id,
    parse_time,
)
from providers.aws.offerings import fetch_ri_offerings, ri_offering
from providers.aws.pricing import PriceGroup, fetch_products, reference_products
from providers.aws.session import AwsClients
from providers.base import (
    ExchangeRequest,
    OrderResult,
    OrderStatus,
    PurchaseRequest,
    Quote,
    ReturnRequest,
)

log = logging.getLogger("ladder.providers.aws")

TAG_PURCHASE = "ladder:purchase-key"
TAG_EXCHANGE = "ladder:exchange-key"
TAG_RETURN = "ladder:return-key"
_TOKEN_NAMESPACE = uuid.UUID("6f1c5a56-4d0e-4b4f-9a57-6c6164646572")
_SP_QUANTUM = Decimal("0.00001")
_CLOCK_SKEW = timedelta(minutes=15)
_QUEUED_TOLERANCE = timedelta(hours=1)
_MAX_TAG_VALUE = 256

_RI_STATUS = {
    "active": OrderStatus.ACTIVE,
    "retired": OrderStatus.ACTIVE,
    "payment-pending": OrderStatus.PENDING,
    "queued": OrderStatus.PENDING,
    "payment-failed": OrderStatus.FAILED,
    "queued-deleted": OrderStatus.FAILED,
}
_SP_STATUS = {
    "active": OrderStatus.ACTIVE,
    "retired": OrderStatus.ACTIVE,
    "pending-return": OrderStatus.ACTIVE,
    "returned": OrderStatus.ACTIVE,
    "payment-pending": OrderStatus.PENDING,
    "queued": OrderStatus.PENDING,
    "payment-failed": OrderStatus.FAILED,
    "queued-deleted": OrderStatus.FAILED,
}

_RETURN_STATUS = {
    "pending-return": OrderStatus.PENDING,
    "returned": OrderStatus.ACTIVE,
}
"""A return order: accepted and pending, or done."""

Request = PurchaseRequest | ExchangeRequest | ReturnRequest


def _now() -> datetime:
    return datetime.now(UTC)


def _refused(message: str, code: str) -> AwsProviderError:
    """Ladder's own refusal of a request AWS could never accept (not retryable)."""
    return AwsProviderError(message, code=code, operation="ladder")


def tag_value(idempotency_key: str) -> str:
    """The key as an AWS tag value (tags hold 256 characters; longer keys are hashed)."""
    if len(idempotency_key) <= _MAX_TAG_VALUE:
        return idempotency_key
    return "sha256:" + hashlib.sha256(idempotency_key.encode()).hexdigest()


def client_token(idempotency_key: str) -> str:
    """The ``clientToken`` of a Savings Plans call: a UUID5 of the key (same key, same token)."""
    return str(uuid.uuid5(_TOKEN_NAMESPACE, idempotency_key))


def sp_commitment(quantity: float) -> str:
    """Dollars per hour as AWS's ``commitment`` string: at most 5 decimals, rounded down.

    Rounding down never commits more than the plan approved.
    """
    amount = Decimal(repr(float(quantity))).quantize(_SP_QUANTUM, rounding=ROUND_DOWN)
    if amount <= 0:
        raise _refused(f"a Savings Plan commitment of {quantity} $/h rounds to zero "
                       "(AWS takes at most 5 decimals)", "InvalidQuantity")
    return format(amount.normalize(), "f")


def instance_count(quantity: float, factor: float, instance_type: str) -> int:
    """Instances of the reference size for ``quantity`` normalised units (a whole number)."""
    count = quantity / factor
    whole = round(count)
    if whole < 1 or abs(count - whole) > 1e-6:
        raise _refused(
            f"{quantity:g} normalised units is not a whole number of {instance_type} "
            f"(factor {factor:g}); round it with purchasable_quantity() first",
            "InvalidQuantity",
        )
    return int(whole)


def _combined(statuses: Iterable[OrderStatus]) -> OrderStatus:
    seen = set(statuses)
    if not seen:
        return OrderStatus.NOT_FOUND
    if OrderStatus.PENDING in seen:
        return OrderStatus.PENDING
    if seen == {OrderStatus.FAILED}:
        return OrderStatus.FAILED
    return OrderStatus.ACTIVE


def _tags(ri: Mapping[str, Any]) -> dict[str, str]:
    return {str(t.get("Key")): str(t.get("Value")) for t in ri.get("Tags", [])}


class AwsMarket:
    """Ladder's :class:`~providers.base.Market` on AWS: quote, buy, exchange, return, look up.

    ``refs`` map catalog offering ids to what AWS sells (from
    :func:`providers.aws.catalog.build_catalog`); an id missing from them is resolved
    with the price list and the offerings APIs. ``regions`` are searched for tagged
    RIs when ``find_order`` is given a key alone.
    """

    irreversible = False
    """Convertible RIs can be exchanged and recent Savings Plans returned (see is_irreversible)."""

    def __init__(
        self,
        clients: AwsClients,
        refs: Mapping[str, OfferingRef] | None = None,
        *,
        regions: Sequence[str] = (),
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.clients = clients
        self._refs: dict[str, OfferingRef] = dict(refs or {})
        self._clock = clock
        # RI purchases sent by this market: find_order(key) alone can then apply the
        # matching rule too (a process restart forgets them; purchase(request) never does).
        self._sent: dict[str, tuple[PurchaseRequest, datetime]] = {}
        self._regions = tuple(regions)

    @property
    def regions(self) -> tuple[str, ...]:
        """Regions searched for tagged RIs: given, else the known RIs', settings', home."""
        known = sorted({r.offering.region for r in self._refs.values() if isinstance(r, RiRef)})
        settings = self.clients.settings
        return self._regions or tuple(known) or settings.regions or (settings.home_region,)

    def know(self, refs: Mapping[str, OfferingRef]) -> None:
        """Learn what AWS sells behind catalog offerings (from a catalog built later)."""
        self._refs.update(refs)

    # -- offerings -------------------------------------------------------------------

    def resolve(self, offering_id: str) -> OfferingRef:
        """What AWS sells for a catalog offering id (looked up once, then remembered)."""
        if offering_id not in self._refs:
            try:
                parsed = parse_offering_id(offering_id)
            except ValueError as exc:
                raise _refused(str(exc), "UnknownOffering") from exc
            if isinstance(parsed, RiId):
                self._refs[offering_id] = self._resolve_ri(offering_id, parsed)
            else:
                self._refs[offering_id] = self._resolve_sp(offering_id, parsed)
        return self._refs[offering_id]

    def _resolve_ri(self, offering_id: str, rid: RiId) -> RiRef:
        description = RI_PRODUCT_DESCRIPTION.get(rid.platform)
        if description is None:
            raise _refused(f"{offering_id}: Ladder buys size-flexible RIs only (Linux)",
                           "UnknownOffering")
        group = PriceGroup(rid.region, rid.family, rid.platform, "shared")
        reference = reference_products(fetch_products(self.clients, [group])).get(group)
        if reference is None or reference.normalization_factor is None:
            raise AwsProviderError(f"{offering_id}: the price list has no {rid.family} size "
                                   f"with a normalisation factor in {rid.region}",
                                   code="OfferingNotFound", operation="resolve")
        wanted = (rid.offering_class, TERM_SECONDS[rid.term], PAYMENT_BY_CODE[rid.payment])
        matches = [
            o for o in fetch_ri_offerings(self.clients, rid.region, reference.instance_type,
                                          description)
            if (o.offering_class, o.duration_s, o.offering_type) == wanted
            and o.scope == "Region" and not o.marketplace
        ]
        if not matches:
            raise AwsProviderError(f"{offering_id}: AWS sells no such offering of "
                                   f"{reference.instance_type}", code="OfferingNotFound",
                                   operation="resolve")
        best = min(matches, key=lambda o: (o.amortized_hourly, o.offering_id))
        return RiRef(offering_id, best, reference.normalization_factor)

    def _resolve_sp(self, offering_id: str, sid: SpId) -> SpRef:
        params: dict[str, Any] = {
            "planTypes": [sid.plan_type],
            "durations": [TERM_SECONDS[sid.term]],
            "paymentOptions": [PAYMENT_BY_CODE[sid.payment]],
            "currencies": ["USD"],
        }
        if sid.plan_type == "EC2Instance":
            params["filters"] = [{"name": "region", "values": [sid.region]},
                                 {"name": "instanceFamily", "values": [sid.family]}]
        found = []
        for page in self.clients.pages("savingsplans", "describe_savings_plans_offerings",
                                       input_token="nextToken", output_token="nextToken",
                                       **params):
            found.extend(page.get("searchResults", []))
        if not found:
            raise AwsProviderError(f"{offering_id}: AWS sells no such Savings Plan",
                                   code="OfferingNotFound", operation="resolve")
        offering = min(found, key=lambda o: str(o.get("offeringId")))
        return SpRef(offering_id, str(offering["offeringId"]), sid.plan_type,
                     str(offering.get("paymentOption")), int(offering.get("durationSeconds", 0)),
                     str(offering.get("currency", "USD")))

    def purchasable_quantity(self, offering_id: str, quantity: float) -> float:
        """The largest quantity at most ``quantity`` that AWS can sell for this offering.

        RIs are bought as whole instances of the reference size, Savings Plans as
        commitments with at most 5 decimals. The executor rounds with this before buying.
        """
        ref = self.resolve(offering_id)
        if isinstance(ref, RiRef):
            count = math.floor(quantity / ref.normalization_factor + 1e-9)
            return count * ref.normalization_factor
        return float(Decimal(repr(float(quantity))).quantize(_SP_QUANTUM, rounding=ROUND_DOWN))

    # -- quotes ----------------------------------------------------------------------

    def _live_ri(self, ref: RiRef) -> Any:
        response = self.clients.call(
            "ec2", "describe_reserved_instances_offerings", region=ref.offering.region,
            ReservedInstancesOfferingIds=[ref.offering.offering_id], IncludeMarketplace=False,
        )
        items = response.get("ReservedInstancesOfferings", [])
        return ri_offering(ref.offering.region, items[0]) if items else None

    def _sp_upfront(self, ref: SpRef, commitment: str) -> Decimal:
        total = Decimal(commitment) * Decimal(ref.duration_s // 3600)
        payment = PAYMENT_CODES.get(ref.payment_option, "nu")
        if payment == "au":
            return total
        if payment == "pu":
            # AWS wants a whole number of dollars between 50 % and 99 % of the total.
            return (total / 2).quantize(Decimal(1), rounding=ROUND_CEILING)
        return Decimal(0)

    def quote_purchase(self, request: PurchaseRequest) -> Quote:
        """Today's price of a purchase (RIs from the live offering, SPs from the commitment)."""
        ref = self.resolve(request.offering_id)
        if isinstance(ref, RiRef):
            count = instance_count(request.quantity, ref.normalization_factor,
                                   ref.offering.instance_type)
            live = self._live_ri(ref)
            if live is None:
                return Quote(valid=False, upfront=0.0, hourly=0.0,
                             detail=f"AWS no longer sells {ref.offering.offering_id}")
            return Quote(valid=True, upfront=live.fixed_price * count,
                         hourly=live.hourly_price * count, currency=live.currency,
                         detail=f"{count} × {live.instance_type} ({live.offering_id})")
        commitment = sp_commitment(request.quantity)
        upfront = self._sp_upfront(ref, commitment)
        hours = Decimal(ref.duration_s // 3600)
        hourly = Decimal(commitment) - upfront / hours
        return Quote(valid=True, upfront=float(upfront), hourly=float(hourly),
                     currency=ref.currency,
                     detail=f"${commitment}/h for {hours} h ({ref.aws_offering_id})")

    def quote_exchange(self, request: ExchangeRequest) -> Quote:
        """AWS's exchange quote; ``valid`` is its ``IsValidExchange``."""
        ref, count = self._exchange_target(request)
        response = self._exchange_quote(request, ref, count)
        valid = bool(response.get("IsValidExchange"))
        target = response.get("TargetConfigurationValueRollup", {})
        return Quote(
            valid=valid,
            upfront=float(response.get("PaymentDue") or 0.0),
            hourly=float(target.get("HourlyPrice") or 0.0),
            currency=str(response.get("CurrencyCode") or "USD"),
            detail=str(response.get("ValidationFailureReason") or
                       f"{len(request.commitment_ids)} RIs for {count} × "
                       f"{ref.offering.instance_type}"),
        )

    # -- orders ----------------------------------------------------------------------

    def purchase(self, request: PurchaseRequest, *, since: datetime | None = None) -> OrderResult:
        """Buy an offering unless an order with the same key is already at AWS.

        ``since`` is when the executor wrote the intent (it bounds the matching rule).
        Raises ``AwsProviderError`` with ``outcome_unknown=True`` when AWS may have
        bought without saying so; calling ``purchase`` again is then safe: it looks first.
        """
        earlier = self.find_order(request.idempotency_key, request=request, since=since)
        if earlier.status is not OrderStatus.NOT_FOUND:
            log.info("aws purchase %s: already at AWS (%s), not buying again",
                     request.idempotency_key, earlier.status)
            return earlier
        ref = self.resolve(request.offering_id)
        if isinstance(ref, RiRef):
            return self._purchase_ri(request, ref)
        return self._purchase_sp(request, ref)

    def _queued_time(self, start: datetime | None) -> str | None:
        if start is None:
            return None
        moment = parse_time(start)
        assert moment is not None
        return iso_utc(moment) if moment > self._clock() else None

    def _purchase_ri(self, request: PurchaseRequest, ref: RiRef) -> OrderResult:
        offering = ref.offering
        count = instance_count(request.quantity, ref.normalization_factor, offering.instance_type)
        live = self._live_ri(ref)
        if live is None:
            raise AwsProviderError(f"AWS no longer sells {offering.offering_id}",
                                   code="OfferingNotFound",
                                   operation="ec2.PurchaseReservedInstancesOffering")
        upfront = live.fixed_price * count
        limit = request.limit_upfront if request.limit_upfront is not None else upfront
        if upfront > limit + 0.005:
            raise AwsProviderError(
                f"{request.offering_id}: upfront ${upfront:,.2f} for {count} × "
                f"{offering.instance_type} is above the limit ${limit:,.2f}",
                code="PriceAboveLimit", operation="ec2.PurchaseReservedInstancesOffering",
            )
        params: dict[str, Any] = {
            "ReservedInstancesOfferingId": offering.offering_id,
            "InstanceCount": count,
        }
        if limit > 0 or request.limit_upfront is not None:
            params["LimitPrice"] = {"Amount": round(limit, 2), "CurrencyCode": "USD"}
        queued = self._queued_time(request.start)
        if queued:
            params["PurchaseTime"] = queued
        sent_at = self._clock()
        self._sent.setdefault(request.idempotency_key, (request, sent_at))
        log.info("aws purchase %s: %d × %s (%s), upfront $%.2f", request.idempotency_key,
                 count, offering.instance_type, offering.offering_id, upfront)
        try:
            response = self.clients.call("ec2", "purchase_reserved_instances_offering",
                                         region=offering.region, idempotent=False, **params)
        except AwsProviderError as error:
            if not error.outcome_unknown:
                raise
            return self._after_unknown(error, request, since=sent_at)
        ri_id = str(response["ReservedInstancesId"])
        self._tag_ris(offering.region, [ri_id], TAG_PURCHASE, request.idempotency_key)
        return self._ri_result(request.idempotency_key, offering.region, [ri_id])

    def _purchase_sp(self, request: PurchaseRequest, ref: SpRef) -> OrderResult:
        commitment = sp_commitment(request.quantity)
        upfront = self._sp_upfront(ref, commitment)
        if request.limit_upfront is not None and float(upfront) > request.limit_upfront + 0.005:
            raise AwsProviderError(
                f"{request.offering_id}: upfront ${upfront:,.2f} for ${commitment}/h is above "
                f"the limit ${request.limit_upfront:,.2f}",
                code="PriceAboveLimit", operation="savingsplans.CreateSavingsPlan",
            )
        params: dict[str, Any] = {
            "savingsPlanOfferingId": ref.aws_offering_id,
            "commitment": commitment,
            "clientToken": client_token(request.idempotency_key),
            "tags": {TAG_PURCHASE: tag_value(request.idempotency_key)},
        }
        if PAYMENT_CODES.get(ref.payment_option) == "pu":
            params["upfrontPaymentAmount"] = str(upfront)
        queued = self._queued_time(request.start)
        if queued:
            params["purchaseTime"] = queued
        sent_at = self._clock()
        log.info("aws purchase %s: Savings Plan %s at $%s/h", request.idempotency_key,
                 ref.aws_offering_id, commitment)
        try:
            response = self.clients.call("savingsplans", "create_savings_plan", **params)
        except AwsProviderError as error:
            if not error.outcome_unknown:
                raise
            return self._after_unknown(error, request, since=sent_at)
        plan_id = str(response["savingsPlanId"])
        plans = fetch_savings_plans(self.clients, None, savingsPlanIds=[plan_id])
        return self._sp_result(request.idempotency_key, plans, plan_id)

    def _after_unknown(self, error: AwsProviderError, request: Request,
                       *, since: datetime) -> OrderResult:
        """After an answer that was lost or a 5xx: look; raise if the order is not (yet) seen."""
        found = self.find_order(request.idempotency_key, request=request, since=since)
        if found.status is not OrderStatus.NOT_FOUND:
            log.info("aws %s: outcome was unknown, AWS has it (%s)", request.idempotency_key,
                     found.status)
            return found
        raise AwsProviderError(
            f"{error}; outcome unknown and no order found yet: call again with the same "
            "request (it looks before it acts) or find_order later",
            retryable=True, retry_after_s=error.retry_after_s or 30.0, code=error.code,
            operation=error.operation, http_status=error.http_status, outcome_unknown=True,
        ) from error

    def exchange(self, request: ExchangeRequest) -> OrderResult:
        """Exchange convertible RIs, only when AWS's quote says ``IsValidExchange``."""
        earlier = self.find_order(request.idempotency_key, request=request)
        if earlier.status is not OrderStatus.NOT_FOUND:
            return earlier
        ref, count = self._exchange_target(request)
        quote = self._exchange_quote(request, ref, count)
        if not quote.get("IsValidExchange"):
            raise AwsProviderError(
                f"AWS refuses this exchange: {quote.get('ValidationFailureReason') or 'invalid'}",
                code="InvalidExchange", operation="ec2.GetReservedInstancesExchangeQuote",
            )
        region = ref.offering.region
        self._tag_ris(region, list(request.commitment_ids), TAG_EXCHANGE,
                      request.idempotency_key, required=True)
        sent_at = self._clock()
        try:
            response = self.clients.call(
                "ec2", "accept_reserved_instances_exchange_quote", region=region,
                idempotent=False, ReservedInstanceIds=list(request.commitment_ids),
                TargetConfigurations=[{"OfferingId": ref.offering.offering_id,
                                       "InstanceCount": count}],
            )
        except AwsProviderError as error:
            if not error.outcome_unknown:
                raise
            return self._after_unknown(error, request, since=sent_at)
        return OrderResult(request.idempotency_key, OrderStatus.ACTIVE, (),
                           detail=f"exchange {response.get('ExchangeId', '')}: "
                                  f"{len(request.commitment_ids)} RIs for {count} × "
                                  f"{ref.offering.instance_type}")

    def _exchange_target(self, request: ExchangeRequest) -> tuple[RiRef, int]:
        ref = self.resolve(request.target_offering_id)
        if not isinstance(ref, RiRef) or ref.offering.offering_class != "convertible":
            raise _refused(f"{request.target_offering_id}: an exchange targets a "
                           "convertible Reserved Instance offering", "InvalidExchange")
        if not request.commitment_ids:
            raise _refused("an exchange needs at least one Reserved Instance to give",
                           "InvalidExchange")
        count = instance_count(request.quantity, ref.normalization_factor,
                               ref.offering.instance_type)
        return ref, count

    def _exchange_quote(self, request: ExchangeRequest, ref: RiRef, count: int) -> Any:
        return self.clients.call(
            "ec2", "get_reserved_instances_exchange_quote", region=ref.offering.region,
            ReservedInstanceIds=list(request.commitment_ids),
            TargetConfigurations=[{"OfferingId": ref.offering.offering_id,
                                   "InstanceCount": count}],
        )

    def return_commitment(self, request: ReturnRequest) -> OrderResult:
        """Return a Savings Plan while ``returnableUntil`` has not passed (RIs cannot be)."""
        plans = fetch_savings_plans(self.clients, None, savingsPlanIds=[request.commitment_id])
        if not plans:
            raise AwsProviderError(
                f"no Savings Plan {request.commitment_id}: only Savings Plans can be returned "
                "to AWS (Reserved Instances cannot)", code="NotReturnable",
                operation="savingsplans.ReturnSavingsPlan")
        plan = plans[0]
        if plan.get("state") in _RETURN_STATUS:
            return self._sp_result(request.idempotency_key, plans, request.commitment_id,
                                   returning=True)
        until = parse_time(plan.get("returnableUntil"))
        now = self._clock()
        if until is None or until <= now:
            raise AwsProviderError(
                f"Savings Plan {request.commitment_id} can no longer be returned "
                f"(returnable until {plan.get('returnableUntil') or 'never'})",
                code="ReturnWindowClosed", operation="savingsplans.ReturnSavingsPlan")
        self._tag_plan(str(plan.get("savingsPlanArn", "")), TAG_RETURN, request.idempotency_key)
        self.clients.call("savingsplans", "return_savings_plan",
                          savingsPlanId=request.commitment_id,
                          clientToken=client_token(request.idempotency_key))
        plans = fetch_savings_plans(self.clients, None, savingsPlanIds=[request.commitment_id])
        return self._sp_result(request.idempotency_key, plans, request.commitment_id,
                               returning=True)

    # -- looking up ------------------------------------------------------------------

    def find_order(
        self,
        idempotency_key: str,
        *,
        request: Request | None = None,
        since: datetime | None = None,
    ) -> OrderResult:
        """Whether an order with this key reached AWS, and its outcome.

        With the key alone, RIs (in ``regions``) and Savings Plans tagged with it are
        searched. With the ``request`` (or for an RI purchase this market sent), the
        search is narrowed to its kind and an RI purchase also applies the matching
        rule to untagged RIs (see the module doc).
        """
        value = tag_value(idempotency_key)
        if request is None and idempotency_key in self._sent:
            request, sent_at = self._sent[idempotency_key]
            since = since or sent_at
        if isinstance(request, ReturnRequest):
            plans = fetch_savings_plans(self.clients, None,
                                        savingsPlanIds=[request.commitment_id])
            if plans and plans[0].get("state") in _RETURN_STATUS:
                return self._sp_result(idempotency_key, plans, request.commitment_id,
                                       returning=True)
            return OrderResult(idempotency_key, OrderStatus.NOT_FOUND)
        ref = None
        if isinstance(request, PurchaseRequest):
            ref = self.resolve(request.offering_id)
        elif isinstance(request, ExchangeRequest):
            ref = self._exchange_target(request)[0]
        if request is None or isinstance(ref, RiRef):
            regions = (ref.offering.region,) if isinstance(ref, RiRef) else self.regions
            tags = ((TAG_EXCHANGE,) if isinstance(request, ExchangeRequest) else
                    (TAG_PURCHASE,) if isinstance(request, PurchaseRequest) else
                    (TAG_PURCHASE, TAG_EXCHANGE))
            for region in regions:
                for tag in tags:
                    found = self._find_tagged_ris(idempotency_key, value, region, tag)
                    if found is not None:
                        return found
        if request is None or isinstance(ref, SpRef):
            plans = fetch_savings_plans(self.clients, None)
            mine = [p for p in plans if (p.get("tags") or {}).get(TAG_PURCHASE) == value]
            if mine:
                return self._sp_result(idempotency_key, mine, str(mine[0]["savingsPlanId"]))
            returned = [p for p in plans if (p.get("tags") or {}).get(TAG_RETURN) == value
                        and p.get("state") in _RETURN_STATUS]
            if returned:
                return self._sp_result(idempotency_key, returned,
                                       str(returned[0]["savingsPlanId"]), returning=True)
        if isinstance(request, PurchaseRequest) and isinstance(ref, RiRef):
            return self._claim_untagged(request, ref, since)
        return OrderResult(idempotency_key, OrderStatus.NOT_FOUND)

    def _find_tagged_ris(self, key: str, value: str, region: str,
                         tag: str) -> OrderResult | None:
        """The order of RIs tagged ``tag=value``: bought (purchase tag), or exchanged."""
        response = self.clients.call("ec2", "describe_reserved_instances", region=region,
                                     Filters=[{"Name": f"tag:{tag}", "Values": [value]}])
        ris = response.get("ReservedInstances", [])
        bought = [ri for ri in ris if tag == TAG_PURCHASE and _tags(ri).get(tag) == value]
        if bought:
            return OrderResult(key, _combined(_RI_STATUS.get(ri.get("State", ""),
                                                             OrderStatus.PENDING)
                                              for ri in bought),
                               tuple(str(ri["ReservedInstancesId"]) for ri in bought),
                               detail=f"RI in {region}: " + ", ".join(
                                   str(ri.get("State")) for ri in bought))
        given = [ri for ri in ris if tag == TAG_EXCHANGE and _tags(ri).get(tag) == value]
        if given and all(ri.get("State") == "retired" for ri in given):
            return OrderResult(key, OrderStatus.ACTIVE, (),
                               detail=f"exchanged: {len(given)} RIs retired in {region}")
        return None

    def _claim_untagged(self, request: PurchaseRequest, ref: RiRef,
                        since: datetime | None) -> OrderResult:
        offering = ref.offering
        count = instance_count(request.quantity, ref.normalization_factor, offering.instance_type)
        now = self._clock()
        earliest = (parse_time(since) if since is not None else
                    now - timedelta(seconds=self.clients.settings.match_window_s))
        assert earliest is not None
        queued = parse_time(request.start) if request.start is not None else None
        if queued is not None and queued <= now:
            queued = None
        response = self.clients.call(
            "ec2", "describe_reserved_instances", region=offering.region,
            OfferingClass=offering.offering_class, OfferingType=offering.offering_type,
            Filters=[
                {"Name": "instance-type", "Values": [offering.instance_type]},
                {"Name": "scope", "Values": ["Region"]},
                {"Name": "duration", "Values": [str(offering.duration_s)]},
                {"Name": "product-description", "Values": [offering.product_description]},
            ],
        )
        matches = []
        for ri in response.get("ReservedInstances", []):
            start = parse_time(ri.get("Start"))
            if (TAG_PURCHASE in _tags(ri) or start is None
                    or int(ri.get("InstanceCount", 0)) != count
                    or ri.get("InstanceTenancy", "default") != offering.tenancy
                    or TERM_BY_SECONDS.get(int(ri.get("Duration", 0))) is None):
                continue
            in_window = (abs(start - queued) <= _QUEUED_TOLERANCE if queued is not None
                         else earliest - _CLOCK_SKEW <= start <= now + _CLOCK_SKEW)
            if in_window:
                matches.append(ri)
        if not matches:
            return OrderResult(request.idempotency_key, OrderStatus.NOT_FOUND)
        ids = [str(ri["ReservedInstancesId"]) for ri in matches]
        if len(matches) > 1:
            raise AwsProviderError(
                f"{len(ids)} untagged RIs match purchase {request.idempotency_key} "
                f"({', '.join(ids)}): tag the one Ladder bought with "
                f"{TAG_PURCHASE}={tag_value(request.idempotency_key)}",
                code="AmbiguousOrder", operation="ec2.DescribeReservedInstances")
        log.info("aws purchase %s: claiming untagged RI %s (same offering, count and window)",
                 request.idempotency_key, ids[0])
        self._tag_ris(offering.region, ids, TAG_PURCHASE, request.idempotency_key)
        ri = matches[0]
        return OrderResult(request.idempotency_key,
                           _RI_STATUS.get(str(ri.get("State")), OrderStatus.PENDING),
                           (ids[0],), detail=f"untagged RI claimed: {ri.get('State')}")

    # -- helpers ---------------------------------------------------------------------

    def _tag_ris(self, region: str, ids: list[str], tag: str, key: str,
                 *, required: bool = False) -> None:
        """Tag RIs with an idempotency key; a failure only loses the fast path, unless required."""
        try:
            self.clients.call("ec2", "create_tags", region=region, Resources=ids,
                              Tags=[{"Key": tag, "Value": tag_value(key)}])
        except AwsProviderError:
            if required:
                raise
            log.warning("aws: could not tag %s with %s; the matching rule still finds them",
                        ", ".join(ids), tag)

    def _tag_plan(self, arn: str, tag: str, key: str) -> None:
        try:
            self.clients.call("savingsplans", "tag_resource", resourceArn=arn,
                              tags={tag: tag_value(key)})
        except AwsProviderError:
            log.warning("aws: could not tag %s with %s", arn, tag)

    def _ri_result(self, key: str, region: str, ids: list[str]) -> OrderResult:
        """The post-purchase inventory check: the RI's state as AWS reports it now."""
        response = self.clients.call("ec2", "describe_reserved_instances", region=region,
                                     ReservedInstancesIds=ids)
        ris = response.get("ReservedInstances", [])
        if not ris:  # not listed yet (eventual consistency): bought, not yet visible
            return OrderResult(key, OrderStatus.PENDING, tuple(ids), detail="not listed yet")
        return OrderResult(key, _combined(_RI_STATUS.get(str(ri.get("State")),
                                                         OrderStatus.PENDING) for ri in ris),
                           tuple(ids), detail=", ".join(str(ri.get("State")) for ri in ris))

    def _sp_result(self, key: str, plans: Sequence[Mapping[str, Any]], plan_id: str,
                   *, returning: bool = False) -> OrderResult:
        """The state of a plan as the outcome of a purchase, or of a return."""
        mine = [p for p in plans if p.get("savingsPlanId") == plan_id] or list(plans)
        if not mine:
            return OrderResult(key, OrderStatus.PENDING, (plan_id,), detail="not listed yet")
        state = str(mine[0].get("state"))
        statuses = _RETURN_STATUS if returning else _SP_STATUS
        return OrderResult(key, statuses.get(state, OrderStatus.PENDING), (plan_id,),
                           detail=f"Savings Plan {state}")
