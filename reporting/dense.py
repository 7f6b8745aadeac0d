"""Reports straight from the snapshot's dense cubes: numpy from the slice to the rounded rows.

Savings, coverage and chargeback grouped by a key dimension (or none), and the
amortized daily cost of a budget, are sums of the (day × key) cube
(``selection.key_matrix``) plus the unallocated commitment cost of the window.
Here they stay (period × group) matrices until one frame is made for the
``Report``, instead of a frame per step (``key_rows`` → ``concat`` → ``summed``
→ ``finish``): a report over a new window costs a few milliseconds. The figures
are the frame-by-frame path's, to the bit: the same sums in the same order —
the unallocated cost is added to a cell as pandas' ``groupby().sum()`` adds it
(Kahan-compensated, in row order) — and the same rounding (``money.matrix_cents``:
``group_cents`` on a period × group matrix).
``tests/reporting/test_report_dense.py`` compares the two on random windows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from reporting.common import Dimension, Report, ReportQuery, frozen, period_end, period_label
from reporting.definitions import UNALLOCATED
from reporting.money import matrix_cents
from reporting.selection import ALL, KeyMatrix, in_window, key_matrix, period_keys, window
from reporting.snapshot import ReportData


@dataclass(frozen=True, eq=False)
class UnallocatedDays:
    """The commitment-days with unallocated cost (``!= 0``), in the snapshot frame's order."""

    days: np.ndarray
    providers: np.ndarray
    cost: np.ndarray


def _unallocated_days(data: ReportData) -> UnallocatedDays:
    def build() -> UnallocatedDays:
        days = data.commitment_days
        if days.empty:
            return UnallocatedDays(np.zeros(0, dtype="datetime64[D]"),
                                   np.zeros(0, dtype=object), np.zeros(0))
        kept = (days["unallocated_cost"] != 0).to_numpy()
        rows = days.loc[kept]
        return UnallocatedDays(rows["day"].to_numpy().astype("datetime64[D]"),
                               rows["provider"].astype(object).to_numpy(),
                               rows["unallocated_cost"].to_numpy(dtype=np.float64))
    return data.memo(("dense", "unallocated_days"), build)


def unallocated_cells(data: ReportData, query: ReportQuery
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``selection.unallocated_rows`` as arrays: (period key, group, cost) per commitment-day.

    Grouped under the provider for ``provider``, ``all`` for none, else
    ``(unallocated)``; nothing when the scope is narrower than providers.
    """
    scope = query.scope
    found = _unallocated_days(data)
    if scope.narrowed or not found.days.size:
        return (np.zeros(0, dtype="datetime64[D]"), np.zeros(0, dtype=object), np.zeros(0))
    bounds = window(data, query)
    mask = in_window(found.days, bounds)
    if scope.provider is not None:
        mask &= found.providers == scope.provider
    if query.group_by is Dimension.PROVIDER:
        group = found.providers[mask]
    else:
        label = ALL if query.group_by is Dimension.NONE else UNALLOCATED
        group = np.full(int(mask.sum()), label, dtype=object)
    return period_keys(found.days[mask], query.granularity, bounds), group, found.cost[mask]


@dataclass(frozen=True, eq=False)
class Cells:
    """Figures per (period, group): ``present[p, g]`` says which cells are rows."""

    period_keys: np.ndarray
    labels: np.ndarray
    present: np.ndarray
    values: dict[str, np.ndarray]


def cells(matrix: KeyMatrix, figures: Sequence[str]) -> Cells:
    """The key matrix's cells; a row where any of ``figures`` is not zero (as ``key_sums``)."""
    present = np.zeros(matrix.shape, dtype=bool)
    for figure in figures:
        present |= matrix.sums[figure] != 0
    return Cells(matrix.period_keys, matrix.labels, present, dict(matrix.sums))


def add_unallocated(found: Cells, extra: tuple[np.ndarray, np.ndarray, np.ndarray],
                    column: str) -> Cells:
    """``found`` with the unallocated cost added to ``column``: concat + groupby-sum, as arrays.

    A cell the cost falls in becomes a row; its sum is Kahan-compensated over the
    key row's value then each commitment-day's cost in order, as pandas' grouped
    sum adds the rows of ``concat([key rows, unallocated rows])``.
    """
    periods, groups, costs = extra
    if not costs.size:
        return found
    all_periods = np.union1d(found.period_keys, periods)
    all_labels = np.array(sorted(set(found.labels.tolist()) | set(groups.tolist())),
                          dtype=object)
    label_index = {label: i for i, label in enumerate(all_labels.tolist())}
    at_p = np.searchsorted(all_periods, found.period_keys)
    at_g = np.array([label_index[label] for label in found.labels.tolist()], dtype=np.int64)
    shape = (len(all_periods), len(all_labels))
    present = np.zeros(shape, dtype=bool)
    present[np.ix_(at_p, at_g)] = found.present
    values = {}
    for name, matrix in found.values.items():
        grown = np.zeros(shape)
        grown[np.ix_(at_p, at_g)] = matrix
        values[name] = grown
    target = values[column]
    rows_p = np.searchsorted(all_periods, periods).tolist()
    rows_g = [label_index[group] for group in groups.tolist()]
    sums: dict[tuple[int, int], list[float]] = {}
    for p, g, cost in zip(rows_p, rows_g, costs.tolist(), strict=True):
        state = sums.get((p, g))
        if state is None:
            state = sums[(p, g)] = [float(target[p, g]), 0.0]
        total, compensation = state
        y = cost - compensation
        t = total + y
        compensation = t - total - y
        state[0], state[1] = t, (0.0 if compensation != compensation else compensation)
    for (p, g), (total, _) in sums.items():
        target[p, g] = total
        present[p, g] = True
    return Cells(all_periods, all_labels, present, values)


def ratio(numerator: np.ndarray, denominator: np.ndarray,
          empty: float = float("nan")) -> np.ndarray:
    """numerator ÷ denominator, ``empty`` where the denominator is 0 (``common.ratio``)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator != 0,
                        numerator / np.where(denominator != 0, denominator, 1.0), empty)


def _period_hours(data: ReportData, query: ReportQuery,
                  bounds: tuple[date, date]) -> tuple[np.ndarray, np.ndarray]:
    """Hours of data per period key in the window (``selection.hours_per_period``)."""
    cube = data.cube()
    lo = cube.day_index(np.datetime64(bounds[0], "D"))
    hi = cube.day_index(np.datetime64(bounds[1], "D"))
    keys = period_keys(cube.days[lo:hi], query.granularity, bounds)
    if not keys.size:
        return keys, np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    return keys[starts], np.add.reduceat(cube.hours[lo:hi], starts)


def dense_finish(name: str, found: Cells, columns: Sequence[str], *, money: Sequence[str],
                 data: ReportData, query: ReportQuery, notes: Sequence[str] = ()
                 ) -> Report | None:
    """``selection.finish`` for cells: periods labelled, hours, money rounded per period.

    None when there is no row (the caller's frame path knows the empty frame's types).
    """
    flat = found.present.ravel()
    if not flat.any():
        return None
    n_periods, n_groups = found.present.shape
    bounds = window(data, query)
    granularity = query.granularity
    row_period = np.repeat(np.arange(n_periods), n_groups)[flat]
    starts = [pd.Timestamp(key).date() for key in found.period_keys]
    ends = [period_end(day, granularity, bounds[1]) for day in starts]
    labels = np.array([period_label(day, granularity) for day in starts], dtype=object)
    firsts = np.array([max(day, bounds[0]) for day in starts], dtype=object)
    lasts = np.array([min(day, bounds[1]) for day in ends], dtype=object)
    out: dict[str, np.ndarray] = {
        "period": labels[row_period], "period_start": firsts[row_period],
        "period_end": lasts[row_period],
        "group": np.tile(found.labels, n_periods)[flat],
    }
    if "hours" in columns:
        keys, hours = _period_hours(data, query, bounds)
        at = np.clip(np.searchsorted(keys, found.period_keys), 0, max(len(keys) - 1, 0))
        per_period = (np.where(keys[at] == found.period_keys, hours[at], 0) if len(keys)
                      else np.zeros(n_periods, dtype=np.int64))
        out["hours"] = per_period.astype(np.int64)[row_period]
    # Each (money column, period) — a row of the stacked matrices — is a rounding group.
    rounded = [c for c in columns if c in money and c in found.values]
    if rounded:
        stacked = np.concatenate([found.values[c] for c in rounded]).astype(np.float64)
        known = np.tile(found.present, (len(rounded), 1)) & np.isfinite(stacked)
        cents = np.where(known, matrix_cents(stacked, known) / 100.0, np.nan)
        for index, column in enumerate(rounded):
            out[column] = cents[index * n_periods:(index + 1) * n_periods].ravel()[flat]
    for column in columns:
        if column in out:
            continue
        if column not in found.values:
            out[column] = np.full(len(row_period), np.nan, dtype=object)
            continue
        out[column] = found.values[column].astype(np.float64).ravel()[flat]
    return Report(
        name=name, columns=tuple(columns), frame=pd.DataFrame({c: out[c] for c in columns}),
        parameters=frozen(query.to_dict()), currency=data.currency, sources=data.sources,
        notes=tuple(notes), money=tuple(money),
    )


def key_cells(data: ReportData, session: Session, query: ReportQuery,
              figures: Sequence[str]) -> Cells:
    """``key_matrix`` as cells (a row where a figure is not zero)."""
    return cells(key_matrix(data, session, query, figures), figures)


def daily_amortized(data: ReportData, session: Session, query: ReportQuery,
                    index: np.ndarray) -> pd.Series:
    """Amortized cost per day of ``index`` (``query``: day × none), as ``budgets.daily_cost``."""
    figures = ("on_demand_cost", "commitment_used_cost", "commitment_unused_cost")
    found = key_cells(data, session, query, figures)
    # Σ of the three figures of a row, left to right (DataFrame.sum(axis=1)).
    total = dict(found.values)
    total["cost"] = (total["on_demand_cost"] + total["commitment_used_cost"]
                     + total["commitment_unused_cost"])
    found = add_unallocated(Cells(found.period_keys, found.labels, found.present, total),
                            unallocated_cells(data, query), "cost")
    rows = found.present[:, 0] if found.present.size else np.zeros(0, dtype=bool)
    days = found.period_keys[rows]
    values = np.zeros(len(index))
    if days.size:
        at = np.searchsorted(index, days)
        inside = (at < len(index)) & (index[np.minimum(at, len(index) - 1)] == days)
        values[at[inside]] = found.values["cost"][rows, 0][inside]
    return pd.Series(values, index=index)


def supports(query: ReportQuery, *, tags: bool = True) -> bool:
    """Whether the dense path answers ``query`` (groups of keys or none; tags if ``tags``)."""
    if query.group_by is Dimension.COMMITMENT:
        return False
    return tags or (query.scope.tag_key is None and query.group_by is not Dimension.TAG)


__all__ = ["Cells", "add_unallocated", "cells", "daily_amortized", "dense_finish",
           "key_cells", "ratio", "supports", "unallocated_cells"]

