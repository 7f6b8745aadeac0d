"""A provider's billing history across deliveries: monthly exports that add up.

The clouds deliver FOCUS a billing period (a month, or a month to date) at a time and
restate periods as the bill settles. Each ingest stores a dataset that holds the provider's
*whole* history as of that ingest, so every consumer can keep reading the latest dataset.

The rule: **a delivery replaces, within each billing period it holds, the rows of that
period that start on the days it spans; everything else is kept.** What a delivery
*covers* (:func:`coverage`) is, for each billing period of its rows, the UTC days from the
first to the last ``ChargePeriodStart`` of its rows of that period (every row of the
cloud's bill, compute or not; the days in between count even where no row starts, so a
restatement that drops a day's rows drops them). Every stored product of an ingest follows
it, matched by (billing period, charge start day): the hourly compute usage (kept per
period and start day in ``usage_period_hours``; the dataset's dense hours are their sum),
the daily cost lines and the whole-bill lines (each keeps ``billing_period`` and
``charge_start_day``). A row spread over several days (a monthly fee, a tax over the
month) belongs, all of it, to the delivery holding the day it starts on. So:

* a new month appends (its period is not stored yet);
* a re-delivered or restated month replaces that month, with the rows it has now (rows the
  restatement dropped disappear), and nothing of the other months, even on days they
  share (a late charge of October's invoice dated 30 September leaves September's own rows
  of that day alone);
* two half-month files of one period, cut by ``ChargePeriodStart``, add up in either order
  (each spans its own start days; the month's tax row goes with the half it starts in);
* the same content twice is found by its hash and changes nothing (``ladder.pipeline``).

A row's billing period is the first day of its ``BillingPeriodStart``. A row without one
falls back to the **calendar month (UTC) of its ChargePeriodStart**: such a file replaces
the start days it spans in the months it touches. Data stored before revision 0010 has no
start days and no period hours: each line or hour counts as starting on its own day, in the
billing period it records or else that day's month.

The one thing the rule cannot tell apart: a restatement that now spans fewer days than the
month held before (its first or last days have no row at all) keeps the old rows of those
days, as a half-month file keeps the other half. Month-to-date deliveries only ever grow,
and every day of a month has usage rows in practice, so this takes a restatement that
dropped whole days at its edge.

The merged hours are dense over the merged span (zero where no delivery had usage), as the
reader's are; the span is the union of the stored and the new one.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db import periods, repository
from core.db.frames import KEY_COLUMNS
from core.db.models import DatasetRow, UsageKeyRow
from core.errors import InvalidInput
from providers.focus import FocusUsage
from providers.focus.reader import dense_hourly
from reporting import bill_lines
from reporting import repository as reporting_repository

Coverage = pd.DataFrame
"""What a delivery covers: one row per billing period (``billing_period``, a ``date``) with
the first and last UTC day (``first``, ``last``, dates) its rows of that period start on."""


def month_of(days: pd.Series) -> pd.Series:
    """The first day of each date's calendar month (the fallback billing period)."""
    stamps = pd.to_datetime(pd.Series(days, dtype=object))
    return stamps.dt.to_period("M").dt.start_time.dt.date.astype(object)


def _stated(frame: pd.DataFrame, column: str, fallback: pd.Series) -> pd.Series:
    """``frame[column]`` where it is set (and the frame has it), ``fallback`` elsewhere."""
    if column not in frame.columns:
        return fallback.astype(object)
    return frame[column].astype(object).where(frame[column].notna(), fallback)


def anchors(frame: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Each line's (billing period, charge start day): what decides whether a delivery
    replaces it. A line stored without a start day (before revision 0010) starts on its
    ``day``; one without a billing period counts in its start day's calendar month."""
    if frame.empty:
        empty = pd.Series([], dtype=object, index=frame.index)
        return empty, empty
    start = _stated(frame, "charge_start_day", pd.Series(frame["day"], dtype=object))
    period = _stated(frame, "billing_period", month_of(start).set_axis(frame.index))
    return period, start


def coverage(lines: pd.DataFrame) -> Coverage:
    """What a delivery whose bill lines are ``lines`` covers: per billing period, the first
    and last day its rows start on."""
    period, start = anchors(lines)
    frame = pd.DataFrame({"billing_period": period, "start": start})
    spans = frame.groupby("billing_period", sort=True)["start"].agg(["min", "max"])
    return pd.DataFrame({"billing_period": list(spans.index), "first": list(spans["min"]),
                         "last": list(spans["max"])})


def covered(covers: Coverage, period: pd.Series, start: pd.Series) -> np.ndarray:
    """Whether each (billing period, charge start day) lies in what a delivery covers."""
    if covers.empty or period.empty:
        return np.zeros(len(period), dtype=bool)
    first = dict(zip(covers["billing_period"], covers["first"], strict=True))
    last = dict(zip(covers["billing_period"], covers["last"], strict=True))
    days = pd.to_datetime(pd.Series(start, dtype=object).to_numpy())
    lows = pd.to_datetime(period.map(first).to_numpy())
    highs = pd.to_datetime(period.map(last).to_numpy())
    # A period the delivery does not hold maps to NaT, which no day lies between.
    return np.asarray((days >= lows) & (days <= highs), dtype=bool)


def describe(covers: Coverage) -> tuple[str, ...]:
    """What a delivery covers, per billing period, as people read it
    (``2024-07: 06-30..07-31``)."""
    return tuple(f"{p:%Y-%m}: {first:%m-%d}..{last:%m-%d}" for p, first, last in
                 zip(covers["billing_period"], covers["first"], covers["last"], strict=True))


def stored_period_hours(session: Session, dataset: DatasetRow) -> pd.DataFrame:
    """A dataset's usage per billing period; a dataset stored with none (before revision
    0010) has each hour start on its own day, in that day's calendar month."""
    hours = periods.load_period_hours(session, dataset.id)
    if hours is not None:
        return hours
    dense = repository.load_usage(session, dataset.id)
    dense = dense[(dense["units"] != 0) | (dense["on_demand_cost"] != 0)]
    days = pd.Series(pd.DatetimeIndex(dense["hour"]).date, index=dense.index, dtype=object)
    return dense.assign(billing_period=month_of(days).set_axis(dense.index),
                        charge_start_day=days)[list(periods.PERIOD_HOUR_COLUMNS)]


def merged_usage(session: Session, usage: FocusUsage, new_hours: pd.DataFrame,
                 previous: DatasetRow | None, covers: Coverage, *, source: str,
                 ) -> tuple[FocusUsage, pd.DataFrame]:
    """``usage`` with the ``previous`` dataset's usage outside what the delivery covers.

    ``new_hours``: the delivery's usage per billing period (``PERIOD_HOUR_COLUMNS``).
    Returns the merged dense usage and the merged usage per period, to store."""
    if previous is None:
        return usage, new_hours
    if previous.currency != usage.currency:
        raise InvalidInput(f"the provider's stored history (dataset {previous.id}) is in "
                           f"{previous.currency}, this delivery in {usage.currency}: one "
                           "provider's bills are in one currency", source=source,
                           column="BillingCurrency")
    old = stored_period_hours(session, previous)
    kept = old[~covered(covers, old["billing_period"], old["charge_start_day"])]
    by_period = pd.concat([kept, new_hours], ignore_index=True)
    start, end = min(previous.start, usage.start), max(previous.end, usage.end)
    keys = sorted(set(usage.keys["usage_key"].astype(str))
                  | set(by_period["usage_key"].astype(str)))
    micros = pd.DatetimeIndex(by_period["hour"]).tz_convert("UTC").as_unit("us").asi8
    hourly = dense_hourly(by_period.assign(hour_us=micros), keys, start, end)
    merged = replace(usage, hourly=hourly, keys=_keys(session, usage.keys, hourly),
                     start=start, end=end)
    return merged, by_period


def _keys(session: Session, new: pd.DataFrame, hourly: pd.DataFrame) -> pd.DataFrame:
    """The new delivery's keys, and those only the history has, from their stored rows."""
    missing = sorted(set(hourly["usage_key"]) - set(new["usage_key"].astype(str)))
    if not missing:
        return new
    rows = session.scalars(select(UsageKeyRow).where(UsageKeyRow.usage_key.in_(missing))).all()
    old = pd.DataFrame([{c: getattr(row, c) for c in KEY_COLUMNS} for row in rows],
                       columns=list(KEY_COLUMNS))
    return pd.concat([new, old], ignore_index=True).sort_values(
        "usage_key", ignore_index=True)


def merged_cost_lines(session: Session, lines: pd.DataFrame, previous: DatasetRow | None,
                      covers: Coverage) -> pd.DataFrame:
    """The new delivery's daily cost ``lines`` and the ``previous`` dataset's lines outside
    what the delivery covers."""
    if previous is None:
        return lines
    old = reporting_repository.load_cost_lines(session, previous.id)
    if old.empty:
        return lines
    names = dict(session.execute(
        select(UsageKeyRow.id, UsageKeyRow.usage_key)
        .where(UsageKeyRow.id.in_([int(i) for i in old["usage_key_id"].unique()]))).all())
    old = old[~covered(covers, *anchors(old))]
    old = old.assign(usage_key=old["usage_key_id"].map(names)).drop(columns="usage_key_id")
    return pd.concat([old[list(lines.columns)], lines], ignore_index=True)


def merged_bill_lines(session: Session, lines: pd.DataFrame, previous: DatasetRow | None,
                      covers: Coverage) -> pd.DataFrame:
    """The new delivery's bill ``lines`` and the ``previous`` dataset's outside what the
    delivery covers."""
    if previous is None:
        return lines
    old = bill_lines.load_bill_lines(session, previous.id)
    if old.empty:
        return lines
    old = old[~covered(covers, *anchors(old))]
    return pd.concat([old, lines], ignore_index=True)


__all__ = [
    "Coverage",
    "anchors",
    "coverage",
    "covered",
    "describe",
    "merged_bill_lines",
    "merged_cost_lines",
    "merged_usage",
    "month_of",
    "stored_period_hours",
]
