"""A dataset's compute usage per billing period (``usage_period_hours``), in and out.

``ladder.history`` replaces a billing period's usage exactly with these rows: a dataset's
dense ``usage_hours`` are their sum per hour and key. Functions ``flush``, never
``commit``.
"""

from __future__ import annotations

from typing import cast

import numpy as np
import pandas as pd
from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from core.db.bulk import bulk_insert, usage_key_ids
from core.db.frames import HOUR_DTYPE, require_columns, utc_hours
from core.db.models import UsageKeyRow
from core.db.period_models import UsagePeriodHour
from core.errors import InvalidInput

PERIOD_HOUR_COLUMNS = ("billing_period", "charge_start_day", "hour", "usage_key", "units",
                       "on_demand_cost")
"""Columns of a period-hours frame: the compute usage that the rows of a billing period (a
``date``, its first day) whose charge periods start on a UTC day (a ``date``) brought to an
hour and key."""

_TABLE = cast(Table, UsagePeriodHour.__table__)


def add_period_hours(session: Session, dataset_id: int, hours: pd.DataFrame) -> int:
    """Store a dataset's usage per billing period (``PERIOD_HOUR_COLUMNS``, keys stored
    first by ``add_dataset``); hours without usage are left out. Returns the rows written."""
    require_columns(hours, PERIOD_HOUR_COLUMNS, name="period hours")
    used = hours[(hours["units"] != 0) | (hours["on_demand_cost"] != 0)]
    if used.empty:
        return 0
    names = [str(k) for k in used["usage_key"].unique()]
    ids = usage_key_ids(session, names)
    missing = [name for name in names if name not in ids]
    if missing:
        raise InvalidInput(f"period hours name usage keys not stored: {missing[:5]}",
                           column="usage_key")
    frame = pd.DataFrame({
        "dataset_id": dataset_id,
        "billing_period": used["billing_period"].to_numpy(),
        "charge_start_day": used["charge_start_day"].to_numpy(),
        "usage_key_id": used["usage_key"].astype(str).map(ids).to_numpy(dtype=np.int64),
        "hour": utc_hours(used["hour"]),
        "units": used["units"].to_numpy(dtype=np.float64),
        "on_demand_cost": used["on_demand_cost"].to_numpy(dtype=np.float64),
    })
    written = bulk_insert(session, _TABLE, frame)
    session.flush()
    return written


def load_period_hours(session: Session, dataset_id: int) -> pd.DataFrame | None:
    """A dataset's usage per billing period (``PERIOD_HOUR_COLUMNS``, ``billing_period`` a
    ``date``), or None when none was stored (a dataset stored before revision 0010, or by a
    path that stores no periods)."""
    stmt = (select(UsagePeriodHour.billing_period, UsagePeriodHour.charge_start_day,
                   UsagePeriodHour.hour, UsageKeyRow.usage_key, UsagePeriodHour.units,
                   UsagePeriodHour.on_demand_cost)
            .join(UsageKeyRow, UsageKeyRow.id == UsagePeriodHour.usage_key_id)
            .where(UsagePeriodHour.dataset_id == dataset_id))
    rows = session.execute(stmt).all()
    if not rows:
        return None
    periods, days, hours, keys, units, costs = zip(*rows, strict=True)
    return pd.DataFrame({
        "billing_period": list(periods),
        "charge_start_day": list(days),
        "hour": pd.DatetimeIndex(hours).tz_convert("UTC").as_unit("us").astype(HOUR_DTYPE),
        "usage_key": pd.Series(keys, dtype="str"),
        "units": np.asarray(units, dtype=np.float64),
        "on_demand_cost": np.asarray(costs, dtype=np.float64),
    })


__all__ = ["PERIOD_HOUR_COLUMNS", "add_period_hours", "load_period_hours"]
