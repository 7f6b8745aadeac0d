"""Unit economics and budgets on the whole bill: ``business_metrics`` and ``spend_budgets``.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create ``business_metrics`` (one value per metric, scope and day) and
    ``spend_budgets``."""
    op.create_table(
        "business_metrics",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("metric", sa.String(length=128), nullable=False),
        sa.Column("scope", sa.String(length=512), nullable=False),
        sa.Column("value", sa.Double(), nullable=False),
        sa.Column("source", sa.String(length=512), nullable=True),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.CheckConstraint("value >= 0", name=op.f("ck_business_metrics_value_nonnegative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_business_metrics")),
        sa.UniqueConstraint("metric", "scope", "day",
                            name=op.f("uq_business_metrics_metric_scope_day")),
    )
    op.create_table(
        "spend_budgets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("scope", sa.JSON(), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.Double(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("basis", sa.String(length=16), nullable=False),
        sa.Column("thresholds", sa.JSON(), nullable=False),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("updated_at", UTC_TIMESTAMP, nullable=False),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_spend_budgets_amount_nonnegative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_spend_budgets")),
        sa.UniqueConstraint("name", name=op.f("uq_spend_budgets_name")),
    )


def downgrade() -> None:
    """Drop ``spend_budgets`` and ``business_metrics``."""
    op.drop_table("spend_budgets")
    op.drop_table("business_metrics")
