"""Commitment units given up before their term keep their history: source ``ended``.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07

An exchange or a return used to delete the units it gave up, so every report of the hours
they were owned lost them (the sample's realised savings fell from 11,439.02 to 7,025.93
after an exchange and a refresh). They are now kept as a row of source ``ended`` whose
``end_at`` is when they were given up.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Allow ``ended`` as a commitment's source."""
    with op.batch_alter_table("commitments") as batch:
        batch.drop_constraint(op.f("ck_commitments_source"), type_="check")
        batch.create_check_constraint("source", "source IN ('inventory', 'plan', 'ended')")


def downgrade() -> None:
    """Drop the ended rows (their units were given up) and the source they used."""
    op.execute("DELETE FROM commitments WHERE source = 'ended'")
    with op.batch_alter_table("commitments") as batch:
        batch.drop_constraint(op.f("ck_commitments_source"), type_="check")
        batch.create_check_constraint("source", "source IN ('inventory', 'plan')")
