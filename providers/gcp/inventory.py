"""GCP commitments owned by a project, as Ladder commitments (one per resource)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from core.domain import Catalog, Commitment, Offering, PaymentOption, Shape
from providers.gcp.catalog import KIND, PLAN_TERMS, CudOffering, usage_key
from providers.gcp.market import commitment_id
from providers.gcp.pricing import MB_PER_GIB, PLANS, SERIES_BY_TYPE

LIVE = frozenset({"ACTIVE", "NOT_YET_ACTIVE", "CREATING"})
_RESOURCES = {"VCPU": "vcpu", "MEMORY": "memory"}


def _timestamp(text: str) -> datetime | None:
    if not text:
        return None
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _offering(catalog: Catalog | None, project: str, spec: CudOffering) -> Offering:
    """The catalog's offering, or one built from the commitment when the catalog lacks it."""
    if catalog is not None:
        try:
            return catalog.offering(spec.offering_id)
        except KeyError:
            pass
    return Offering(
        offering_id=spec.offering_id, shape=Shape.UNIT, term_hours=PLANS[spec.plan],
        upfront=0.0, hourly=0.0, order=0,
        covers={usage_key(project, spec.region, spec.series, spec.resource): 1.0},
        payment_option=PaymentOption.NO_UPFRONT, kind=KIND,
        description="owned GCP commitment; price not in the bundled catalog",
    )


def to_commitments(region: str, commitment: Any, project: str,
                   catalog: Catalog | None) -> list[Commitment]:
    """One GCP commitment as Ladder commitments: one per vCPU or memory resource.

    Commitments of series Ladder does not price, and resources other than vCPU
    and memory (GPUs, local SSD), are left out.
    """
    series = SERIES_BY_TYPE.get(commitment.type_)
    term = PLAN_TERMS.get(commitment.plan)
    start = _timestamp(commitment.start_timestamp) or _timestamp(commitment.creation_timestamp)
    if series is None or term is None or start is None:
        return []
    owned: list[Commitment] = []
    for resource in commitment.resources:
        kind = _RESOURCES.get(resource.type_)
        if kind is None or resource.amount <= 0:
            continue
        quantity = float(resource.amount) if kind == "vcpu" else resource.amount / MB_PER_GIB
        spec = CudOffering(region, series, kind, term)
        owned.append(Commitment(
            offering=_offering(catalog, project, spec), quantity=quantity, start=start,
            commitment_id=f"{commitment_id(region, commitment.name)}:{kind}",
        ))
    return owned


def live_commitments(pages: Any, project: str, catalog: Catalog | None,
                     at: datetime) -> Sequence[Commitment]:
    """Commitments of an aggregated list that are active at ``at`` or start later."""
    owned: list[Commitment] = []
    for scope, scoped in pages:
        region = scope.removeprefix("regions/")
        for commitment in scoped.commitments:
            if commitment.status not in LIVE:
                continue
            owned.extend(c for c in to_commitments(region, commitment, project, catalog)
                         if c.end > at)
    return sorted(owned, key=lambda c: (c.start, c.commitment_id))
