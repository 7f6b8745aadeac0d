"""Rounding money at the edge: to the cent, with a largest-remainder step so that rows add up.

Figures are float64 inside (DESIGN.md, Money). A report rounds them once, at
the end: each group's total (a period's bill, say) is rounded half-up to the
cent with ``decimal``, then the rows of the group share that many cents — each
row gets its value rounded down, and the cents still missing go one each to the
rows with the largest remainders (ties to the earlier row). So the rounded rows
of a group always add up exactly to the group's rounded total.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import numpy.typing as npt
import pandas as pd

CENT = Decimal("0.01")

# Float noise (0.29 * 100 = 28.999999999999996) must not lose a cent before the remainder step.
_NOISE_DECIMALS = 6


def round_cents(value: float) -> int:
    """A float amount rounded half-up to whole cents (``decimal`` on its shortest repr)."""
    if not np.isfinite(value):
        raise ValueError(f"cannot round {value!r} to cents")
    return int(Decimal(repr(float(value))).quantize(CENT, rounding=ROUND_HALF_UP) * 100)


def allocate_cents(values: Sequence[float] | npt.NDArray[np.float64],
                   total_cents: int | None = None) -> npt.NDArray[np.int64]:
    """Cents per value summing exactly to ``total_cents`` (default: Σ values rounded)."""
    array = np.asarray(values, dtype=np.float64)
    if array.size == 0:
        return np.zeros(0, dtype=np.int64)
    target = round_cents(float(array.sum())) if total_cents is None else int(total_cents)
    scaled = np.round(array * 100.0, _NOISE_DECIMALS)
    floors = np.floor(scaled)
    remainders = scaled - floors
    cents = floors.astype(np.int64)
    missing = target - int(cents.sum())
    if missing > 0:
        # Stable sort on -remainder: ties go to the earlier row.
        order = np.argsort(-remainders, kind="stable")
        cents[order[: min(missing, cents.size)]] += 1
        missing -= min(missing, cents.size)
        if missing:  # only when total_cents was forced far from Σ values
            cents[0] += missing
    elif missing < 0:
        order = np.argsort(remainders, kind="stable")
        take = min(-missing, cents.size)
        cents[order[:take]] -= 1
        if -missing > take:
            cents[0] += missing + take
    return cents


def round_frame(frame: pd.DataFrame, money: Sequence[str],
                groups: Sequence[str] = ()) -> pd.DataFrame:
    """Round the money columns to cents in place of floats; rows of a group add to its total.

    Each money column becomes float64 values that are whole cents (their repr is
    exact, e.g. 12.34). With no ``groups`` the whole frame is one group.
    """
    if frame.empty or not money:
        return frame
    out = frame.copy()
    if groups:
        codes = out.groupby(list(groups), sort=False, dropna=False).ngroup().to_numpy()
    else:
        codes = np.zeros(len(out), dtype=np.int64)
    order = np.argsort(codes, kind="stable")
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    slices = np.split(order, bounds)
    for column in money:
        values = out[column].to_numpy(dtype=np.float64)
        cents = np.zeros(len(out), dtype=np.int64)
        known = np.isfinite(values)
        for rows in slices:
            rows = rows[known[rows]]
            cents[rows] = allocate_cents(values[rows])
        # Unknown amounts (NaN: a FOCUS cost the files lack) stay unknown.
        out[column] = np.where(known, cents / 100.0, np.nan)
    return out


def cents_of(values: pd.Series | Sequence[float]) -> npt.NDArray[np.int64]:
    """Whole cents of amounts already rounded by ``round_frame`` (exact)."""
    return np.rint(np.asarray(values, dtype=np.float64) * 100.0).astype(np.int64)


def to_decimal(value: float) -> Decimal:
    """An amount rounded by ``round_frame`` as an exact ``Decimal`` with two places."""
    return (Decimal(round(value * 100)) / 100).quantize(CENT)


__all__ = ["CENT", "allocate_cents", "cents_of", "round_cents", "round_frame", "to_decimal"]
