"""The frames that go in and out of the database, and the dense usage matrix.

Usage frames are long: one row per (hour, usage_key), ``hour`` a timezone-aware
UTC ``datetime64[us, UTC]``. A (hour, key) without a row had no usage.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt
import pandas as pd

from core.errors import InvalidInput

KEY_COLUMNS = (
    "usage_key", "provider", "scope", "service", "region", "family", "platform", "tenancy",
    "on_demand_rate",
)
"""Columns of the usage-key frame that ``add_dataset`` takes."""

HOURLY_COLUMNS = ("hour", "usage_key", "units", "on_demand_cost")
"""Columns of the hourly usage frame that ``add_dataset`` takes and ``load_usage`` returns."""

HOUR_DTYPE = pd.DatetimeTZDtype(unit="us", tz="UTC")

BILL_GROUPS = (
    "provider_name", "billing_account_id", "sub_account_id", "region_id", "service_category",
    "service_name", "charge_category", "charge_class", "tags", "currency", "billing_period",
    "charge_start_day",
)
"""What a bill line is summed by, beside its day. ``billing_period`` is the first day of the
row's ``BillingPeriodStart``: the invoice it is on, which a charge of the month's last days
or a late one need not share with its day. ``charge_start_day`` is the UTC day of the row's
``ChargePeriodStart``: which delivery's days the row belongs to when a row spread over
several days is replaced (``ladder.history``)."""
BILL_COSTS = ("list_cost", "billed_cost", "effective_cost", "contracted_cost")
"""The costs a bill line sums."""
BILL_COLUMNS = ("day", *BILL_GROUPS, *BILL_COSTS)
"""Columns of a bill-line frame: every FOCUS row summed per day and the groups."""


def require_columns(frame: pd.DataFrame, columns: Sequence[str], *, name: str) -> None:
    """Raise InvalidInput naming the first column ``frame`` lacks."""
    for column in columns:
        if column not in frame.columns:
            raise InvalidInput(f"the {name} frame has no {column!r} column", column=column)


def utc_hours(values: pd.Series | pd.Index, *, name: str = "hour") -> pd.DatetimeIndex:
    """Hours as a UTC ``DatetimeIndex`` in microseconds; naive timestamps are refused."""
    try:
        hours = pd.DatetimeIndex(values)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{name} must hold timestamps: {exc}", column=name) from exc
    if hours.tz is None:
        raise InvalidInput(f"{name} must be timezone-aware (UTC)", column=name)
    return hours.tz_convert("UTC").as_unit("us")


def empty_usage() -> pd.DataFrame:
    """A usage frame without rows, with the columns and dtypes of a full one."""
    return pd.DataFrame(
        {
            "hour": pd.Series([], dtype=HOUR_DTYPE),
            "usage_key": pd.Series([], dtype="str"),
            "units": pd.Series([], dtype="float64"),
            "on_demand_cost": pd.Series([], dtype="float64"),
        }
    )


@dataclass(frozen=True, slots=True)
class UsageMatrix:
    """Usage as a dense (hours x keys) float64 matrix, with its row and column labels."""

    hours: pd.DatetimeIndex
    keys: tuple[str, ...]
    values: npt.NDArray[np.float64]


def usage_matrix(
    usage: pd.DataFrame,
    *,
    keys: Sequence[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    column: str = "units",
) -> UsageMatrix:
    """Pivot a long usage frame to a dense matrix over every hour of ``[start, end)``.

    Hours default to the frame's first hour up to the hour after its last; keys
    default to the frame's keys, sorted. Cells without a row are zero; rows
    outside the hours or keys asked for are left out.
    """
    require_columns(usage, ("hour", "usage_key", column), name="usage")
    hours_of_rows = utc_hours(usage["hour"])
    if keys is None:
        keys = sorted(usage["usage_key"].unique())
    if start is None or end is None:
        if len(hours_of_rows) == 0:
            raise InvalidInput("an empty usage frame needs start and end to be pivoted")
        start = hours_of_rows.min() if start is None else start
        end = hours_of_rows.max() + pd.Timedelta(hours=1) if end is None else end
    hours = pd.date_range(
        pd.Timestamp(start).tz_convert("UTC"), pd.Timestamp(end).tz_convert("UTC"),
        freq="h", inclusive="left", unit="us",
    )
    key_tuple = tuple(keys)
    values = np.zeros((len(hours), len(key_tuple)), dtype=np.float64)
    rows = hours.get_indexer(hours_of_rows)
    cols = pd.Index(key_tuple).get_indexer(pd.Index(usage["usage_key"]))
    kept = (rows >= 0) & (cols >= 0)
    np.add.at(values, (rows[kept], cols[kept]), usage[column].to_numpy(dtype=np.float64)[kept])
    return UsageMatrix(hours=hours, keys=key_tuple, values=values)
