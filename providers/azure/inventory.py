"""Azure reservations and savings plans owned, as Ladder commitments.

Reservations come from ``reservation.list_all`` (every reservation the caller
can read, across orders); their prices from ``reservation_order.list`` (the
order's plan information: total price of the order over its original
quantity). Savings plans come from the billing benefits ``savings_plan.list_all``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from core.domain import Catalog, Commitment, Offering, PaymentOption, Shape
from providers.azure.catalog import (
    RI_KIND,
    SP_KIND,
    TERMS,
    ReservationOffering,
    SavingsPlanOffering,
    usage_key,
)
from providers.azure.sizes import load_sizes

LIVE_RESERVATION_STATES = frozenset({
    "succeeded", "creating", "pendingbilling", "confirmedbilling", "created",
    "pendingresourcehold", "confirmedresourcehold", "expiring", "warning", "nobenefit",
})
LIVE_SAVINGS_PLAN_STATES = frozenset({
    "succeeded", "creating", "pendingbilling", "confirmedbilling", "created",
})


def text(value: Any) -> str:
    """An SDK enum or string as its wire value (``ProvisioningState.SUCCEEDED`` → ``Succeeded``)."""
    if value is None:
        return ""
    return str(getattr(value, "value", value))


def _utc(moment: datetime | str | None) -> datetime | None:
    if moment is None:
        return None
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_reservation_id(arm_id: str) -> tuple[str, str]:
    """(order id, reservation id) of ``/providers/Microsoft.Capacity/reservationOrders/…``."""
    parts = arm_id.strip("/").split("/")
    lowered = [p.lower() for p in parts]
    try:
        order = parts[lowered.index("reservationorders") + 1]
        reservation = parts[lowered.index("reservations") + 1]
    except (ValueError, IndexError) as exc:
        raise ValueError(f"{arm_id!r} is not a reservation id") from exc
    return order, reservation


def reservation_commitment_id(order_id: str, reservation_id: str) -> str:
    """Ladder's id of an Azure reservation: ``<order id>/<reservation id>``."""
    return f"{order_id}/{reservation_id}"


def unit_prices(orders: Iterable[Any]) -> dict[str, float]:
    """Total price of one unit of each reservation order (order total ÷ original quantity)."""
    prices: dict[str, float] = {}
    for order in orders:
        properties = order.properties
        plan = getattr(properties, "plan_information", None) if properties else None
        total = getattr(getattr(plan, "pricing_currency_total", None), "amount", None)
        quantity = getattr(properties, "original_quantity", None) if properties else None
        if order.name and total and quantity:
            prices[order.name] = float(total) / float(quantity)
    return prices


def _scoped_subscriptions(properties: Any, subscriptions: Sequence[str]) -> list[str]:
    if (text(getattr(properties, "applied_scope_type", None)) or "Shared").lower() == "shared":
        return list(subscriptions)
    scoped: list[str] = []
    for scope in getattr(properties, "applied_scopes", None) or []:
        parts = str(scope).strip("/").split("/")
        if len(parts) >= 2 and parts[0].lower() == "subscriptions":
            scoped.append(parts[1])
    return scoped


def reservation_commitments(reservations: Iterable[Any], prices: Mapping[str, float],
                            subscriptions: Sequence[str], catalog: Catalog | None,
                            at: datetime) -> list[Commitment]:
    """VM reservations live at ``at`` (or starting later) as unit commitments."""
    sizes = load_sizes()
    owned: list[Commitment] = []
    for reservation in reservations:
        properties = reservation.properties
        if properties is None or text(properties.reserved_resource_type) != "VirtualMachines":
            continue
        if text(properties.provisioning_state).lower() not in LIVE_RESERVATION_STATES:
            continue
        size = sizes.get(str(getattr(reservation.sku, "name", "")))
        term = text(properties.term)
        start = _utc(properties.benefit_start_time or properties.effective_date_time
                     or properties.purchase_date_time)
        if size is None or term not in TERMS or start is None:
            continue
        order_id, reservation_id = parse_reservation_id(str(reservation.id))
        payment = "upfront" if text(properties.billing_plan) == "Upfront" else "monthly"
        spec = ReservationOffering(str(reservation.location), size.arm_sku, term, payment)
        scoped = _scoped_subscriptions(properties, subscriptions)
        shared = (text(properties.applied_scope_type) or "Shared").lower() == "shared"
        offering = _catalog_offering(catalog, spec.offering_id) if shared else None
        if offering is None:
            total = prices.get(order_id, 0.0)
            offering = Offering(
                offering_id=spec.offering_id + ("" if shared else ":" + ",".join(scoped)),
                shape=Shape.UNIT, term_hours=TERMS[term],
                upfront=total if payment == "upfront" else 0.0,
                hourly=0.0 if payment == "upfront" else total / TERMS[term], order=0,
                covers={usage_key(s, spec.region, size.group): size.ratio for s in scoped},
                payment_option=(PaymentOption.ALL_UPFRONT if payment == "upfront"
                                else PaymentOption.NO_UPFRONT),
                kind=RI_KIND, description=f"owned reservation {properties.display_name or ''}",
            )
        commitment = Commitment(offering=offering, quantity=float(properties.quantity or 0),
                                start=start,
                                commitment_id=reservation_commitment_id(order_id, reservation_id))
        if commitment.quantity > 0 and commitment.end > at:
            owned.append(commitment)
    return owned


def _catalog_offering(catalog: Catalog | None, offering_id: str) -> Offering | None:
    if catalog is None:
        return None
    try:
        return catalog.offering(offering_id)
    except KeyError:
        return None


def savings_plan_commitments(plans: Iterable[Any], catalog: Catalog | None,
                             at: datetime) -> list[Commitment]:
    """Savings plans live at ``at`` (or starting later) as spend commitments ($/hour)."""
    owned: list[Commitment] = []
    for plan in plans:
        properties = plan.properties
        if properties is None:
            continue
        if text(properties.provisioning_state).lower() not in LIVE_SAVINGS_PLAN_STATES:
            continue
        term = text(properties.term)
        start = _utc(properties.benefit_start_time or properties.effective_date_time
                     or properties.purchase_date_time)
        amount = getattr(properties.commitment, "amount", None)
        if term not in TERMS or start is None or not amount:
            continue
        payment = "upfront" if text(properties.billing_plan) == "Upfront" else "monthly"
        spec = SavingsPlanOffering(term, payment)
        offering = _catalog_offering(catalog, spec.offering_id) or Offering.spend(
            spec.offering_id, term_hours=TERMS[term],
            upfront_fraction=1.0 if payment == "upfront" else 0.0, rates={}, order=1,
            kind=SP_KIND, description="owned savings plan; rates not in the catalog",
        )
        commitment = Commitment(offering=offering, quantity=float(amount), start=start,
                                commitment_id=str(plan.id))
        if commitment.end > at:
            owned.append(commitment)
    return owned
