"""Commitments read from the bill: what a FOCUS export says the account already owns.

A FOCUS row that a commitment discount touched names it (``CommitmentDiscountId``, with its
``CommitmentDiscountType``, ``CommitmentDiscountCategory`` and, from FOCUS 1.0 on,
``CommitmentDiscountStatus``): usage it covered (status ``Used``: ``BilledCost`` 0 or
reduced, ``EffectiveCost`` the commitment's amortized rate times the quantity), the part of
it no usage took in an hour (status ``Unused``: ``EffectiveCost`` the amortized price of the
idle part), and its purchase or recurring fee (``ChargeCategory`` ``Purchase``: the cash, in
``BilledCost``, with ``EffectiveCost`` 0 so that nothing is counted twice). RIs and Savings
Plans of AWS, Azure reservations and savings plans and GCP committed use discounts all bill
this way.

This module sums those rows per commitment (:func:`read_bill_commitments`) and turns each
into an owned :class:`~core.domain.Commitment` of the catalog (:func:`match_commitments`):

- **Which offering.** The bill does not name a term or a payment option, but its prices do:
  on the usage a commitment covered, ``EffectiveCost / units`` is the offering's amortized
  rate for that usage key, and each (type, term, payment) of the catalog has its own. The
  offering whose rates on the covered keys are nearest, weighted by the units covered, is
  taken if it is within :data:`RATE_TOLERANCE` (relative); otherwise the commitment is
  reported as unmatched, with the rate the bill showed, and left out of the inventory
  rather than guessed.
- **How much.** Every hour of its life a commitment costs its amortized price, used or
  not, so ``(EffectiveCost used + EffectiveCost unused) / hours billed`` is its amortized
  price per hour and, divided by the offering's amortized price of one unit, its quantity.
  Amortized over the hours the bill holds, the inventory then costs what the bill's
  ``EffectiveCost`` says, to rounding.
- **Since when.** A one-time purchase row (an upfront payment) dates it exactly (its charge
  period's start; a recurring fee does not, it is billed every hour); otherwise the
  first hour the bill shows it is a lower bound, reported as such (``start_known`` false):
  the commitment may be older than the bill's first day, and its end is then late by as
  much.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any

import duckdb

from core.domain import Catalog, Commitment, Offering, Shape
from providers.focus.reader import EC2_RULES, VmRules, find_files, load_focus_rows

COLUMNS: tuple[str, ...] = (
    "CommitmentDiscountId", "CommitmentDiscountType", "CommitmentDiscountCategory",
    "CommitmentDiscountStatus", "CommitmentDiscountName", "EffectiveCost", "ChargeFrequency",
)
"""The FOCUS columns read here beyond those of the usage reader (all optional)."""

RATE_TOLERANCE = 0.02
"""How far (relative, unit-weighted) the bill's effective rates may be from an offering's
amortized rates for the commitment to be taken as that offering. Prices of one offering
differ between the catalog and the bill by rounding and by small list-price moves; the
nearest other term or payment option of the same type is 5 % or more away in every catalog
Ladder ships."""

@dataclass(frozen=True, slots=True)
class BillCommitment:
    """One commitment as the bill shows it: its charges summed over the bill.

    ``covered`` maps each usage key it discounted to (units covered, their EffectiveCost).
    ``hours`` counts the distinct charge hours any of its rows fell in; ``first_hour`` and
    ``end`` bound them. ``purchase_start`` is the start of its earliest one-time purchase
    row, when the bill holds one (then its start is known exactly).
    """

    commitment_id: str
    discount_type: str | None
    category: str | None
    name: str | None
    first_hour: datetime
    end: datetime
    hours: int
    used_effective: float
    unused_effective: float
    billed: float
    effective: float
    purchase_start: datetime | None = None
    covered: Mapping[str, tuple[float, float]] = field(
        default_factory=lambda: MappingProxyType({}))

    @property
    def amortized_hourly(self) -> float:
        """Its amortized price per hour billed: what it cost used or not, over its hours."""
        return (self.used_effective + self.unused_effective) / self.hours if self.hours else 0.0

    def effective_rates(self) -> dict[str, float]:
        """Per covered usage key, EffectiveCost per unit covered (keys with units only)."""
        return {key: cost / units for key, (units, cost) in self.covered.items() if units > 0}


@dataclass(frozen=True, slots=True)
class Unmatched:
    """A commitment of the bill that no catalog offering explains, and why."""

    commitment_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class BillInventory:
    """The owned commitments the bill shows, and those it shows that were left out (ended,
    or not explained by any offering of the catalog), each with its reason."""

    commitments: tuple[Commitment, ...]
    unmatched: tuple[Unmatched, ...]
    start_known: Mapping[str, bool]

    def details(self) -> dict[str, object]:
        """The plan-details entry (JSON): how many came from the bill, and what was left out."""
        return {
            "from_bill": len(self.commitments),
            "start_estimated": sorted(k for k, known in self.start_known.items() if not known),
            "left_out": [{"commitment_id": u.commitment_id, "reason": u.reason}
                          for u in self.unmatched],
        }


def read_bill_commitments(path: str | Path | Sequence[str | Path],
                          rules: VmRules = EC2_RULES) -> tuple[BillCommitment, ...]:
    """Every commitment the FOCUS files at ``path`` name, with its charges summed.

    The rows are loaded and checked by the usage reader's rules (``rules`` decides which
    rows are compute usage and their usage keys); a file without ``CommitmentDiscountId``
    names none.
    """
    files = _files(path)
    con = duckdb.connect(":memory:")
    try:
        load_focus_rows(con, files, rules, COLUMNS)
        totals = _totals(con)
        covered = _covered(con)
    finally:
        con.close()
    by_id: dict[str, dict[str, tuple[float, float]]] = {}
    for cid, key, units, cost in covered:
        by_id.setdefault(str(cid), {})[str(key)] = (float(units), float(cost))
    return tuple(
        BillCommitment(
            commitment_id=str(cid), discount_type=_text(kind), category=_text(category),
            name=_text(name), first_hour=_utc(first), end=_utc(last), hours=int(hours),
            used_effective=float(used), unused_effective=float(unused), billed=float(billed),
            effective=float(effective),
            purchase_start=None if purchase is None else _utc(purchase),
            covered=MappingProxyType(by_id.get(str(cid), {})),
        )
        for (cid, kind, category, name, first, last, hours, used, unused, billed, effective,
             purchase) in totals
    )


def _files(path: str | Path | Sequence[str | Path]) -> list[Path]:
    if isinstance(path, str | Path):
        return find_files(Path(path))
    return [f for p in path for f in find_files(Path(p))]


# A row with an empty charge period (a one-time purchase stamped at an instant) still falls
# in the hour it starts.
_HOURS_SQL = """unnest(range(date_trunc('hour', ChargePeriodStart_ts),
    greatest(ChargePeriodEnd_ts, ChargePeriodStart_ts + INTERVAL 1 MICROSECOND),
    INTERVAL 1 HOUR))"""

_STATUS_SQL = "lower(coalesce(CommitmentDiscountStatus, 'used'))"


def _totals(con: duckdb.DuckDBPyConnection) -> list[tuple[Any, ...]]:
    """Per commitment: its type, category and name, hours, and its costs by kind of row."""
    return con.execute(f"""
        WITH rows AS (
            SELECT CommitmentDiscountId AS cid, * FROM focus_rows
            WHERE CommitmentDiscountId IS NOT NULL),
        hours AS (SELECT cid, count(DISTINCT hour) AS hours FROM
            (SELECT cid, {_HOURS_SQL} AS hour FROM rows) GROUP BY cid)
        SELECT rows.cid,
            any_value(CommitmentDiscountType) AS kind,
            any_value(CommitmentDiscountCategory) AS category,
            any_value(CommitmentDiscountName) AS name,
            CAST(min(ChargePeriodStart_ts) AS TIMESTAMP) AS first_hour,
            CAST(max(greatest(ChargePeriodEnd_ts, ChargePeriodStart_ts)) AS TIMESTAMP) AS last_end,
            any_value(hours.hours) AS hours,
            coalesce(sum(TRY_CAST(EffectiveCost AS DOUBLE)) FILTER (
                WHERE ChargeCategory = 'Usage' AND {_STATUS_SQL} = 'used'), 0) AS used,
            coalesce(sum(TRY_CAST(EffectiveCost AS DOUBLE)) FILTER (
                WHERE {_STATUS_SQL} = 'unused'), 0) AS unused,
            coalesce(sum(BilledCost_num), 0) AS billed,
            coalesce(sum(TRY_CAST(EffectiveCost AS DOUBLE)), 0) AS effective,
            CAST(min(ChargePeriodStart_ts) FILTER (WHERE ChargeCategory = 'Purchase'
                AND lower(coalesce(ChargeFrequency, '')) = 'one-time') AS TIMESTAMP)
                AS purchase_start
        FROM rows JOIN hours USING (cid)
        GROUP BY rows.cid ORDER BY rows.cid
    """).fetchall()


def _covered(con: duckdb.DuckDBPyConnection) -> list[tuple[Any, ...]]:
    """Per commitment and compute usage key: units it covered and their EffectiveCost."""
    return con.execute(f"""
        SELECT CommitmentDiscountId AS cid, usage_key,
            sum(ConsumedQuantity_num * factor) AS units,
            coalesce(sum(TRY_CAST(EffectiveCost AS DOUBLE)), 0) AS cost
        FROM focus_rows
        WHERE CommitmentDiscountId IS NOT NULL AND is_used AND {_STATUS_SQL} = 'used'
        GROUP BY ALL ORDER BY ALL
    """).fetchall()


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _utc(value: datetime) -> datetime:
    """A naive UTC timestamp of DuckDB as an aware one."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# --- matching to the catalog -----------------------------------------------------------


def offering_rates(offering: Offering) -> dict[str, float]:
    """The amortized price per unit of usage the offering charges on each key it covers.

    A spend unit is one committed dollar an hour used at ``rates[key]`` dollars per unit
    of usage; a unit offering covers ``covers[key]`` units of usage for its amortized
    price per unit.
    """
    if offering.shape is Shape.SPEND:
        return dict(offering.rates)
    return {key: offering.amortized_hourly / cover
            for key, cover in offering.covers.items() if cover > 0}


def rate_distance(bill: BillCommitment, offering: Offering) -> float | None:
    """Unit-weighted relative distance between the bill's effective rates and the offering's,
    or None when the offering does not cover every key the commitment covered."""
    rates = offering_rates(offering)
    seen = bill.effective_rates()
    if not seen or any(key not in rates for key in seen):
        return None
    weighted = sum(bill.covered[key][0] * abs(rate - rates[key]) for key, rate in seen.items())
    expected = sum(bill.covered[key][0] * rates[key] for key in seen)
    return weighted / expected if expected > 0 else None


def _shape_of(bill: BillCommitment) -> Shape | None:
    """The catalog shape the bill's category names (Spend or Usage), if it names one."""
    category = (bill.category or "").strip().lower()
    return {"spend": Shape.SPEND, "usage": Shape.UNIT}.get(category)


def match_commitment(bill: BillCommitment, catalog: Catalog) -> Commitment | Unmatched:
    """The owned commitment of ``catalog`` the bill's commitment is, or why there is none."""
    if not bill.covered:
        return Unmatched(bill.commitment_id, "the bill shows no compute usage it covered, "
                         "so its offering cannot be told from its rates")
    shape = _shape_of(bill)
    scored = [(distance, offering.order, offering) for offering in catalog.offerings
              if shape is None or offering.shape is shape
              if (distance := rate_distance(bill, offering)) is not None]
    if not scored:
        return Unmatched(bill.commitment_id, "no offering of the catalog covers every usage key "
                         f"it covered ({', '.join(sorted(bill.covered))})")
    distance, _, offering = min(scored, key=lambda item: (item[0], item[1]))
    if distance > RATE_TOLERANCE:
        seen = ", ".join(f"{k} {r:.6g}/unit" for k, r in sorted(bill.effective_rates().items()))
        return Unmatched(bill.commitment_id,
                         f"its effective rates ({seen}) are {distance:.1%} from the nearest "
                         f"offering, {offering.offering_id} (tolerance {RATE_TOLERANCE:.0%})")
    quantity = bill.amortized_hourly / offering.amortized_hourly
    if quantity <= 0:
        return Unmatched(bill.commitment_id, "its EffectiveCost sums to zero: no quantity")
    start = bill.purchase_start or bill.first_hour
    return Commitment(offering=offering, quantity=quantity, start=start,
                      commitment_id=bill.commitment_id)


def match_commitments(bills: Sequence[BillCommitment], catalog: Catalog, *,
                      data_end: datetime | None = None) -> BillInventory:
    """Every commitment of the bill as an owned commitment of the catalog, or left out.

    With ``data_end`` (the end of the bill's data), a commitment the bill's last day no
    longer charges has ended (a live RI or Savings Plan is charged every hour, used or
    not) and is left out whatever its term says.
    """
    owned: list[Commitment] = []
    left_out: list[Unmatched] = []
    for bill in bills:
        if data_end is not None and bill.end < data_end - timedelta(days=1):
            left_out.append(Unmatched(bill.commitment_id, "ended: the bill last charges it "
                                      f"at {bill.end.isoformat()}, before its last day"))
            continue
        found = match_commitment(bill, catalog)
        if isinstance(found, Commitment):
            owned.append(found)
        else:
            left_out.append(found)
    starts = {bill.commitment_id: bill.purchase_start is not None for bill in bills}
    known = {c.commitment_id: starts[c.commitment_id] for c in owned}
    return BillInventory(tuple(owned), tuple(left_out), MappingProxyType(known))


# --- reconciling with the cloud's inventory ---------------------------------------------


def commitment_key(commitment_id: str) -> str:
    """The id a cloud API and a bill both know a commitment by: the last segment of an ARN
    or a resource path (``arn:aws:savingsplans::1:savingsplan/ID`` and ``ID`` are one), case
    folded."""
    text = commitment_id.strip()
    for separator in ("/", ":"):
        text = text.rsplit(separator, 1)[-1]
    return text.lower()


def reconcile(api: Sequence[Commitment], bill: BillInventory
              ) -> tuple[tuple[Commitment, ...], tuple[str, ...]]:
    """The inventory: the cloud API's commitments, with those only the bill shows added;
    and a line for each commitment both know whose amortized price an hour differs.

    The API is the record of what a commitment is (offering, quantity, start, term), since
    it is current to the minute while a bill averages a month; where only the bill knows one
    (no credentials, or a commitment of another account of the billing family), the bill's
    is used. What was charged is the bill's in every report (amortized cost is the file's
    EffectiveCost); a disagreement is listed so that a reviewer sees it, not silently fixed.
    """
    from_bill = {commitment_key(c.commitment_id): c for c in bill.commitments}
    merged: list[Commitment] = []
    differ: list[str] = []
    for commitment in api:
        seen = from_bill.pop(commitment_key(commitment.commitment_id), None) \
            if commitment.commitment_id else None
        if seen is not None and not _same_price(seen, commitment):
            differ.append(
                f"{commitment.commitment_id}: the API lists "
                f"{_hourly(commitment):.4f}/h amortized, the bill charged {_hourly(seen):.4f}/h")
        merged.append(commitment)
    merged.extend(from_bill.values())
    return tuple(sorted(merged, key=lambda c: (c.start, c.commitment_id))), tuple(differ)


def _hourly(commitment: Commitment) -> float:
    return commitment.quantity * commitment.offering.amortized_hourly


def _same_price(bill: Commitment, api: Commitment) -> bool:
    """Whether the two charge the same amortized price an hour, within a cent a day."""
    return abs(_hourly(bill) - _hourly(api)) <= 0.01 / 24


__all__ = ["COLUMNS", "RATE_TOLERANCE", "BillCommitment", "BillInventory", "Unmatched",
           "commitment_key", "match_commitment", "match_commitments", "offering_rates",
           "rate_distance", "read_bill_commitments", "reconcile"]
