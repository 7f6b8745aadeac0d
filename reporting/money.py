"""Rounding money at the edge: one rule, to the cent, and largest remainders so that rows add up.

Figures are float64 inside (DESIGN.md, Money). A report rounds them once, at
the end, and every figure of every report is rounded by one function,
:func:`cents`: **half-up** (half away from zero: 0.125 → 0.13, −0.125 → −0.13),
after float noise below a millionth of a cent is removed (so 157.95499999999998,
the float sum of amounts making 157.955, rounds to 157.96 as the exact sum
would). Rounding groups (a period's rows, say) are made from the unrounded
figures: the group's total is its unrounded sum rounded by that rule, and the
rows of the group share exactly that many cents by largest remainder — each row
gets its value rounded down, and the cents still missing go one each to the
rows with the largest remainders (ties to the earlier row). Groups may nest (a
period, then each commitment in it, then the commitment's rows): each level's
cents are shared out of its parent's, so every level adds up to the one above
and the top is the same rounded total any other report of that period shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import numpy as np
import numpy.typing as npt
import pandas as pd

CENT = Decimal("0.01")

ROUNDING_RULE = ("Money is rounded once, at the edge, to the cent, half-up (half away from "
                 "zero), from the unrounded figures; the rows of each period share its rounded "
                 "total by largest remainder, so they add up to it exactly.")
"""The rule in words, for reports' notes and docs."""

# Float noise (0.29 * 100 = 28.999999999999996) must not lose a cent before the remainder step.
_NOISE_DECIMALS = 6


def cents(values: float | Sequence[float] | npt.NDArray[np.floating]) -> npt.NDArray[np.int64]:
    """Amounts in whole cents, rounded half-up (half away from zero): the one rounding rule.

    Float noise below a millionth of a cent is removed first (to even), so that an
    amount whose exact decimal value ends in a half cent rounds up even when its
    float is a hair below. Not finite amounts raise ValueError.
    """
    array = np.atleast_1d(np.asarray(values, dtype=np.float64))
    if not np.all(np.isfinite(array)):
        raise ValueError(f"cannot round {array[~np.isfinite(array)][0]!r} to cents")
    scaled = np.round(array * 100.0, _NOISE_DECIMALS)
    return (np.sign(scaled) * np.floor(np.abs(scaled) + 0.5)).astype(np.int64)


def round_cents(value: float) -> int:
    """A float amount in whole cents by :func:`cents` (half-up)."""
    return int(cents(float(value))[0])


def _floors(values: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.float64],
                                                       npt.NDArray[np.float64]]:
    scaled = np.round(values * 100.0, _NOISE_DECIMALS)
    floors = np.floor(scaled)
    return floors, scaled - floors


def share_cents(values: npt.NDArray[np.float64], codes: npt.NDArray[np.int64],
                targets: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Cents per value such that the values of group ``codes[i]`` add to ``targets[code]``.

    Largest remainder: each value rounded down, then the cents a group still
    misses one each to its values with the largest remainders (ties to the
    earlier value); a target far from the group's sum (forced) moves every value.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return np.zeros(0, dtype=np.int64)
    codes = np.asarray(codes, dtype=np.int64)
    floors, remainders = _floors(values)
    groups = len(targets)
    sizes = np.bincount(codes, minlength=groups)
    missing = np.asarray(targets, dtype=np.int64) - np.bincount(
        codes, weights=floors, minlength=groups).astype(np.int64)
    # Only a forced target misses more than one cent per value: spread the excess evenly.
    base = np.floor_divide(missing, np.maximum(sizes, 1))
    rest = missing - base * sizes
    order = np.lexsort((np.arange(values.size), -remainders, codes))
    sorted_codes = codes[order]
    first = np.searchsorted(sorted_codes, np.arange(groups))
    rank = np.arange(values.size) - first[sorted_codes]
    out = floors.astype(np.int64) + base[codes]
    out[order] += (rank < rest[sorted_codes]).astype(np.int64)
    return out


def allocate_cents(values: Sequence[float] | npt.NDArray[np.float64],
                   total_cents: int | None = None) -> npt.NDArray[np.int64]:
    """Cents per value summing exactly to ``total_cents`` (default: Σ values rounded)."""
    array = np.asarray(values, dtype=np.float64)
    if array.size == 0:
        return np.zeros(0, dtype=np.int64)
    target = round_cents(float(array.sum())) if total_cents is None else int(total_cents)
    return share_cents(array, np.zeros(array.size, dtype=np.int64),
                       np.array([target], dtype=np.int64))


def group_cents(values: npt.NDArray[np.float64],
                codes: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Cents per value such that each group's cents add to its unrounded total rounded by
    :func:`cents` (``allocate_cents`` applied group by group, vectorised)."""
    if values.size == 0:
        return np.zeros(0, dtype=np.int64)
    groups = int(codes.max()) + 1
    return share_cents(values, codes, cents(np.bincount(codes, weights=values,
                                                        minlength=groups).astype(np.float64)))


def nested_cents(values: npt.NDArray[np.float64],
                 levels: Sequence[npt.NDArray[np.int64]]) -> npt.NDArray[np.int64]:
    """Cents per value for nested rounding groups, outermost first (e.g. period, commitment).

    The outermost groups' totals are rounded by :func:`cents` from their unrounded
    sums; each inner group gets its share of its parent's cents by largest remainder
    (from its own unrounded sum), and the values theirs of their group's: every
    level adds up to the level above.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return np.zeros(0, dtype=np.int64)
    if not levels:
        levels = [np.zeros(values.size, dtype=np.int64)]
    top = np.asarray(levels[0], dtype=np.int64)
    targets = cents(np.bincount(top, weights=values,
                                minlength=int(top.max()) + 1).astype(np.float64))
    parent = top
    for inner in [*levels[1:], np.arange(values.size)]:
        pairs = np.stack([parent, np.asarray(inner, dtype=np.int64)])
        children, child = np.unique(pairs, axis=1, return_inverse=True)
        child = child.reshape(-1)
        sums = np.bincount(child, weights=values,
                           minlength=children.shape[1]).astype(np.float64)
        targets = share_cents(sums, children[0], targets)
        parent = child
    return targets[parent]


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
    targets = cents(np.bincount(codes, weights=picked, minlength=groups).astype(np.float64))
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

    ``groups`` nest, outermost first (``nested_cents``): with ``("period_key",
    "commitment")`` a period's total is rounded first, then each commitment's part
    of it, then the commitment's rows. With no ``groups`` the whole frame is one
    group. Each money column becomes float64 values that are whole cents (their
    repr is exact, e.g. 12.34). Unknown amounts (NaN) stay unknown and take no
    part in the totals.
    """
    if frame.empty or not money:
        return frame
    out = frame.copy()
    levels = [out.groupby(list(groups[:depth + 1]), sort=False, dropna=False).ngroup()
              .to_numpy().astype(np.int64) for depth in range(len(groups))]
    for column in money:
        values = out[column].to_numpy(dtype=np.float64)
        known = np.isfinite(values)
        found = np.zeros(len(out), dtype=np.int64)
        found[known] = nested_cents(values[known], [level[known] for level in levels])
        out[column] = np.where(known, found / 100.0, np.nan)
    return out


def cents_of(values: pd.Series | Sequence[float]) -> npt.NDArray[np.int64]:
    """Whole cents of amounts already rounded by ``round_frame`` (exact)."""
    return np.rint(np.asarray(values, dtype=np.float64) * 100.0).astype(np.int64)


def to_decimal(value: float) -> Decimal:
    """An amount rounded by ``round_frame`` as an exact ``Decimal`` with two places."""
    return (Decimal(round(value * 100)) / 100).quantize(CENT)


__all__ = ["CENT", "ROUNDING_RULE", "allocate_cents", "cents", "cents_of", "group_cents",
           "matrix_cents", "nested_cents", "round_cents", "round_frame", "share_cents",
           "to_decimal"]
