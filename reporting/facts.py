"""From hourly usage and commitments to daily reporting facts, through the billing engine.

The engine (``core.billing.bill``) runs once per snapshot over every hour and
key; this module prices its result and sums it per UTC day, so that reports
read a few hundred thousand daily rows instead of re-billing millions of
hour × key cells per request.

Prices: the engine orders keys by the ``rates`` given (the catalog's on-demand
rates, as the optimizer sees them); dollars are then priced at each hour's own
on-demand price from FOCUS (``on_demand_cost ÷ units`` of that hour and key), so
that the on-demand equivalent is exactly the FOCUS ListCost of the usage.

Per hour ``h``, key ``k`` and commitment ``c`` (amortized rate ``a_c`` per unit):

* covered units ``x[h,k,c]`` and on-demand units come from the engine;
* ``used_cost[h,k,c] = x[h,k,c] · w[k,c] · a_c`` where ``w`` is the commitment
  consumed per covered unit (``1 / covers[k]`` for a unit commitment, its
  ``rates[k]`` for a spend one), so Σ_k used_cost = the engine's used × a_c;
* ``unused_cost[h,c] = quantity[h,c] · a_c − Σ_k used_cost[h,k,c]``, allocated
  to c's eligible keys in proportion to their on-demand equivalent in hour h
  (``definitions.UNUSED_RULE``); hours with no eligible usage stay unallocated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt
import pandas as pd

from core.billing import bill
from core.db.frames import usage_matrix
from core.domain import Commitment, Shape

FloatArray = npt.NDArray[np.float64]

KEY_DAY_COLUMNS = (
    "day", "usage_key", "units", "on_demand_equivalent", "covered_on_demand", "on_demand_cost",
    "commitment_used_cost", "commitment_unused_cost",
)
COMMITMENT_DAY_COLUMNS = (
    "day", "position", "active_hours", "quantity_hours", "used_quantity_hours",
    "commitment_cost", "used_cost", "covered_units", "covered_on_demand", "unallocated_cost",
)
ALLOCATION_COLUMNS = (
    "day", "usage_key", "position", "covered_units", "covered_on_demand", "used_cost",
    "unused_cost",
)


@dataclass(frozen=True, eq=False)
class Facts:
    """Daily facts of one billing: per key, per commitment, per (key, commitment).

    ``commitments`` are in billing order (by start); a commitment's ``position``
    in the frames is its index there. ``day`` columns hold ``datetime.date``.
    """

    key_days: pd.DataFrame
    commitment_days: pd.DataFrame
    allocations: pd.DataFrame
    commitments: tuple[Commitment, ...]
    start: datetime
    end: datetime


def _day_bounds(hours: pd.DatetimeIndex) -> tuple[npt.NDArray[np.intp], list[object]]:
    """Index of the first hour of each UTC day, and the days."""
    days = hours.floor("D")
    first = np.flatnonzero(np.r_[True, days[1:] != days[:-1]]) if len(days) else np.array([])
    return first.astype(np.intp), [d.date() for d in days[first]]


def _daily(values: FloatArray, first: npt.NDArray[np.intp]) -> FloatArray:
    """Sum hourly rows into days (``first`` from ``_day_bounds``)."""
    if values.shape[0] == 0:
        return values
    return np.add.reduceat(values, first, axis=0)


def _consumption(commitment: Commitment, keys: Sequence[str],
                 positions: npt.NDArray[np.intp]) -> FloatArray:
    """Commitment consumed per unit of usage covered, for each key position."""
    offering = commitment.offering
    if offering.shape is Shape.UNIT:
        return np.array([1.0 / offering.covers[keys[p]] for p in positions])
    return np.array([offering.rates[keys[p]] for p in positions])


def compute_facts(
    usage: pd.DataFrame,
    commitments: Sequence[Commitment],
    *,
    rates: Mapping[str, float],
    start: datetime,
    end: datetime,
) -> Facts:
    """Bill ``usage`` (``HOURLY_COLUMNS``) over ``[start, end)`` and sum the result per day.

    ``rates`` gives each key's on-demand rate for the engine's order; keys
    missing there fall back to their average price in ``usage``.
    """
    keys = tuple(sorted(usage["usage_key"].unique()))
    units_m = usage_matrix(usage, keys=keys, start=start, end=end, column="units")
    cost = usage_matrix(usage, keys=keys, start=start, end=end, column="on_demand_cost").values
    units = units_m.values
    total_units, total_cost = units.sum(axis=0), cost.sum(axis=0)
    average = np.divide(total_cost, total_units, out=np.zeros(len(keys)),
                        where=total_units > 0)
    engine_rates = np.array([rates.get(k, average[i]) or average[i] for i, k in
                             enumerate(keys)], dtype=np.float64)
    engine_rates = np.where(engine_rates > 0, engine_rates, 1e-12)
    # Each hour's own on-demand price; where nothing ran the key's rate (never multiplied).
    price = np.divide(cost, units, out=np.broadcast_to(engine_rates, units.shape).copy(),
                      where=units > 0)

    ordered = sorted(commitments, key=lambda c: c.start)
    result = bill(units, keys, engine_rates, ordered, start)
    first, days = _day_bounds(units_m.hours)
    n_days, n_keys = len(days), len(keys)

    used_by_key = np.zeros((n_days, n_keys))
    unused_by_key = np.zeros((n_days, n_keys))
    covered_od_by_key = np.zeros((n_days, n_keys))
    commitment_rows: list[pd.DataFrame] = []
    allocation_rows: list[pd.DataFrame] = []
    day_index = np.arange(n_days)

    for c, commitment in enumerate(ordered):
        amortized = commitment.offering.amortized_hourly
        block = result.covered[c]
        positions = block.key_index
        covered = block.units
        used_cost = covered * _consumption(commitment, keys, positions) * amortized
        covered_od = covered * price[:, positions]
        paid = result.quantity[:, c] * amortized
        unused = np.maximum(paid - used_cost.sum(axis=1), 0.0)
        eligible_od = cost[:, positions]
        eligible_total = eligible_od.sum(axis=1)
        share = np.divide(eligible_od, eligible_total[:, None],
                          out=np.zeros_like(eligible_od), where=eligible_total[:, None] > 0)
        unused_alloc = unused[:, None] * share
        unallocated = np.where(eligible_total > 0, 0.0, unused)

        d_covered = _daily(covered, first)
        d_covered_od = _daily(covered_od, first)
        d_used = _daily(used_cost, first)
        d_unused = _daily(unused_alloc, first)
        used_by_key[:, positions] += d_used
        unused_by_key[:, positions] += d_unused
        covered_od_by_key[:, positions] += d_covered_od

        commitment_rows.append(pd.DataFrame({
            "day": days,
            "position": c,
            "active_hours": _daily((result.quantity[:, c] > 0).astype(np.float64), first)
            .astype(np.int64),
            "quantity_hours": _daily(result.quantity[:, c], first),
            "used_quantity_hours": _daily(result.used[:, c], first),
            "commitment_cost": _daily(paid, first),
            "used_cost": d_used.sum(axis=1),
            "covered_units": d_covered.sum(axis=1),
            "covered_on_demand": d_covered_od.sum(axis=1),
            "unallocated_cost": _daily(unallocated, first),
        }))
        nonzero = (d_covered > 0) | (d_unused > 0) | (d_used > 0)
        rows, cols = np.nonzero(nonzero)
        if rows.size:
            allocation_rows.append(pd.DataFrame({
                "day": [days[r] for r in day_index[rows]],
                "usage_key": [keys[p] for p in positions[cols]],
                "position": c,
                "covered_units": d_covered[rows, cols],
                "covered_on_demand": d_covered_od[rows, cols],
                "used_cost": d_used[rows, cols],
                "unused_cost": d_unused[rows, cols],
            }))

    d_units = _daily(units, first)
    d_od = _daily(cost, first)
    d_on_demand_cost = _daily(result.on_demand_units * price, first)
    key_days = pd.DataFrame({
        "day": np.repeat(np.array(days, dtype=object), n_keys),
        "usage_key": np.tile(np.array(keys, dtype=object), n_days),
        "units": d_units.ravel(),
        "on_demand_equivalent": d_od.ravel(),
        "covered_on_demand": covered_od_by_key.ravel(),
        "on_demand_cost": d_on_demand_cost.ravel(),
        "commitment_used_cost": used_by_key.ravel(),
        "commitment_unused_cost": unused_by_key.ravel(),
    })
    figures = list(KEY_DAY_COLUMNS[2:])
    key_days = key_days[(key_days[figures] != 0).any(axis=1)].reset_index(drop=True)
    commitment_days = (
        pd.concat(commitment_rows, ignore_index=True) if commitment_rows
        else pd.DataFrame({c: pd.Series(dtype=object) for c in COMMITMENT_DAY_COLUMNS})
    )
    commitment_days = commitment_days[commitment_days["active_hours"] > 0].reset_index(
        drop=True)
    allocations = (
        pd.concat(allocation_rows, ignore_index=True) if allocation_rows
        else pd.DataFrame({c: pd.Series(dtype=object) for c in ALLOCATION_COLUMNS})
    )
    return Facts(
        key_days=key_days[list(KEY_DAY_COLUMNS)],
        commitment_days=commitment_days[list(COMMITMENT_DAY_COLUMNS)],
        allocations=allocations[list(ALLOCATION_COLUMNS)],
        commitments=tuple(ordered),
        start=start,
        end=end,
    )


__all__ = ["ALLOCATION_COLUMNS", "COMMITMENT_DAY_COLUMNS", "KEY_DAY_COLUMNS", "Facts",
           "compute_facts"]
