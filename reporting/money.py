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
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

CENT = Decimal("0.01")

# Float noise (0.29 * 100 = 28.999999999999996) must not lose a cent before the remainder step.
_NOISE_DECIMALS = 6
_NOISE = Decimal(1).scaleb(-_NOISE_DECIMALS)


def round_cents(value: float) -> int:
    """A float amount in whole cents, rounded half-up with ``decimal``.

    Float noise below a millionth of a cent is removed first (half-even), so that
    157.95499999999998 — the float sum of amounts adding up to 157.955 — rounds
    to 15796 cents, as the exact sum would.
    """
    if not np.isfinite(value):
        raise ValueError(f"cannot round {value!r} to cents")
    cents = (Decimal(float(value)) * 100).quantize(_NOISE, rounding=ROUND_HALF_EVEN)
    return int(cents.quantize(Decimal(1), rounding=ROUND_HALF_UP))


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


def _half_up(cents: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.int64]:
    """Amounts in cents (float noise removed) rounded half away from zero, as ``round_cents``."""
    cleaned = np.round(cents, _NOISE_DECIMALS)
    return (np.sign(cleaned) * np.floor(np.abs(cleaned) + 0.5)).astype(np.int64)


def group_cents(values: npt.NDArray[np.float64],
                codes: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Cents per value such that each group's cents add to its total rounded half-up.

    The vectorised form of ``allocate_cents`` applied group by group: floors,
    then one more cent to the largest remainders of each group (ties to the
    earlier row).
    """
    if values.size == 0:
        return np.zeros(0, dtype=np.int64)
    scaled = np.round(values * 100.0, _NOISE_DECIMALS)
    floors = np.floor(scaled)
    remainders = scaled - floors
    groups = int(codes.max()) + 1
    targets = _half_up(np.bincount(codes, weights=values, minlength=groups) * 100.0)
    missing = targets - np.bincount(codes, weights=floors, minlength=groups).astype(np.int64)
    order = np.lexsort((np.arange(values.size), -remainders, codes))
    sorted_codes = codes[order]
    first = np.searchsorted(sorted_codes, np.arange(groups))
    rank = np.arange(values.size) - first[sorted_codes]
    cents = floors.astype(np.int64)
    cents[order] += (rank < missing[sorted_codes]).astype(np.int64)
    return cents


def matrix_cents(values: npt.NDArray[np.float64],
                 rows: npt.NDArray[np.bool_]) -> npt.NDArray[np.int64]:
    """``group_cents`` of a matrix's cells where ``rows``, each matrix row one group.

    The same cents as ``group_cents(values[rows], codes)`` with the matrix row as
    the code, in row-major order (a report's period × group matrix, periods being
    the rounding groups), found without a sort of the indices: in a group owed
    m cents, the rows whose remainder is above the m-th largest one get a cent,
    and of those equal to it the earliest get the rest. Cells outside ``rows`` are 0.
    """
    out = np.zeros(values.shape, dtype=np.int64)
    if not rows.any():
        return out
    codes = np.broadcast_to(np.arange(values.shape[0])[:, None], values.shape)[rows]
    picked = values[rows]
    scaled = np.round(picked * 100.0, _NOISE_DECIMALS)
    floors = np.floor(scaled)
    groups = values.shape[0]
    targets = _half_up(np.bincount(codes, weights=picked, minlength=groups) * 100.0)
    missing = targets - np.bincount(codes, weights=floors, minlength=groups).astype(np.int64)
    remainders = np.full(values.shape, -np.inf)
    remainders[rows] = scaled - floors
    sizes = rows.sum(axis=1)
    owed = np.clip(missing, 0, sizes)
    ranked = -np.sort(-remainders, axis=1)
    cut = ranked[np.arange(groups), np.maximum(owed - 1, 0)][:, None]
    above = remainders > cut
    tied = rows & (remainders == cut)
    rest = (owed - above.sum(axis=1))[:, None]
    if np.any(tied.sum(axis=1)[:, None] > rest):  # more ties than cents: the earliest
        tied &= np.cumsum(tied, axis=1) <= rest
    plus = (above | tied) & (owed > 0)[:, None]
    out[rows] = floors.astype(np.int64)
    out += plus
    return out


def round_frame(frame: pd.DataFrame, money: Sequence[str],
                groups: Sequence[str] = ()) -> pd.DataFrame:
    """Round the money columns to cents in place of floats; rows of a group add to its total.

    Each money column becomes float64 values that are whole cents (their repr is
    exact, e.g. 12.34). With no ``groups`` the whole frame is one group.
    Unknown amounts (NaN) stay unknown and take no part in the totals.
    """
    if frame.empty or not money:
        return frame
    out = frame.copy()
    if groups:
        codes = out.groupby(list(groups), sort=False, dropna=False).ngroup().to_numpy()
    else:
        codes = np.zeros(len(out), dtype=np.int64)
    codes = codes.astype(np.int64)
    for column in money:
        values = out[column].to_numpy(dtype=np.float64)
        known = np.isfinite(values)
        cents = np.zeros(len(out), dtype=np.int64)
        cents[known] = group_cents(values[known], codes[known])
        out[column] = np.where(known, cents / 100.0, np.nan)
    return out


def cents_of(values: pd.Series | Sequence[float]) -> npt.NDArray[np.int64]:
    """Whole cents of amounts already rounded by ``round_frame`` (exact)."""
    return np.rint(np.asarray(values, dtype=np.float64) * 100.0).astype(np.int64)


def to_decimal(value: float) -> Decimal:
    """An amount rounded by ``round_frame`` as an exact ``Decimal`` with two places."""
    return (Decimal(round(value * 100)) / 100).quantize(CENT)


__all__ = ["CENT", "allocate_cents", "cents_of", "group_cents", "matrix_cents", "round_cents",
           "round_frame", "to_decimal"]
