"""A provider's billing history across deliveries: monthly exports that add up.

The clouds deliver FOCUS a month (or a month to date) at a time and restate months as the
bill settles. Each ingest stores a dataset that holds the provider's *whole* history as of
that ingest, so every consumer can keep reading the latest dataset:

* the new delivery wins on the hours it covers, ``[start, end)`` of its usage charges: a
  restated or re-delivered month replaces that month, a month-to-date file replaces the
  days it holds again;
* the previous dataset's hours outside that span are kept: a new month appends, two
  half-month files add up to the month, in either order;
* the same content twice is found by its hash and changes nothing (``ladder.pipeline``).

Hourly usage merges by the hour. The daily cost lines merge by the UTC day: a delivery
that starts or ends inside a day replaces that whole day's lines (FOCUS deliveries start
and end on day boundaries; a file cut mid-day would lose the old part of that day). The
merged hours are dense over the merged span (zero where no delivery had usage), as the
reader's are.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db import repository
from core.db.frames import HOUR_DTYPE, KEY_COLUMNS
from core.db.models import DatasetRow, UsageKeyRow
from core.errors import InvalidInput
from providers.focus import FocusUsage
from reporting import bill_lines
from reporting import repository as reporting_repository


def covered_days(start: datetime, end: datetime) -> set[date]:
    """The UTC days that the hours ``[start, end)`` touch."""
    last = (end - timedelta(microseconds=1)).date()
    days, day = set(), start.date()
    while day <= last:
        days.add(day)
        day += timedelta(days=1)
    return days


def merged_usage(session: Session, usage: FocusUsage, previous: DatasetRow | None,
                 *, source: str) -> FocusUsage:
    """``usage`` with the hours of the ``previous`` dataset that it does not cover."""
    if previous is None:
        return usage
    if previous.currency != usage.currency:
        raise InvalidInput(f"the provider's stored history (dataset {previous.id}) is in "
                           f"{previous.currency}, this delivery in {usage.currency}: one "
                           "provider's bills are in one currency", source=source,
                           column="BillingCurrency")
    old = repository.load_usage(session, previous.id)
    hours = old["hour"]
    kept = old[(hours < pd.Timestamp(usage.start)) | (hours >= pd.Timestamp(usage.end))]
    start, end = min(previous.start, usage.start), max(previous.end, usage.end)
    hourly = _dense(pd.concat([kept, usage.hourly], ignore_index=True), start, end)
    return replace(usage, hourly=hourly, keys=_keys(session, usage.keys, hourly), start=start,
                   end=end)


def _dense(hourly: pd.DataFrame, start: datetime, end: datetime) -> pd.DataFrame:
    """Every key at every hour of ``[start, end)`` (zero where nothing was stored)."""
    hours = pd.date_range(start, end, freq="h", inclusive="left", tz="UTC").as_unit("us")
    keys = sorted(hourly["usage_key"].astype(str).unique())
    grid = pd.MultiIndex.from_product([hours, keys], names=["hour", "usage_key"])
    frame = hourly.assign(hour=pd.DatetimeIndex(hourly["hour"]).tz_convert("UTC").as_unit("us"),
                          usage_key=hourly["usage_key"].astype(str))
    summed = frame.groupby(["hour", "usage_key"])[["units", "on_demand_cost"]].sum()
    dense = summed.reindex(grid, fill_value=0.0).reset_index()
    dense["hour"] = dense["hour"].astype(HOUR_DTYPE)
    dense["usage_key"] = dense["usage_key"].astype("str")
    return dense.astype({"units": np.float64, "on_demand_cost": np.float64})


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
                      start: datetime, end: datetime) -> pd.DataFrame:
    """The new delivery's daily cost ``lines`` and the ``previous`` dataset's lines on the
    days the delivery does not touch."""
    if previous is None:
        return lines
    old = reporting_repository.load_cost_lines(session, previous.id)
    if old.empty:
        return lines
    names = dict(session.execute(
        select(UsageKeyRow.id, UsageKeyRow.usage_key)
        .where(UsageKeyRow.id.in_([int(i) for i in old["usage_key_id"].unique()]))).all())
    days = covered_days(start, end)
    old = old[~old["day"].isin(days)]
    old = old.assign(usage_key=old["usage_key_id"].map(names)).drop(columns="usage_key_id")
    return pd.concat([old[list(lines.columns)], lines], ignore_index=True)


def merged_bill_lines(session: Session, lines: pd.DataFrame, previous: DatasetRow | None,
                      start: datetime, end: datetime) -> pd.DataFrame:
    """The new delivery's bill ``lines`` and the ``previous`` dataset's on the days the
    delivery does not touch (the days of its usage charges' span)."""
    if previous is None:
        return lines
    old = bill_lines.load_bill_lines(session, previous.id)
    if old.empty:
        return lines
    old = old[~old["day"].isin(covered_days(start, end))]
    return pd.concat([old, lines], ignore_index=True)


__all__ = ["covered_days", "merged_bill_lines", "merged_cost_lines", "merged_usage"]
