"""The tables of Ladder's database, as SQLAlchemy 2 declarative models.

They build on ``core.db.base`` (the declarative base, UTC timestamps, the naming
convention), as ``core.db.reporting_models`` does; the status names are the enums of
``core.domain``, so the table constraints, the executor, the API and the reports spell
them one way.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db.base import NAMING_CONVENTION, Base, UTCDateTime, _in, utc_now
from core.domain import ActionStatus, CommitmentSource, PlanStatus

DEFAULT_SCOPE = "all"
"""The scope of a plan, policy or run that covers the whole of a provider."""


class DatasetRow(Base):
    """One ingested FOCUS dataset: where it came from and the hours it spans."""

    __tablename__ = "datasets"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(64))
    sources: Mapped[list[str]]
    """Paths of the files read, in the order they were read."""
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    """Digest of the files' contents: the same content is never ingested twice."""
    currency: Mapped[str] = mapped_column(String(3))
    start: Mapped[datetime] = mapped_column("start_hour")
    """First hour of the data."""
    end: Mapped[datetime] = mapped_column("end_hour")
    """First hour after the data (exclusive)."""
    rows_read: Mapped[int]
    rows_used: Mapped[int]
    ingested_at: Mapped[datetime] = mapped_column(default=utc_now)

    @property
    def hours(self) -> int:
        """How many hours the data spans."""
        return (self.end - self.start) // timedelta(hours=1)

    __table_args__ = (
        CheckConstraint("end_hour >= start_hour", name="hours_ordered"),
        Index("ix_datasets_provider_ingested_at", "provider", "ingested_at"),
    )


class UsageKeyRow(Base):
    """A usage key: one homogeneous stream of usage (DESIGN.md), shared across datasets.

    The parts are null for keys whose string is not the seven-part form
    (benchmark catalogs name keys freely).
    """

    __tablename__ = "usage_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    usage_key: Mapped[str] = mapped_column(String(512), unique=True)
    provider: Mapped[str] = mapped_column(String(64), index=True)
    scope: Mapped[str | None] = mapped_column(String(128))
    service: Mapped[str | None] = mapped_column(String(128))
    region: Mapped[str | None] = mapped_column(String(64))
    family: Mapped[str | None] = mapped_column(String(128))
    platform: Mapped[str | None] = mapped_column(String(64))
    tenancy: Mapped[str | None] = mapped_column(String(32))
    on_demand_rate: Mapped[float | None]
    """Dollars per normalised unit-hour, as last ingested or cataloged."""


class UsageHour(Base):
    """Usage of one key in one hour of one dataset."""

    __tablename__ = "usage_hours"

    dataset_id: Mapped[int] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True
    )
    usage_key_id: Mapped[int] = mapped_column(ForeignKey("usage_keys.id"), primary_key=True)
    hour: Mapped[datetime] = mapped_column(primary_key=True)
    units: Mapped[float]
    on_demand_cost: Mapped[float]

    __table_args__ = (
        Index("ix_usage_hours_dataset_id_hour", "dataset_id", "hour"),
        Index("ix_usage_hours_usage_key_id", "usage_key_id"),
    )


class CatalogRow(Base):
    """A provider's current catalog: its currency, source, and its keys in order."""

    __tablename__ = "catalogs"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(64), unique=True)
    currency: Mapped[str] = mapped_column(String(3))
    source: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)


class CatalogKeyRow(Base):
    """A usage key of a catalog, at its position, with the catalog's on-demand rate for it.

    Written and read as a whole with Core statements (``upsert_catalog``), hence no
    relationships.
    """

    __tablename__ = "catalog_keys"

    catalog_id: Mapped[int] = mapped_column(
        ForeignKey("catalogs.id", ondelete="CASCADE"), primary_key=True
    )
    usage_key_id: Mapped[int] = mapped_column(ForeignKey("usage_keys.id"), primary_key=True)
    position: Mapped[int]
    on_demand_rate: Mapped[float]

    __table_args__ = (UniqueConstraint("catalog_id", "position"),)


class OfferingRow(Base):
    """Something a provider sells (core.domain.Offering).

    Offerings leave the catalog (``listed`` false) rather than the table, because
    owned commitments keep referring to them.
    """

    __tablename__ = "offerings"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(64))
    offering_id: Mapped[str] = mapped_column(String(256))
    shape: Mapped[str] = mapped_column(String(8))
    term_hours: Mapped[int]
    payment_option: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(64), default="")
    upfront: Mapped[float]
    hourly: Mapped[float]
    application_order: Mapped[int]
    """The offering's ``order``: its rank in the billing engine's application order."""
    covers: Mapped[dict[str, float]]
    rates: Mapped[dict[str, float]]
    description: Mapped[str] = mapped_column(Text, default="")
    listed: Mapped[bool] = mapped_column(default=True)
    """Whether the provider's current catalog lists the offering."""
    position: Mapped[int | None]
    """Rank in the current catalog; null once unlisted."""
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)

    __table_args__ = (
        UniqueConstraint("provider", "offering_id"),
        CheckConstraint("shape IN ('unit', 'spend')", name="shape"),
        CheckConstraint("term_hours > 0", name="term_positive"),
    )


class CommitmentRow(Base):
    """An owned commitment: from the provider's inventory, or bought by a plan; or units
    given up before their term (``ended``: an exchange or a return), kept for the hours
    they were owned."""

    __tablename__ = "commitments"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(64))
    commitment_id: Mapped[str | None] = mapped_column(String(256))
    """The provider's identifier; null when it has none (yet)."""
    offering_pk: Mapped[int] = mapped_column(
        ForeignKey("offerings.id", ondelete="RESTRICT"), index=True
    )
    quantity: Mapped[float]
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    """First hour at which the commitment no longer applies."""
    source: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)

    offering: Mapped[OfferingRow] = relationship(lazy="joined", innerjoin=True)

    __table_args__ = (
        UniqueConstraint("provider", "commitment_id"),
        CheckConstraint(_in("source", CommitmentSource), name="source"),
        CheckConstraint("quantity >= 0", name="quantity_nonnegative"),
        Index("ix_commitments_provider_end_at", "provider", "end_at"),
    )


class PlanRow(Base):
    """A plan the optimizer proposed, with the numbers that justify it."""

    __tablename__ = "plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    status: Mapped[str] = mapped_column(String(32), default=PlanStatus.PROPOSED, index=True)
    dataset_id: Mapped[int | None] = mapped_column(
        ForeignKey("datasets.id", ondelete="SET NULL"), index=True
    )
    window_start: Mapped[datetime]
    window_hours: Mapped[int]
    on_demand_equivalent: Mapped[float]
    cost_before: Mapped[float]
    cost_after: Mapped[float]
    esr_before: Mapped[float]
    esr_after: Mapped[float]
    upfront_cash: Mapped[float]
    monthly_commitment: Mapped[float]
    expected_savings: Mapped[float]
    solver_status: Mapped[str] = mapped_column(String(64))
    build_seconds: Mapped[float]
    solve_seconds: Mapped[float]
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    scope: Mapped[str] = mapped_column(String(128), default=DEFAULT_SCOPE,
                                       server_default=DEFAULT_SCOPE)
    """The part of the provider the plan is for (its policy and run lock are the scope's)."""
    valid_until: Mapped[datetime | None]
    """After this the plan cannot be executed: prices and usage have moved."""
    policy_version: Mapped[int | None]
    """Version of the scope's policy the plan was last judged against."""
    policy_reasons: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    """Why the policy held the plan back: one ``{check, severity, message}`` per violation."""
    approved_by: Mapped[str | None] = mapped_column(String(128))
    """``policy`` for an automatic approval, else the approver's name."""
    approved_at: Mapped[datetime | None]
    status_reason: Mapped[str | None] = mapped_column(Text)
    """Why the plan is in its status, in words."""
    status_changed_at: Mapped[datetime | None]

    actions: Mapped[list[ActionRow]] = relationship(
        back_populates="plan",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="ActionRow.position",
    )

    __table_args__ = (
        Index("ix_plans_provider_created_at", "provider", "created_at"),
        Index("ix_plans_provider_scope_status", "provider", "scope", "status"),
        CheckConstraint(_in("status", PlanStatus), name="status"),
    )


class ActionRow(Base):
    """One step of a plan: buy, exchange or return a quantity of an offering.

    An exchange gives up ``quantity`` units of the owned commitment
    ``commitment_id`` (of ``offering_id``) for ``target_quantity`` units of
    ``target_offering_id``; a return hands back ``commitment_id``. ``cash_effect``
    is the cash paid (positive) or refunded (negative) when the action is placed.
    """

    __tablename__ = "actions"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"))
    position: Mapped[int]
    kind: Mapped[str] = mapped_column(String(32))
    offering_id: Mapped[str] = mapped_column(String(256))
    """The offering's identifier (not a key: a plan may come from a catalog file)."""
    quantity: Mapped[float]
    upfront_cost: Mapped[float]
    hourly_cost: Mapped[float]
    amortized_hourly_cost: Mapped[float]
    reason: Mapped[str] = mapped_column(Text, default="")
    commitment_id: Mapped[str | None] = mapped_column(String(256))
    """The owned commitment an exchange gives up or a return hands back (null for a purchase)."""
    target_offering_id: Mapped[str | None] = mapped_column(String(256))
    """The offering an exchange receives (null otherwise)."""
    target_quantity: Mapped[float] = mapped_column(default=0.0, server_default="0")
    """Units an exchange receives of ``target_offering_id``."""
    cash_effect: Mapped[float] = mapped_column(default=0.0, server_default="0")
    """Cash paid (positive) or refunded (negative) now."""
    status: Mapped[str] = mapped_column(String(32), default=ActionStatus.PENDING, index=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    """Derived from the plan and the action; every provider call for the action carries it."""
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    """Provider calls made to place this action (retries included)."""
    intent_at: Mapped[datetime | None]
    """When the intent to call the provider was committed."""
    finished_at: Mapped[datetime | None]
    commitment_ids: Mapped[list[str] | None]
    """The provider's ids of what the action bought."""
    error: Mapped[str | None] = mapped_column(Text)

    plan: Mapped[PlanRow] = relationship(back_populates="actions")

    __table_args__ = (
        UniqueConstraint("plan_id", "position"),
        CheckConstraint(_in("status", ActionStatus), name="status"),
    )


class PolicyRow(Base):
    """One version of the policy of a provider's scope; the highest version is in force.

    Rows are never updated: a change is a new version, with who made it and why.
    """

    __tablename__ = "policies"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(String(128))
    version: Mapped[int]
    body: Mapped[dict[str, Any]]
    """The policy's fields (``executor.policy.ScopePolicy``) as JSON."""
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    created_by: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (UniqueConstraint("provider", "scope", "version"),)


class RunRow(Base):
    """One autonomous run (``ladder run`` or the scheduler): status, timings, the plan."""

    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(String(128))
    trigger: Mapped[str] = mapped_column(String(32))
    """``cli``, ``schedule`` or ``api``."""
    actor: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(32), index=True)
    """``running``, then ``succeeded``, ``failed`` or ``skipped`` (another run held the lock)."""
    outcome: Mapped[str | None] = mapped_column(String(32))
    """What the run did: ``executed``, ``dry_run``, ``awaiting_approval``, ``blocked``, …"""
    mode: Mapped[str] = mapped_column(String(16))
    """``execute`` when the provider's purchases are enabled, else ``dry_run``."""
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int]
    started_at: Mapped[datetime] = mapped_column(default=utc_now)
    finished_at: Mapped[datetime | None]
    plan_id: Mapped[int | None] = mapped_column(
        ForeignKey("plans.id", ondelete="SET NULL"), index=True
    )
    timings: Mapped[dict[str, float]] = mapped_column(default=dict)
    """Seconds spent in each step."""
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_runs_provider_scope_started_at", "provider", "scope",
                            "started_at"),)


class RunLockRow(Base):
    """The run lock of a scope on SQLite (PostgreSQL uses an advisory lock instead).

    A process holds the lock while ``owner`` is its token and ``expires_at`` is in
    the future; it renews the lease as it goes.
    """

    __tablename__ = "run_locks"

    scope_key: Mapped[str] = mapped_column(String(256), primary_key=True)
    owner: Mapped[str | None] = mapped_column(String(255))
    host: Mapped[str | None] = mapped_column(String(255))
    pid: Mapped[int | None]
    acquired_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]


class AuditEntryRow(Base):
    """One entry of the append-only audit log; ``hash`` chains it to the entry before."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(128))
    event: Mapped[str] = mapped_column(String(64), index=True)
    subject: Mapped[str] = mapped_column(String(256), index=True)
    """What the entry is about: ``plan:12``, ``action:12/0``, ``policy:sample/all``, …"""
    reason: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]]
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditHeadRow(Base):
    """The head of the audit chain: its last ``seq`` and ``hash`` (one row, ``id`` 1).

    Every transaction that appends locks this row first, so that appends from
    concurrent processes queue and the chain never forks.
    """

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    seq: Mapped[int]
    hash: Mapped[str] = mapped_column(String(64))


class NotificationRow(Base):
    """A notification sent (or attempted) to the webhooks; ``dedup_key`` sends each once."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    dedup_key: Mapped[str] = mapped_column(String(512), unique=True)
    provider: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    """When it was raised, or last claimed for a resend (``executor.notify.resend_failed``)."""
    sent_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16))
    """``pending``, ``sent``, ``failed`` or ``unsent`` (no webhook configured)."""
    attempts: Mapped[int] = mapped_column(default=0)
    payload: Mapped[dict[str, Any]]
    error: Mapped[str | None] = mapped_column(Text)


API_KEY_ROLES = ("viewer", "finance", "approver", "admin")
"""Every role an API key may carry (``api/roles.py`` says what each may do)."""


class ApiKeyRow(Base):
    """An API key: who holds it, its role, and a keyed hash of it (never the key itself).

    ``prefix`` is the public part of the key, used to find the row; the secret
    part is only ever compared through its hash, in constant time.
    """

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    """Who holds the key; the actor the audit log records for what it does."""
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    hash: Mapped[str] = mapped_column(String(64))
    """HMAC-SHA256 of the whole key with the server's pepper, hex."""
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]

    __table_args__ = (CheckConstraint(_in("role", API_KEY_ROLES), name="role"),)


def table_names() -> list[str]:
    """Names of every table Ladder creates (without Alembic's version table)."""
    return sorted(Base.metadata.tables)


__all__ = [
    "NAMING_CONVENTION",
    "ActionRow",
    "ApiKeyRow",
    "AuditEntryRow",
    "AuditHeadRow",
    "Base",
    "CatalogKeyRow",
    "CatalogRow",
    "CommitmentRow",
    "DatasetRow",
    "NotificationRow",
    "OfferingRow",
    "PlanRow",
    "PolicyRow",
    "RunLockRow",
    "RunRow",
    "UTCDateTime",
    "UsageHour",
    "UsageKeyRow",
]
