"""The executor: lifecycle columns, action intents, policies, runs, locks, audit, notifications.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_TIMESTAMP = sa.DateTime(timezone=True)
GENESIS_HASH = "0" * 64
PLAN_STATUSES = (
    "draft", "proposed", "approved", "rejected", "expired", "executing", "executed",
    "partially_executed", "failed",
)
ACTION_STATUSES = ("pending", "intent", "unknown", "ordered", "done", "failed", "skipped")
APPEND_ONLY = "audit_log is append-only: entries cannot be updated"


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    """Create the executor's tables, add the lifecycle columns, make the audit log append-only."""
    op.create_table(
        "policies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policies")),
        sa.UniqueConstraint(
            "provider", "scope", "version", name=op.f("uq_policies_provider_scope_version")
        ),
    )

    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=128), nullable=False),
        sa.Column("trigger", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("finished_at", UTC_TIMESTAMP, nullable=True),
        sa.Column("plan_id", sa.Integer(), nullable=True),
        sa.Column("timings", sa.JSON(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plans.id"], name=op.f("fk_runs_plan_id_plans"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runs")),
    )
    op.create_index(op.f("ix_runs_plan_id"), "runs", ["plan_id"])
    op.create_index(op.f("ix_runs_status"), "runs", ["status"])
    op.create_index(
        op.f("ix_runs_provider_scope_started_at"), "runs", ["provider", "scope", "started_at"]
    )

    op.create_table(
        "run_locks",
        sa.Column("scope_key", sa.String(length=256), nullable=False),
        sa.Column("owner", sa.String(length=255), nullable=True),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("acquired_at", UTC_TIMESTAMP, nullable=True),
        sa.Column("expires_at", UTC_TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("scope_key", name=op.f("pk_run_locks")),
    )

    op.create_table(
        "audit_log",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", UTC_TIMESTAMP, nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=256), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_log")),
        sa.UniqueConstraint("hash", name=op.f("uq_audit_log_hash")),
    )
    op.create_index(op.f("ix_audit_log_event"), "audit_log", ["event"])
    op.create_index(op.f("ix_audit_log_subject"), "audit_log", ["subject"])

    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "hash": GENESIS_HASH}])

    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("dedup_key", sa.String(length=512), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=128), nullable=False),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("sent_at", UTC_TIMESTAMP, nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint("dedup_key", name=op.f("uq_notifications_dedup_key")),
    )

    with op.batch_alter_table("plans") as batch:
        batch.add_column(sa.Column("scope", sa.String(length=128), nullable=False,
                                   server_default="all"))
        batch.add_column(sa.Column("valid_until", UTC_TIMESTAMP, nullable=True))
        batch.add_column(sa.Column("policy_version", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("policy_reasons", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("approved_by", sa.String(length=128), nullable=True))
        batch.add_column(sa.Column("approved_at", UTC_TIMESTAMP, nullable=True))
        batch.add_column(sa.Column("status_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("status_changed_at", UTC_TIMESTAMP, nullable=True))
        batch.create_index(
            op.f("ix_plans_provider_scope_status"), ["provider", "scope", "status"]
        )
        batch.create_check_constraint(op.f("ck_plans_status"), _in("status", PLAN_STATUSES))

    with op.batch_alter_table("actions") as batch:
        batch.add_column(sa.Column("idempotency_key", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False,
                                   server_default="0"))
        batch.add_column(sa.Column("intent_at", UTC_TIMESTAMP, nullable=True))
        batch.add_column(sa.Column("finished_at", UTC_TIMESTAMP, nullable=True))
        batch.add_column(sa.Column("commitment_ids", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("error", sa.Text(), nullable=True))
        batch.create_unique_constraint(op.f("uq_actions_idempotency_key"), ["idempotency_key"])
        batch.create_index(op.f("ix_actions_status"), ["status"])
        batch.create_check_constraint(op.f("ck_actions_status"), _in("status", ACTION_STATUSES))

    _create_append_only_trigger()


def _create_append_only_trigger() -> None:
    """Refuse UPDATE of audit entries in the database itself, not only in Ladder's code."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION ladder_audit_log_append_only() RETURNS trigger "
            "LANGUAGE plpgsql AS $$ BEGIN "
            f"RAISE EXCEPTION '{APPEND_ONLY}'; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION ladder_audit_log_append_only()"
        )
    else:
        op.execute(
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE ON audit_log "
            f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
        )


def downgrade() -> None:
    """Drop what the upgrade added."""
    op.execute("DROP TRIGGER IF EXISTS audit_log_append_only"
               + (" ON audit_log" if op.get_bind().dialect.name == "postgresql" else ""))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS ladder_audit_log_append_only()")

    with op.batch_alter_table("actions") as batch:
        batch.drop_constraint(op.f("ck_actions_status"), type_="check")
        batch.drop_index(op.f("ix_actions_status"))
        batch.drop_constraint(op.f("uq_actions_idempotency_key"), type_="unique")
        for column in ("error", "commitment_ids", "finished_at", "intent_at", "attempts",
                       "idempotency_key"):
            batch.drop_column(column)

    with op.batch_alter_table("plans") as batch:
        batch.drop_constraint(op.f("ck_plans_status"), type_="check")
        batch.drop_index(op.f("ix_plans_provider_scope_status"))
        for column in ("status_changed_at", "status_reason", "approved_at", "approved_by",
                       "policy_reasons", "policy_version", "valid_until", "scope"):
            batch.drop_column(column)

    for table in ("notifications", "audit_head", "audit_log", "run_locks", "runs", "policies"):
        op.drop_table(table)
