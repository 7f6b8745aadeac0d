"""The reporting tables: FOCUS cost lines, reporting snapshots with their daily facts, budgets.

A **snapshot** freezes one billing of one dataset: the commitments as they were
billed (``report_commitments``) and the billing engine's result summed per UTC
day (``report_key_days``, ``report_commitment_days``, ``report_allocations``).
Snapshots are immutable: a refresh writes a new one, so readers may cache a
snapshot's facts under its ``token``. ``focus_cost_lines`` keeps what the
hourly usage drops from FOCUS (tags, billed, effective and contracted cost),
per usage key and day. ``reporting/README.md`` defines every figure.

Imported at the end of ``core.db.models`` so that ``Base.metadata`` holds these tables.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base, _in, utc_now

BUDGET_PERIODS = ("month", "quarter", "year")
BUDGET_BASES = ("amortized", "cash")


class FocusCostLineRow(Base):
    """FOCUS costs of one usage key on one UTC day, for one set of tags and commitment."""

    __tablename__ = "focus_cost_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    usage_key_id: Mapped[int] = mapped_column(ForeignKey("usage_keys.id"), index=True)
    day: Mapped[date] = mapped_column(Date)
    tags: Mapped[str] = mapped_column(Text, default="{}")
    """The FOCUS ``Tags`` object as canonical JSON (sorted keys); ``{}`` when untagged."""
    commitment_discount_id: Mapped[str | None] = mapped_column(String(512))
    units: Mapped[float]
    list_cost: Mapped[float]
    billed_cost: Mapped[float]
    effective_cost: Mapped[float | None]
    contracted_cost: Mapped[float | None]
    billing_period: Mapped[date | None] = mapped_column(Date)
    """First day of the rows' BillingPeriodStart: the invoice the line is on (null for a file
    without that column, and for lines stored before revision 0010)."""
    charge_start_day: Mapped[date | None] = mapped_column(Date)
    """UTC day of the rows' ChargePeriodStart (null for lines stored before revision 0010)."""

    __table_args__ = (Index("ix_focus_cost_lines_dataset_id_day", "dataset_id", "day"),)


class ReportSnapshotRow(Base):
    """One billing of one dataset with the commitments of its provider, as daily facts."""

    __tablename__ = "report_snapshots"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(32), unique=True)
    """A random identifier: caches of the snapshot's facts are keyed on it."""
    provider: Mapped[str] = mapped_column(String(64))
    dataset_id: Mapped[int] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE"), index=True
    )
    currency: Mapped[str] = mapped_column(String(3))
    start: Mapped[datetime] = mapped_column("start_hour")
    end: Mapped[datetime] = mapped_column("end_hour")
    inventory_sha256: Mapped[str] = mapped_column(String(64))
    """Digest of the commitments billed: a different inventory makes the snapshot stale."""
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    build_seconds: Mapped[float]

    __table_args__ = (
        Index("ix_report_snapshots_provider_created_at", "provider", "created_at"),
    )


class ReportCommitmentRow(Base):
    """A commitment as a snapshot billed it; ``position`` numbers it inside the snapshot."""

    __tablename__ = "report_commitments"

    snapshot_id: Mapped[int] = mapped_column(
        ForeignKey("report_snapshots.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    commitment_id: Mapped[str] = mapped_column(String(256))
    offering_id: Mapped[str] = mapped_column(String(256))
    shape: Mapped[str] = mapped_column(String(8))
    kind: Mapped[str] = mapped_column(String(64))
    payment_option: Mapped[str] = mapped_column(String(32))
    term_hours: Mapped[int]
    quantity: Mapped[float]
    upfront: Mapped[float]
    """Dollars paid once per unit at the start."""
    hourly: Mapped[float]
    """Dollars paid per unit for every hour of the term."""
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]


class ReportKeyDayRow(Base):
    """The billing of one usage key over one UTC day (dollars, except ``units``)."""

    __tablename__ = "report_key_days"

    snapshot_id: Mapped[int] = mapped_column(
        ForeignKey("report_snapshots.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    usage_key_id: Mapped[int] = mapped_column(ForeignKey("usage_keys.id"), primary_key=True)
    units: Mapped[float]
    on_demand_equivalent: Mapped[float]
    covered_on_demand: Mapped[float]
    on_demand_cost: Mapped[float]
    commitment_used_cost: Mapped[float]
    commitment_unused_cost: Mapped[float]
    """Unused commitment allocated to this key (in proportion to its eligible usage)."""


class ReportCommitmentDayRow(Base):
    """One commitment over one UTC day of a snapshot."""

    __tablename__ = "report_commitment_days"

    snapshot_id: Mapped[int] = mapped_column(
        ForeignKey("report_snapshots.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    position: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    active_hours: Mapped[int]
    quantity_hours: Mapped[float]
    used_quantity_hours: Mapped[float]
    commitment_cost: Mapped[float]
    used_cost: Mapped[float]
    covered_units: Mapped[float]
    covered_on_demand: Mapped[float]
    unallocated_cost: Mapped[float]
    """Unused cost of hours in which none of its eligible keys had usage."""


class ReportAllocationRow(Base):
    """What one commitment gave one usage key over one UTC day (rows with a non-zero figure)."""

    __tablename__ = "report_allocations"

    snapshot_id: Mapped[int] = mapped_column(
        ForeignKey("report_snapshots.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    usage_key_id: Mapped[int] = mapped_column(ForeignKey("usage_keys.id"), primary_key=True)
    position: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    covered_units: Mapped[float]
    covered_on_demand: Mapped[float]
    used_cost: Mapped[float]
    unused_cost: Mapped[float]


class BudgetRow(Base):
    """A budget: an amount per period for a scope, on the amortized or the cash basis."""

    __tablename__ = "budgets"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    provider: Mapped[str | None] = mapped_column(String(64))
    account: Mapped[str | None] = mapped_column(String(128))
    tag_key: Mapped[str | None] = mapped_column(String(128))
    tag_value: Mapped[str | None] = mapped_column(String(256))
    period: Mapped[str] = mapped_column(String(16))
    amount: Mapped[float]
    currency: Mapped[str] = mapped_column(String(3))
    basis: Mapped[str] = mapped_column(String(16))
    thresholds: Mapped[list[float]] = mapped_column(JSON)
    """Shares of the amount (0.8 = 80 %) at which the budget alerts, ascending."""
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)

    __table_args__ = (
        CheckConstraint(_in("period", BUDGET_PERIODS), name="period"),
        CheckConstraint(_in("basis", BUDGET_BASES), name="basis"),
        CheckConstraint("amount >= 0", name="amount_nonnegative"),
    )


class BillCostLineRow(Base):
    """Every FOCUS row of a dataset's bill, summed per UTC day and the columns finance groups
    by: compute and all else (storage, network, support, purchases, credits, taxes)."""

    __tablename__ = "bill_cost_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    provider_name: Mapped[str] = mapped_column(String(128))
    billing_account_id: Mapped[str | None] = mapped_column(String(512))
    sub_account_id: Mapped[str | None] = mapped_column(String(512))
    region_id: Mapped[str | None] = mapped_column(String(128))
    service_category: Mapped[str | None] = mapped_column(String(128))
    service_name: Mapped[str | None] = mapped_column(String(256))
    charge_category: Mapped[str | None] = mapped_column(String(64))
    charge_class: Mapped[str | None] = mapped_column(String(64))
    tags: Mapped[str] = mapped_column(Text, default="{}")
    currency: Mapped[str] = mapped_column(String(8))
    billing_period: Mapped[date | None] = mapped_column(Date)
    """First day of the row's BillingPeriodStart: the invoice the line is on (null for lines
    stored before revision 0009)."""
    charge_start_day: Mapped[date | None] = mapped_column(Date)
    """UTC day of the rows' ChargePeriodStart: the delivery days a line spread over several
    days belongs to (null for lines stored before revision 0010)."""
    list_cost: Mapped[float]
    billed_cost: Mapped[float]
    effective_cost: Mapped[float | None]
    contracted_cost: Mapped[float | None]

    __table_args__ = (Index("ix_bill_cost_lines_dataset_id_day", "dataset_id", "day"),)


METRIC_NAME_MAX = 128
METRIC_SCOPE_MAX = 512


class BusinessMetricRow(Base):
    """One value of a business metric (requests, active customers, GB processed) on one UTC
    day, for the whole bill or one part of it (``scope``: '' or ``account=…``, ``tag:K=V``…)."""

    __tablename__ = "business_metrics"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    metric: Mapped[str] = mapped_column(String(METRIC_NAME_MAX))
    scope: Mapped[str] = mapped_column(String(METRIC_SCOPE_MAX), default="")
    value: Mapped[float]
    source: Mapped[str | None] = mapped_column(String(512))
    """Where the value came from: the file ingested, or ``api``."""
    created_at: Mapped[datetime] = mapped_column(default=utc_now)

    __table_args__ = (
        UniqueConstraint("metric", "scope", "day"),
        CheckConstraint("value >= 0", name="value_nonnegative"),
    )


class SpendBudgetRow(Base):
    """A budget on the whole bill or a part of it (``scope``: the spend scope's fields)."""

    __tablename__ = "spend_budgets"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    scope: Mapped[dict[str, str | None]] = mapped_column(JSON)
    period: Mapped[str] = mapped_column(String(16))
    amount: Mapped[float]
    currency: Mapped[str] = mapped_column(String(3))
    basis: Mapped[str] = mapped_column(String(16))
    thresholds: Mapped[list[float]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)

    __table_args__ = (
        CheckConstraint("amount >= 0", name="amount_nonnegative"),
    )

__all__ = [
    "BUDGET_BASES",
    "BUDGET_PERIODS",
    "BillCostLineRow",
    "BudgetRow",
    "BusinessMetricRow",
    "FocusCostLineRow",
    "ReportAllocationRow",
    "ReportCommitmentDayRow",
    "ReportCommitmentRow",
    "ReportKeyDayRow",
    "ReportSnapshotRow",
    "SpendBudgetRow",
]

