"""A dataset's compute usage per billing period.

Ingest is incremental by billing period (``ladder.history``): a delivery replaces what it
covers of each billing period and keeps the rest. To replace a period exactly, each
dataset keeps the hourly compute usage every period brought (``usage_period_hours``,
sparse: hours with no usage have no row). The dataset's dense ``usage_hours`` are the sum
of its periods' hours; a period's usage need not lie inside its calendar month (a late
charge on the next month's invoice), which is why the hours are kept per period and not
cut out of the dense total by date.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base


class UsagePeriodHour(Base):
    """Compute usage of one key in one hour, brought by one billing period of a dataset."""

    __tablename__ = "usage_period_hours"

    dataset_id: Mapped[int] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True)
    billing_period: Mapped[date] = mapped_column(Date, primary_key=True)
    """First day of the rows' ``BillingPeriodStart`` (of their ``ChargePeriodStart``'s
    calendar month when they have none)."""
    charge_start_day: Mapped[date] = mapped_column(Date, primary_key=True)
    """UTC day of the rows' ``ChargePeriodStart``."""
    usage_key_id: Mapped[int] = mapped_column(ForeignKey("usage_keys.id"), primary_key=True)
    hour: Mapped[datetime] = mapped_column(primary_key=True)
    units: Mapped[float]
    on_demand_cost: Mapped[float]

    __table_args__ = (Index("ix_usage_period_hours_usage_key_id", "usage_key_id"),)


__all__ = ["UsagePeriodHour"]
