"""Bill lines keep their billing period: the invoice a line is on.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07

A line's day is when it was charged; its ``billing_period`` (the first day of the rows'
``BillingPeriodStart``) is the invoice it is on, which late charges and the last days of a
month need not share. Lines stored before this revision have none (null); ingesting their
files again fills it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the nullable ``billing_period`` column."""
    with op.batch_alter_table("bill_cost_lines") as batch:
        batch.add_column(sa.Column("billing_period", sa.Date(), nullable=True))


def downgrade() -> None:
    """Drop it."""
    with op.batch_alter_table("bill_cost_lines") as batch:
        batch.drop_column("billing_period")
