"""Exchanges and returns: what an action gives up, what it receives, and its cash effect.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

Actions stored before this revision are purchases; their cash effect is their
upfront cost, and it is filled in so that every stored action states it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``commitment_id``, ``target_offering_id``, ``target_quantity``, ``cash_effect``."""
    with op.batch_alter_table("actions") as batch:
        batch.add_column(sa.Column("commitment_id", sa.String(length=256), nullable=True))
        batch.add_column(sa.Column("target_offering_id", sa.String(length=256), nullable=True))
        batch.add_column(sa.Column("target_quantity", sa.Double(), nullable=False,
                                   server_default="0"))
        batch.add_column(sa.Column("cash_effect", sa.Double(), nullable=False,
                                   server_default="0"))
    op.execute("UPDATE actions SET cash_effect = upfront_cost WHERE kind = 'purchase'")


def downgrade() -> None:
    """Drop the four columns."""
    with op.batch_alter_table("actions") as batch:
        for column in ("cash_effect", "target_quantity", "target_offering_id", "commitment_id"):
            batch.drop_column(column)
