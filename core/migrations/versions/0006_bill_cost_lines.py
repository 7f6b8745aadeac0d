"""The whole bill: every FOCUS row summed per day into ``bill_cost_lines``.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07

Datasets ingested before this revision have no bill lines (their files were read for
compute only); ingesting their files again under a new delivery fills them.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``bill_cost_lines`` with its (dataset, day) index."""
    op.create_table(
        "bill_cost_lines",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("dataset_id", sa.Integer(),
                  sa.ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("provider_name", sa.String(length=128), nullable=False),
        sa.Column("billing_account_id", sa.String(length=512), nullable=True),
        sa.Column("sub_account_id", sa.String(length=512), nullable=True),
        sa.Column("region_id", sa.String(length=128), nullable=True),
        sa.Column("service_category", sa.String(length=128), nullable=True),
        sa.Column("service_name", sa.String(length=256), nullable=True),
        sa.Column("charge_category", sa.String(length=64), nullable=True),
        sa.Column("charge_class", sa.String(length=64), nullable=True),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("currency", sa.String(length=8), nullable=False),
        sa.Column("list_cost", sa.Double(), nullable=False),
        sa.Column("billed_cost", sa.Double(), nullable=False),
        sa.Column("effective_cost", sa.Double(), nullable=True),
        sa.Column("contracted_cost", sa.Double(), nullable=True),
    )
    op.create_index("ix_bill_cost_lines_dataset_id_day", "bill_cost_lines",
                    ["dataset_id", "day"])


def downgrade() -> None:
    """Drop ``bill_cost_lines``."""
    op.drop_index("ix_bill_cost_lines_dataset_id_day", table_name="bill_cost_lines")
    op.drop_table("bill_cost_lines")
