"""Reporting: FOCUS cost lines, reporting snapshots and their daily facts, budgets.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_TIMESTAMP = sa.DateTime(timezone=True)
BUDGET_PERIODS = ("month", "quarter", "year")
BUDGET_BASES = ("amortized", "cash")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _snapshot_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["snapshot_id"], ["report_snapshots.id"],
        name=op.f(f"fk_{table}_snapshot_id_report_snapshots"), ondelete="CASCADE",
    )


def _usage_key_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["usage_key_id"], ["usage_keys.id"], name=op.f(f"fk_{table}_usage_key_id_usage_keys"),
    )


def upgrade() -> None:
    """Create the reporting tables."""
    op.create_table(
        "focus_cost_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("usage_key_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("commitment_discount_id", sa.String(length=512), nullable=True),
        sa.Column("units", sa.Double(), nullable=False),
        sa.Column("list_cost", sa.Double(), nullable=False),
        sa.Column("billed_cost", sa.Double(), nullable=False),
        sa.Column("effective_cost", sa.Double(), nullable=True),
        sa.Column("contracted_cost", sa.Double(), nullable=True),
        sa.ForeignKeyConstraint(
            ["dataset_id"], ["datasets.id"],
            name=op.f("fk_focus_cost_lines_dataset_id_datasets"), ondelete="CASCADE",
        ),
        _usage_key_fk("focus_cost_lines"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_focus_cost_lines")),
    )
    op.create_index(
        op.f("ix_focus_cost_lines_dataset_id_day"), "focus_cost_lines", ["dataset_id", "day"]
    )
    op.create_index(
        op.f("ix_focus_cost_lines_usage_key_id"), "focus_cost_lines", ["usage_key_id"]
    )

    op.create_table(
        "report_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("start_hour", UTC_TIMESTAMP, nullable=False),
        sa.Column("end_hour", UTC_TIMESTAMP, nullable=False),
        sa.Column("inventory_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("build_seconds", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"], ["datasets.id"],
            name=op.f("fk_report_snapshots_dataset_id_datasets"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_snapshots")),
        sa.UniqueConstraint("token", name=op.f("uq_report_snapshots_token")),
    )
    op.create_index(op.f("ix_report_snapshots_dataset_id"), "report_snapshots", ["dataset_id"])
    op.create_index(
        op.f("ix_report_snapshots_provider_created_at"), "report_snapshots",
        ["provider", "created_at"],
    )

    op.create_table(
        "report_commitments",
        sa.Column("snapshot_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("commitment_id", sa.String(length=256), nullable=False),
        sa.Column("offering_id", sa.String(length=256), nullable=False),
        sa.Column("shape", sa.String(length=8), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("payment_option", sa.String(length=32), nullable=False),
        sa.Column("term_hours", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Double(), nullable=False),
        sa.Column("upfront", sa.Double(), nullable=False),
        sa.Column("hourly", sa.Double(), nullable=False),
        sa.Column("start_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("end_at", UTC_TIMESTAMP, nullable=False),
        _snapshot_fk("report_commitments"),
        sa.PrimaryKeyConstraint("snapshot_id", "position", name=op.f("pk_report_commitments")),
    )

    op.create_table(
        "report_key_days",
        sa.Column("snapshot_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("usage_key_id", sa.Integer(), nullable=False),
        sa.Column("units", sa.Double(), nullable=False),
        sa.Column("on_demand_equivalent", sa.Double(), nullable=False),
        sa.Column("covered_on_demand", sa.Double(), nullable=False),
        sa.Column("on_demand_cost", sa.Double(), nullable=False),
        sa.Column("commitment_used_cost", sa.Double(), nullable=False),
        sa.Column("commitment_unused_cost", sa.Double(), nullable=False),
        _snapshot_fk("report_key_days"),
        _usage_key_fk("report_key_days"),
        sa.PrimaryKeyConstraint(
            "snapshot_id", "day", "usage_key_id", name=op.f("pk_report_key_days")
        ),
    )

    op.create_table(
        "report_commitment_days",
        sa.Column("snapshot_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("active_hours", sa.Integer(), nullable=False),
        sa.Column("quantity_hours", sa.Double(), nullable=False),
        sa.Column("used_quantity_hours", sa.Double(), nullable=False),
        sa.Column("commitment_cost", sa.Double(), nullable=False),
        sa.Column("used_cost", sa.Double(), nullable=False),
        sa.Column("covered_units", sa.Double(), nullable=False),
        sa.Column("covered_on_demand", sa.Double(), nullable=False),
        sa.Column("unallocated_cost", sa.Double(), nullable=False),
        _snapshot_fk("report_commitment_days"),
        sa.PrimaryKeyConstraint(
            "snapshot_id", "day", "position", name=op.f("pk_report_commitment_days")
        ),
    )

    op.create_table(
        "report_allocations",
        sa.Column("snapshot_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("usage_key_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("covered_units", sa.Double(), nullable=False),
        sa.Column("covered_on_demand", sa.Double(), nullable=False),
        sa.Column("used_cost", sa.Double(), nullable=False),
        sa.Column("unused_cost", sa.Double(), nullable=False),
        _snapshot_fk("report_allocations"),
        _usage_key_fk("report_allocations"),
        sa.PrimaryKeyConstraint(
            "snapshot_id", "day", "usage_key_id", "position",
            name=op.f("pk_report_allocations"),
        ),
    )

    op.create_table(
        "budgets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=True),
        sa.Column("account", sa.String(length=128), nullable=True),
        sa.Column("tag_key", sa.String(length=128), nullable=True),
        sa.Column("tag_value", sa.String(length=256), nullable=True),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.Double(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("basis", sa.String(length=16), nullable=False),
        sa.Column("thresholds", sa.JSON(), nullable=False),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("updated_at", UTC_TIMESTAMP, nullable=False),
        sa.CheckConstraint(_in("period", BUDGET_PERIODS), name=op.f("ck_budgets_period")),
        sa.CheckConstraint(_in("basis", BUDGET_BASES), name=op.f("ck_budgets_basis")),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_budgets_amount_nonnegative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_budgets")),
        sa.UniqueConstraint("name", name=op.f("uq_budgets_name")),
    )


def downgrade() -> None:
    """Drop the reporting tables."""
    for table in (
        "budgets", "report_allocations", "report_commitment_days", "report_key_days",
        "report_commitments", "report_snapshots", "focus_cost_lines",
    ):
        op.drop_table(table)
