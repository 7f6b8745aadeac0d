"""The billing engine: how commitments apply to usage, hour by hour, as the clouds bill it.

Each hour, in this order (DESIGN.md, "Application order"; BENCHMARK.md, catalog):

1. unit commitments, sorted by ``(order, offering_id, start)``, each covering
   first the key where one unit displaces the most on-demand dollars
   (``covers[key] * on_demand_rate``), up to its size;
2. spend commitments, sorted the same way (narrowest scope first), each covering
   first the usage with the highest discount (``1 - rates[key] / on_demand_rate``),
   ties to the lowest rate, then to the key listed first;
3. what is left is on-demand.

The greedy order inside one commitment does not depend on the hour, so the
engine loops over (commitment, eligible key) pairs and is vectorised over hours:
a year of hours × 300 keys × 50 commitments is a few thousand numpy operations
on 8,760-element vectors (``benchmarks/billing.py`` prints the time).

Everything else (coverage, utilisation, ESR, amortized cost, waste) is computed
from the one :class:`BillingResult` by :func:`summarize`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt

from core.domain import HOUR, Commitment, Offering, Shape

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]


@dataclass(frozen=True, slots=True)
class CoveredBlock:
    """Units of usage one commitment covered: ``units[h, j]`` of key ``key_index[j]``."""

    key_index: IntArray
    units: FloatArray


@dataclass(frozen=True, slots=True)
class BillingResult:
    """The outcome of applying commitments to usage over ``H`` hours, ``K`` keys, ``C`` commitments.

    ``quantity[h, c]`` is the size of commitment ``c`` active in hour ``h`` (0 when
    inactive); ``used[h, c]`` how much of it covered usage, in its own unit
    (normalised units of capacity for unit commitments, dollars for spend ones).
    """

    key_ids: tuple[str, ...]
    on_demand_rates: FloatArray
    offerings: tuple[Offering, ...]
    usage: FloatArray
    quantity: FloatArray
    used: FloatArray
    covered: tuple[CoveredBlock, ...]
    on_demand_units: FloatArray

    @property
    def unused(self) -> FloatArray:
        """Commitment paid for but not used, per hour and commitment, in its own unit."""
        return np.maximum(self.quantity - self.used, 0.0)

    @property
    def covered_units(self) -> FloatArray:
        """Units covered by any commitment, per hour and key."""
        return self.usage - self.on_demand_units

    def covered_by(self, commitment: int) -> FloatArray:
        """Dense ``(H, K)`` units covered by one commitment."""
        block = self.covered[commitment]
        dense = np.zeros_like(self.usage)
        dense[:, block.key_index] = block.units
        return dense

    @property
    def amortized_rates(self) -> FloatArray:
        """Amortized cost per unit-hour of each commitment column."""
        return np.array([o.amortized_hourly for o in self.offerings], dtype=np.float64)


def _key_positions(offering: Offering, key_index: dict[str, int]) -> tuple[IntArray, FloatArray]:
    weights = offering.covers if offering.shape is Shape.UNIT else offering.rates
    known = [(key_index[k], w) for k, w in weights.items() if k in key_index]
    positions = np.array([p for p, _ in known], dtype=np.intp)
    values = np.array([w for _, w in known], dtype=np.float64)
    return positions, values


def _greedy_order(
    offering: Offering, positions: IntArray, weights: FloatArray, rates: FloatArray
) -> npt.NDArray[np.intp]:
    """Permutation of an offering's keys in the order the cloud covers them."""
    if offering.shape is Shape.UNIT:
        displaced = weights * rates[positions]
        # lexsort sorts by the last key first: displaced dollars (desc), then catalog order.
        return np.lexsort((positions, -displaced))
    discount = 1.0 - weights / rates[positions]
    return np.lexsort((positions, weights, -discount))


def apply_commitments(
    usage: FloatArray,
    key_ids: Sequence[str],
    on_demand_rates: FloatArray,
    offerings: Sequence[Offering],
    quantity: FloatArray,
) -> BillingResult:
    """Apply commitments to hourly usage in the clouds' order.

    ``usage`` is ``(H, K)`` normalised units per hour and key, ``on_demand_rates``
    ``(K,)`` dollars per unit-hour, ``offerings[c]`` the offering of commitment
    ``c`` and ``quantity`` ``(H, C)`` its active size each hour.
    """
    usage = np.asarray(usage, dtype=np.float64)
    rates = np.asarray(on_demand_rates, dtype=np.float64)
    quantity = np.asarray(quantity, dtype=np.float64).reshape(usage.shape[0], len(offerings))
    if usage.ndim != 2 or usage.shape[1] != len(key_ids) or rates.shape != (len(key_ids),):
        raise ValueError("usage must be (hours, keys) and rates (keys,) matching key_ids")
    key_index = {k: i for i, k in enumerate(key_ids)}
    remaining = usage.copy()
    used = np.zeros_like(quantity)
    blocks: list[CoveredBlock | None] = [None] * len(offerings)

    for c in _application_order(offerings):
        offering = offerings[c]
        positions, weights = _key_positions(offering, key_index)
        units = np.zeros((usage.shape[0], len(positions)))
        capacity = quantity[:, c].copy()
        for j in _greedy_order(offering, positions, weights, rates):
            k = positions[j]
            if offering.shape is Shape.UNIT:
                # One unit of capacity covers weights[j] units of this key.
                take = np.minimum(remaining[:, k], capacity * weights[j])
                capacity -= take / weights[j]
            else:
                # One committed dollar covers 1 / rate units of this key.
                take = np.minimum(remaining[:, k], capacity / weights[j])
                capacity -= take * weights[j]
            np.maximum(capacity, 0.0, out=capacity)
            remaining[:, k] -= take
            units[:, j] = take
        used[:, c] = quantity[:, c] - capacity
        blocks[c] = CoveredBlock(positions, units)

    return BillingResult(
        key_ids=tuple(key_ids),
        on_demand_rates=rates,
        offerings=tuple(offerings),
        usage=usage,
        quantity=quantity,
        used=used,
        covered=tuple(b for b in blocks if b is not None),
        on_demand_units=remaining,
    )


def _application_order(offerings: Sequence[Offering]) -> list[int]:
    """Commitment columns in billing order: unit before spend, then order, then id.

    Python's sort is stable, so commitments of the same offering keep their
    column order (callers put older commitments first).
    """
    return sorted(
        range(len(offerings)),
        key=lambda c: (offerings[c].shape is not Shape.UNIT, offerings[c].order,
                       offerings[c].offering_id),
    )


def schedule(commitments: Sequence[Commitment], start: datetime, hours: int) -> FloatArray:
    """Active quantity ``(hours, C)`` of each commitment over ``[start, start + hours)``."""
    quantity = np.zeros((hours, len(commitments)))
    for c, commitment in enumerate(commitments):
        first = int((commitment.start - start) / HOUR)
        last = first + commitment.offering.term_hours
        if commitment.ended_at is not None:
            # Given up early (exchanged or returned): it stops then, not at its term's end.
            last = min(last, int((commitment.ended_at - start) / HOUR))
        lo, hi = max(first, 0), min(last, hours)
        if lo < hi:
            quantity[lo:hi, c] = commitment.quantity
    return quantity


def bill(
    usage: FloatArray,
    key_ids: Sequence[str],
    on_demand_rates: FloatArray,
    commitments: Sequence[Commitment],
    start: datetime,
) -> BillingResult:
    """Apply dated commitments to usage whose first row is the hour ``start``."""
    ordered = sorted(commitments, key=lambda c: c.start)
    quantity = schedule(ordered, start, np.asarray(usage).shape[0])
    return apply_commitments(usage, key_ids, on_demand_rates,
                             [c.offering for c in ordered], quantity)


@dataclass(frozen=True, slots=True)
class CommitmentSummary:
    """One commitment's figures over a window (dollars)."""

    offering_id: str
    commitment_cost: float
    used_cost: float
    covered_on_demand: float

    @property
    def waste(self) -> float:
        """Amortized cost of the part of the commitment that covered nothing."""
        return self.commitment_cost - self.used_cost

    @property
    def utilisation(self) -> float:
        """Used share of what was paid for (1.0 when nothing was paid)."""
        return self.used_cost / self.commitment_cost if self.commitment_cost else 1.0


@dataclass(frozen=True, slots=True)
class BillingSummary:
    """The KPIs of DESIGN.md ("Money") over a window, all derived from one BillingResult.

    * on-demand equivalent = Σ usage × on-demand rate;
    * amortized cost (``total_cost``) = commitment cost + on-demand cost;
    * realised savings = on-demand equivalent − amortized cost; ESR = savings ÷ equivalent;
    * coverage = covered on-demand dollars ÷ on-demand equivalent;
    * utilisation = used commitment dollars ÷ commitment dollars; waste = the unused dollars.
    """

    hours: int
    on_demand_equivalent: float
    commitment_cost: float
    on_demand_cost: float
    by_commitment: tuple[CommitmentSummary, ...]

    @property
    def total_cost(self) -> float:
        """Amortized cost: commitments (used or not) plus on-demand remainder."""
        return self.commitment_cost + self.on_demand_cost

    @property
    def savings(self) -> float:
        """Realised savings against paying on-demand for everything."""
        return self.on_demand_equivalent - self.total_cost

    @property
    def esr(self) -> float:
        """Effective Savings Rate."""
        return self.savings / self.on_demand_equivalent if self.on_demand_equivalent else 0.0

    @property
    def coverage(self) -> float:
        """Share of eligible usage, in on-demand dollars, covered by commitments."""
        covered = sum(c.covered_on_demand for c in self.by_commitment)
        return covered / self.on_demand_equivalent if self.on_demand_equivalent else 0.0

    @property
    def utilisation(self) -> float:
        """Share of commitment dollars that covered usage (1.0 with no commitment)."""
        used = sum(c.used_cost for c in self.by_commitment)
        return used / self.commitment_cost if self.commitment_cost else 1.0

    @property
    def waste(self) -> float:
        """Dollars of commitment paid for and not used."""
        return sum(c.waste for c in self.by_commitment)


def summarize(result: BillingResult, window: slice | None = None) -> BillingSummary:
    """KPIs over the hours ``window`` of a billing result (all hours by default)."""
    window = window or slice(None)
    usage = result.usage[window]
    rates = result.on_demand_rates
    amortized = result.amortized_rates
    paid = result.quantity[window] * amortized
    used = result.used[window] * amortized
    by_commitment = []
    for c, offering in enumerate(result.offerings):
        block = result.covered[c]
        covered = float(np.sum(block.units[window] @ rates[block.key_index])) \
            if block.key_index.size else 0.0
        by_commitment.append(CommitmentSummary(
            offering_id=offering.offering_id,
            commitment_cost=float(paid[:, c].sum()),
            used_cost=float(used[:, c].sum()),
            covered_on_demand=covered,
        ))
    return BillingSummary(
        hours=int(usage.shape[0]),
        on_demand_equivalent=float((usage @ rates).sum()),
        commitment_cost=float(paid.sum()),
        on_demand_cost=float((result.on_demand_units[window] @ rates).sum()),
        by_commitment=tuple(by_commitment),
    )


def by_offering(summary: BillingSummary) -> list[CommitmentSummary]:
    """Commitment figures summed per offering, in order of first appearance."""
    totals: dict[str, list[float]] = {}
    for c in summary.by_commitment:
        row = totals.setdefault(c.offering_id, [0.0, 0.0, 0.0])
        row[0] += c.commitment_cost
        row[1] += c.used_cost
        row[2] += c.covered_on_demand
    return [CommitmentSummary(k, *v) for k, v in totals.items()]
