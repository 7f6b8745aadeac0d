"""Ingest replaces by billing period: each dataset keeps its usage per billing period.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07

``usage_period_hours`` holds the compute usage each billing period of a dataset brought,
hour by hour (sparse), with the day its rows' charge periods start on; ``focus_cost_lines``
gains the ``billing_period`` its lines are on (as ``bill_cost_lines`` did in 0009), and both
line tables the ``charge_start_day`` of their rows. A new delivery replaces, in each billing
period it holds, the rows that start on the days it spans, and keeps the rest
(``ladder.history``). Data stored before this revision has no period hours and no start
days: an hour or line counts as starting on its own day, in the billing period it records
or else that day's calendar month (UTC), as a file without billing-period columns does.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create ``usage_period_hours`` and add ``focus_cost_lines.billing_period``."""
    op.create_table(
        "usage_period_hours",
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("billing_period", sa.Date(), nullable=False),
        sa.Column("charge_start_day", sa.Date(), nullable=False),
        sa.Column("usage_key_id", sa.Integer(), nullable=False),
        sa.Column("hour", UTC_TIMESTAMP, nullable=False),
        sa.Column("units", sa.Double(), nullable=False),
        sa.Column("on_demand_cost", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"],
                                name=op.f("fk_usage_period_hours_dataset_id_datasets"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["usage_key_id"], ["usage_keys.id"],
                                name=op.f("fk_usage_period_hours_usage_key_id_usage_keys")),
        sa.PrimaryKeyConstraint("dataset_id", "billing_period", "charge_start_day",
                                "usage_key_id", "hour",
                                name=op.f("pk_usage_period_hours")),
    )
    op.create_index(op.f("ix_usage_period_hours_usage_key_id"), "usage_period_hours",
                    ["usage_key_id"])
    with op.batch_alter_table("focus_cost_lines") as batch:
        batch.add_column(sa.Column("billing_period", sa.Date(), nullable=True))
        batch.add_column(sa.Column("charge_start_day", sa.Date(), nullable=True))
    with op.batch_alter_table("bill_cost_lines") as batch:
        batch.add_column(sa.Column("charge_start_day", sa.Date(), nullable=True))


def downgrade() -> None:
    """Drop them."""
    with op.batch_alter_table("bill_cost_lines") as batch:
        batch.drop_column("charge_start_day")
    with op.batch_alter_table("focus_cost_lines") as batch:
        batch.drop_column("charge_start_day")
        batch.drop_column("billing_period")
    op.drop_index(op.f("ix_usage_period_hours_usage_key_id"), table_name="usage_period_hours")
    op.drop_table("usage_period_hours")
