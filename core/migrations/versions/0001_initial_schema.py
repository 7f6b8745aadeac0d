"""Initial schema: datasets and usage, catalogs and offerings, commitments, plans and actions.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Timestamps are UTC; core.db.models.UTCDateTime adds the Python-side checks.
UTC_TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create every table of Ladder's first schema."""
    op.create_table(
        "datasets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("sources", sa.JSON(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("start_hour", UTC_TIMESTAMP, nullable=False),
        sa.Column("end_hour", UTC_TIMESTAMP, nullable=False),
        sa.Column("rows_read", sa.Integer(), nullable=False),
        sa.Column("rows_used", sa.Integer(), nullable=False),
        sa.Column("ingested_at", UTC_TIMESTAMP, nullable=False),
        sa.CheckConstraint("end_hour >= start_hour", name=op.f("ck_datasets_hours_ordered")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_datasets")),
        sa.UniqueConstraint("sha256", name=op.f("uq_datasets_sha256")),
    )
    op.create_index(
        op.f("ix_datasets_provider_ingested_at"), "datasets", ["provider", "ingested_at"]
    )

    op.create_table(
        "usage_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("usage_key", sa.String(length=512), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=128), nullable=True),
        sa.Column("service", sa.String(length=128), nullable=True),
        sa.Column("region", sa.String(length=64), nullable=True),
        sa.Column("family", sa.String(length=128), nullable=True),
        sa.Column("platform", sa.String(length=64), nullable=True),
        sa.Column("tenancy", sa.String(length=32), nullable=True),
        sa.Column("on_demand_rate", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_keys")),
        sa.UniqueConstraint("usage_key", name=op.f("uq_usage_keys_usage_key")),
    )
    op.create_index(op.f("ix_usage_keys_provider"), "usage_keys", ["provider"])

    op.create_table(
        "usage_hours",
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("usage_key_id", sa.Integer(), nullable=False),
        sa.Column("hour", UTC_TIMESTAMP, nullable=False),
        sa.Column("units", sa.Double(), nullable=False),
        sa.Column("on_demand_cost", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"], ["datasets.id"],
            name=op.f("fk_usage_hours_dataset_id_datasets"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["usage_key_id"], ["usage_keys.id"],
            name=op.f("fk_usage_hours_usage_key_id_usage_keys"),
        ),
        sa.PrimaryKeyConstraint(
            "dataset_id", "usage_key_id", "hour", name=op.f("pk_usage_hours")
        ),
    )
    op.create_index(op.f("ix_usage_hours_dataset_id_hour"), "usage_hours", ["dataset_id", "hour"])
    op.create_index(op.f("ix_usage_hours_usage_key_id"), "usage_hours", ["usage_key_id"])

    op.create_table(
        "catalogs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("updated_at", UTC_TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalogs")),
        sa.UniqueConstraint("provider", name=op.f("uq_catalogs_provider")),
    )

    op.create_table(
        "catalog_keys",
        sa.Column("catalog_id", sa.Integer(), nullable=False),
        sa.Column("usage_key_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("on_demand_rate", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["catalog_id"], ["catalogs.id"],
            name=op.f("fk_catalog_keys_catalog_id_catalogs"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["usage_key_id"], ["usage_keys.id"],
            name=op.f("fk_catalog_keys_usage_key_id_usage_keys"),
        ),
        sa.PrimaryKeyConstraint("catalog_id", "usage_key_id", name=op.f("pk_catalog_keys")),
        sa.UniqueConstraint(
            "catalog_id", "position", name=op.f("uq_catalog_keys_catalog_id_position")
        ),
    )

    op.create_table(
        "offerings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("offering_id", sa.String(length=256), nullable=False),
        sa.Column("shape", sa.String(length=8), nullable=False),
        sa.Column("term_hours", sa.Integer(), nullable=False),
        sa.Column("payment_option", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("upfront", sa.Double(), nullable=False),
        sa.Column("hourly", sa.Double(), nullable=False),
        sa.Column("application_order", sa.Integer(), nullable=False),
        sa.Column("covers", sa.JSON(), nullable=False),
        sa.Column("rates", sa.JSON(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("listed", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=True),
        sa.Column("updated_at", UTC_TIMESTAMP, nullable=False),
        sa.CheckConstraint("shape IN ('unit', 'spend')", name=op.f("ck_offerings_shape")),
        sa.CheckConstraint("term_hours > 0", name=op.f("ck_offerings_term_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offerings")),
        sa.UniqueConstraint(
            "provider", "offering_id", name=op.f("uq_offerings_provider_offering_id")
        ),
    )

    op.create_table(
        "commitments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("commitment_id", sa.String(length=256), nullable=True),
        sa.Column("offering_pk", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Double(), nullable=False),
        sa.Column("start_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("end_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.CheckConstraint(
            "source IN ('inventory', 'plan')", name=op.f("ck_commitments_source")
        ),
        sa.CheckConstraint("quantity >= 0", name=op.f("ck_commitments_quantity_nonnegative")),
        sa.ForeignKeyConstraint(
            ["offering_pk"], ["offerings.id"],
            name=op.f("fk_commitments_offering_pk_offerings"), ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commitments")),
        sa.UniqueConstraint(
            "provider", "commitment_id", name=op.f("uq_commitments_provider_commitment_id")
        ),
    )
    op.create_index(op.f("ix_commitments_offering_pk"), "commitments", ["offering_pk"])
    op.create_index(
        op.f("ix_commitments_provider_end_at"), "commitments", ["provider", "end_at"]
    )

    op.create_table(
        "plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=True),
        sa.Column("window_start", UTC_TIMESTAMP, nullable=False),
        sa.Column("window_hours", sa.Integer(), nullable=False),
        sa.Column("on_demand_equivalent", sa.Double(), nullable=False),
        sa.Column("cost_before", sa.Double(), nullable=False),
        sa.Column("cost_after", sa.Double(), nullable=False),
        sa.Column("esr_before", sa.Double(), nullable=False),
        sa.Column("esr_after", sa.Double(), nullable=False),
        sa.Column("upfront_cash", sa.Double(), nullable=False),
        sa.Column("monthly_commitment", sa.Double(), nullable=False),
        sa.Column("expected_savings", sa.Double(), nullable=False),
        sa.Column("solver_status", sa.String(length=64), nullable=False),
        sa.Column("build_seconds", sa.Double(), nullable=False),
        sa.Column("solve_seconds", sa.Double(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"], ["datasets.id"],
            name=op.f("fk_plans_dataset_id_datasets"), ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plans")),
    )
    op.create_index(op.f("ix_plans_dataset_id"), "plans", ["dataset_id"])
    op.create_index(op.f("ix_plans_provider_created_at"), "plans", ["provider", "created_at"])
    op.create_index(op.f("ix_plans_status"), "plans", ["status"])

    op.create_table(
        "actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("offering_id", sa.String(length=256), nullable=False),
        sa.Column("quantity", sa.Double(), nullable=False),
        sa.Column("upfront_cost", sa.Double(), nullable=False),
        sa.Column("hourly_cost", sa.Double(), nullable=False),
        sa.Column("amortized_hourly_cost", sa.Double(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plans.id"], name=op.f("fk_actions_plan_id_plans"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_actions")),
        sa.UniqueConstraint("plan_id", "position", name=op.f("uq_actions_plan_id_position")),
    )


def downgrade() -> None:
    """Drop every table, dependents first."""
    for table in (
        "actions", "plans", "commitments", "offerings", "catalog_keys", "catalogs",
        "usage_hours", "usage_keys", "datasets",
    ):
        op.drop_table(table)
