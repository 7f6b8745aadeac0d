"""Selecting the daily facts a report reads: window, scope, tag split, grouping, periods."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from reporting.common import (
    Dimension,
    Granularity,
    Report,
    ReportQuery,
    Scope,
    add_period_columns,
    frozen,
    period_starts,
)
from reporting.definitions import UNALLOCATED
from reporting.money import round_frame
from reporting.snapshot import ReportData

ALL = "all"


def data_days(data: ReportData) -> tuple[date, date]:
    """First UTC day of the data and the first day after it."""
    start, end = data.window
    return start.date(), (end - timedelta(microseconds=1)).date() + timedelta(days=1)


def window(data: ReportData, query: ReportQuery) -> tuple[date, date]:
    """The days a report covers: the query's window, else the data's."""
    first, last = data_days(data)
    return (query.start or first, query.end or last)


def in_window(days: np.ndarray, bounds: tuple[date, date]) -> np.ndarray:
    lo, hi = (np.datetime64(bounds[0], "D"), np.datetime64(bounds[1], "D"))
    return (days >= lo) & (days < hi)


def period_keys(days: np.ndarray, granularity: Granularity,
                bounds: tuple[date, date]) -> np.ndarray:
    """Each day's period key: its period's first day, or the window's first day for ``total``."""
    if granularity is Granularity.TOTAL:
        return np.full(len(days), np.datetime64(bounds[0], "D"))
    return period_starts(np.asarray(days, dtype="datetime64[D]"), granularity)


def scope_mask(frame: pd.DataFrame, scope: Scope) -> np.ndarray:
    mask = np.ones(len(frame), dtype=bool)
    for column, value in (("provider", scope.provider), ("account", scope.account),
                          ("service", scope.service), ("usage_key", scope.usage_key)):
        if value is not None:
            mask &= (frame[column] == value).to_numpy(dtype=bool)
    return mask


@dataclass(frozen=True, eq=False)
class KeyMatrix:
    """Key-day figures summed per (period, group) as dense matrices.

    ``period_keys[p]`` is period ``p``'s key (``datetime64[D]``), ``labels[g]``
    group ``g``'s value (sorted), and ``sums[figure][p, g]`` the figure's sum.
    """

    period_keys: np.ndarray
    labels: np.ndarray
    sums: dict[str, np.ndarray]

    @property
    def shape(self) -> tuple[int, int]:
        """(periods, groups)."""
        return len(self.period_keys), len(self.labels)


def key_matrix(data: ReportData, session: Session, query: ReportQuery,
               figures: Sequence[str]) -> KeyMatrix:
    """Key-day figures in the window and scope, summed per (period, group): dense matrices.

    Works on the snapshot's dense (day × key) cube: a window is a slice of
    days, the scope a mask of keys, a tag a weight per (day, key, tag value)
    (``definitions.TAG_RULE``), a group a sum over the keys of each group
    (keys sorted by group, ``np.add.reduceat``) — a few numpy operations
    whatever the number of keys.
    """
    cube = data.cube()
    bounds = window(data, query)
    lo = cube.day_index(np.datetime64(bounds[0], "D"))
    hi = cube.day_index(np.datetime64(bounds[1], "D"))
    days = cube.days[lo:hi]
    scope = query.scope
    mask = cube.scope_mask(scope.provider, scope.account, scope.service, scope.usage_key)
    focus = (data.focus_cube(session) if any(f not in cube.values for f in figures)
             else cube.values)
    every = bool(mask.all())  # then the slices are views: no copy of the days × keys
    values = [(cube.values[f] if f in cube.values else focus[f])[lo:hi]
              for f in figures]
    values = values if every else [v[:, mask] for v in values]
    dimension = query.group_by
    if scope.tag_key is not None:
        tags, shares = data.tag_cube(session, scope.tag_key)
        weights = shares[lo:hi][:, mask]
        if scope.tag_value is not None:
            keep = [i for i, tag in enumerate(tags) if tag == scope.tag_value]
            weights = weights[:, :, keep]
            tags = tuple(tags[i] for i in keep)
    if dimension is Dimension.TAG:
        labels = np.array(tags, dtype=object)
        per_day = [np.einsum("dk,dkt->dt", v, weights) for v in values]
    else:
        if scope.tag_key is not None:
            values = [v * weights.sum(axis=2) for v in values]
        labels, order, edges = cube.grouping(dimension.value, mask)
        # Keys sorted by group, then each group's columns summed: O(days × keys).
        per_day = [_sum_segments(v if order is None else v[:, order], edges, axis=1)
                   if len(labels) else np.zeros((v.shape[0], 0)) for v in values]
    periods = period_keys(days, query.granularity, bounds)
    if len(days) == 0 or len(labels) == 0:
        return KeyMatrix(np.zeros(0, dtype="datetime64[D]"), np.zeros(0, dtype=object),
                         {f: np.zeros((0, 0)) for f in figures})
    starts = np.flatnonzero(np.r_[True, periods[1:] != periods[:-1]])
    return KeyMatrix(periods[starts], labels,
                     {f: _sum_segments(p, starts, axis=0)
                      for f, p in zip(figures, per_day, strict=True)})


def _sum_segments(values: np.ndarray, starts: np.ndarray, axis: int) -> np.ndarray:
    """``np.add.reduceat``; segments of one element (a day, a key) are the values as they are."""
    if len(starts) == values.shape[axis]:
        return values
    return np.add.reduceat(values, starts, axis=axis)


def key_sums(data: ReportData, session: Session, query: ReportQuery,
             figures: Sequence[str]) -> pd.DataFrame:
    """Key-day figures in the window and scope, summed per (period_key, group) (``key_matrix``).

    Rows whose figures are all zero are left out.
    """
    matrix = key_matrix(data, session, query, figures)
    if not matrix.period_keys.size or not matrix.labels.size:
        return pd.DataFrame(columns=["period_key", "group", *figures])
    n_periods, n_groups = matrix.shape
    flat = [matrix.sums[f].ravel() for f in figures]
    nonzero = np.any(np.stack(flat) != 0, axis=0)
    return pd.DataFrame({
        "period_key": np.repeat(matrix.period_keys, n_groups)[nonzero],
        "group": np.tile(matrix.labels, n_periods)[nonzero],
        **{figure: values[nonzero] for figure, values in zip(figures, flat, strict=True)},
    })


def key_rows(data: ReportData, session: Session, query: ReportQuery,
             figures: Sequence[str], *, frame: pd.DataFrame | None = None) -> pd.DataFrame:
    """Rows of ``frame`` in the window and scope, tag-split if asked (default: ``key_sums``).

    The result has ``period_key`` (``datetime64[D]``), ``group`` and ``figures``;
    with a tag in the scope, figures are multiplied by the tag set's share of
    each key-day (``definitions.TAG_RULE``).
    """
    if frame is None:
        return key_sums(data, session, query, figures)
    source = frame
    bounds = window(data, query)
    mask = in_window(source["day"].to_numpy(), bounds) & scope_mask(source, query.scope)
    rows = source.loc[mask]
    scope = query.scope
    if scope.tag_key is not None:
        shares = data.tag_shares(session, scope.tag_key)
        if scope.tag_value is not None:
            shares = shares[shares["tag"] == scope.tag_value]
        rows = rows.merge(shares, on=["day", "usage_key_id"], how="inner")
        rows[list(figures)] = rows[list(figures)].mul(rows["share"], axis=0)
    out = pd.DataFrame({"period_key": period_keys(rows["day"].to_numpy(), query.granularity,
                                                  bounds)})
    out["group"] = _group(rows, query.group_by)
    for column in figures:
        out[column] = rows[column].to_numpy(dtype=np.float64)
    return out


def _group(rows: pd.DataFrame, dimension: Dimension) -> np.ndarray:
    if dimension is Dimension.NONE:
        return np.full(len(rows), ALL, dtype=object)
    if dimension is Dimension.TAG:
        return rows["tag"].to_numpy(dtype=object)
    if dimension is Dimension.COMMITMENT:
        return rows["label"].astype(object).to_numpy()
    return rows[dimension.value].astype(object).to_numpy()


def unallocated_rows(data: ReportData, query: ReportQuery, *, column: str) -> pd.DataFrame:
    """Unused commitment cost of hours without eligible usage, as ``column``, per day.

    Empty when the scope is narrower than providers: that cost belongs to no
    account, service, key or tag. Grouped under the provider for ``provider``,
    under the commitment for ``commitment``, else under ``(unallocated)``.
    """
    scope = query.scope
    days = data.commitment_days
    if scope.narrowed or days.empty:
        return pd.DataFrame(columns=["period_key", "group", column])
    bounds = window(data, query)
    mask = in_window(days["day"].to_numpy(), bounds) & (days["unallocated_cost"] != 0)
    if scope.provider is not None:
        mask &= (days["provider"] == scope.provider).to_numpy()
    rows = days.loc[mask]
    if query.group_by is Dimension.PROVIDER:
        group = rows["provider"].astype(object).to_numpy()
    elif query.group_by is Dimension.COMMITMENT:
        group = rows["label"].astype(object).to_numpy()
    elif query.group_by is Dimension.NONE:
        group = np.full(len(rows), ALL, dtype=object)
    else:
        group = np.full(len(rows), UNALLOCATED, dtype=object)
    period = period_keys(rows["day"].to_numpy(), query.granularity, bounds)
    return pd.DataFrame({"period_key": period, "group": group,
                         column: rows["unallocated_cost"].to_numpy(dtype=np.float64)})


def hours_per_period(data: ReportData, query: ReportQuery) -> pd.Series:
    """Hours of data per period key inside the window (for the ``hours`` column)."""
    bounds = window(data, query)
    return data.memo(("hours", query.granularity, bounds),
                     lambda: _hours_per_period(data, query, bounds))


def _hours_per_period(data: ReportData, query: ReportQuery,
                      bounds: tuple[date, date]) -> pd.Series:
    start, end = data.window
    hours = pd.date_range(start, end, freq="h", inclusive="left")
    days = np.asarray(hours.tz_convert("UTC").tz_localize(None).floor("D").to_numpy(),
                      dtype="datetime64[D]")
    days = days[in_window(days, bounds)]
    return pd.Series(period_keys(days, query.granularity, bounds)).value_counts()


def concat(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Frames stacked, empty ones left out (their dtypes would muddle the result's)."""
    kept = [frame for frame in frames if len(frame)]
    if not kept:
        return frames[0].iloc[0:0] if frames else pd.DataFrame()
    return pd.concat(kept, ignore_index=True)


def summed(frame: pd.DataFrame, figures: Sequence[str], *, unique: bool = False
           ) -> pd.DataFrame:
    """Σ figures per (period_key, group), sorted by period then group.

    ``unique``: the rows are already one per (period_key, group) (``key_sums``
    gives them so), and only the columns are kept.
    """
    if unique:
        return frame[["period_key", "group", *figures]].copy()
    if frame.empty:
        return pd.DataFrame(columns=["period_key", "group", *figures])
    out = frame.groupby(["period_key", "group"], sort=True, observed=True)[list(figures)].sum()
    return out.reset_index()


__all__ = [
    "ALL",
    "KeyMatrix",
    "concat",
    "data_days",
    "finish",
    "hours_per_period",
    "in_window",
    "key_matrix",
    "key_rows",
    "key_sums",
    "period_keys",
    "scope_mask",
    "summed",
    "unallocated_rows",
    "window",
]


def finish(name: str, frame: pd.DataFrame, columns: Sequence[str], *, money: Sequence[str],
           data: ReportData, query: ReportQuery, notes: Sequence[str] = (),
           round_by: Sequence[str] = ("period_key",)) -> Report:
    """Periods labelled, money rounded (``round_by`` groups nest, outermost first): a Report."""
    bounds = window(data, query)
    frame = add_period_columns(frame, query.granularity, window=bounds)
    if "hours" in columns:
        hours = hours_per_period(data, query)
        frame["hours"] = frame["period_key"].map(hours).fillna(0).astype(np.int64) \
            if len(frame) else pd.Series(dtype=np.int64)
    frame = round_frame(frame, list(money), groups=list(round_by) if len(frame) else [])
    for column in columns:
        if column not in frame.columns:
            frame[column] = pd.Series(dtype=object)
    order = ["period_key", *(c for c in ("commitment", "group") if c in frame.columns)]
    frame = frame.sort_values(order, kind="stable") if len(frame) else frame
    return Report(
        name=name, columns=tuple(columns), frame=frame[list(columns)].reset_index(drop=True),
        parameters=frozen(query.to_dict()), currency=data.currency, sources=data.sources,
        notes=tuple(notes), money=tuple(money),
    )
