"""The policy of a provider's scope: the limits inside which Ladder may buy on its own.

A policy is stored per ``(provider, scope)`` and versioned: a change is a new
version, with who made it and why, and the audit log records it. Without a
stored policy nothing is approved automatically: every plan waits for an
approver.

Caps left as ``None`` do not apply. Money is in dollars: new commitment in
amortised dollars per hour (upfront spread over the term plus the hourly fee),
cash in dollars paid up front.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from croniter import croniter
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.db.models import PolicyRow
from core.domain import PaymentOption
from core.errors import Conflict, InvalidInput
from executor import audit


def _check_cron(expression: str) -> str:
    if not croniter.is_valid(expression):
        raise ValueError(f"{expression!r} is not a cron expression (minute hour day month "
                         "weekday, e.g. '0 6 * * 1')")
    return expression


class BlackoutWindow(BaseModel):
    """A time when nothing may be bought: fixed (``start``–``end``) or recurring.

    A recurring window starts at every time ``cron`` names and lasts ``hours``
    (``{"cron": "0 0 25 * *", "hours": 168}``: from the 25th of each month for a week).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: datetime | None = None
    end: datetime | None = None
    cron: str | None = None
    hours: float | None = Field(default=None, gt=0)
    reason: str = ""

    @field_validator("start", "end")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("blackout times must carry a time zone (e.g. 2026-12-24T00:00Z)")
        return value

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        return None if value is None else _check_cron(value)

    @model_validator(mode="after")
    def _one_form(self) -> BlackoutWindow:
        fixed = self.start is not None or self.end is not None
        recurring = self.cron is not None or self.hours is not None
        if fixed == recurring:
            raise ValueError("a blackout window has either start and end, or cron and hours")
        if fixed and (self.start is None or self.end is None or self.start >= self.end):
            raise ValueError("a fixed blackout window needs start before end")
        if recurring and (self.cron is None or self.hours is None):
            raise ValueError("a recurring blackout window needs both cron and hours")
        return self

    def active_at(self, now: datetime) -> bool:
        """Whether ``now`` falls inside the window."""
        if self.start is not None and self.end is not None:
            return self.start <= now < self.end
        assert self.cron is not None and self.hours is not None
        # The last start at or before now; one second later so that a start at now counts.
        last = croniter(self.cron, now.astimezone(UTC) + timedelta(seconds=1)).get_prev(datetime)
        return now < last + timedelta(hours=self.hours)

    def describe(self) -> str:
        """The window in words."""
        when = (f"{self.start:%Y-%m-%d %H:%M} to {self.end:%Y-%m-%d %H:%M} UTC"
                if self.start is not None and self.end is not None
                else f"{self.hours:g} h from each '{self.cron}'")
        return f"{when}{f' ({self.reason})' if self.reason else ''}"


class Policy(BaseModel):
    """What a scope allows Ladder to buy without a person, and when it may buy at all."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    auto_approve: bool = True
    """Approve plans inside every limit automatically (else every plan waits for an approver)."""
    kill_switch: bool = False
    """Stop: nothing is bought for this scope, approved or not, until it is turned off."""
    max_run_hourly: float | None = Field(default=None, ge=0)
    """New commitment per plan, amortised $/h."""
    max_run_upfront: float | None = Field(default=None, ge=0)
    """Upfront cash per plan, $."""
    max_month_hourly: float | None = Field(default=None, ge=0)
    """New commitment per calendar month (UTC), amortised $/h, this plan included."""
    max_month_upfront: float | None = Field(default=None, ge=0)
    """Upfront cash per calendar month (UTC), $, this plan included."""
    max_low_forecast_share: float | None = Field(default=None, gt=0)
    """Commitment owned and new, as on-demand $/h it can cover, over the low forecast's $/h."""
    min_utilisation: float | None = Field(default=None, ge=0, le=1)
    """Floor of each new commitment's expected utilisation; also the portfolio's alert floor."""
    allowed_offerings: tuple[str, ...] | None = None
    """Offering ids that may be bought; shell patterns (``ri-std-1y-*``) allowed."""
    allowed_terms_hours: tuple[int, ...] | None = None
    """Terms that may be bought, in hours (8760 one year, 26280 three)."""
    allowed_payment_options: tuple[PaymentOption, ...] | None = None
    blackouts: tuple[BlackoutWindow, ...] = ()
    plan_validity_hours: float = Field(default=24.0, gt=0)
    """A plan older than this cannot be executed."""
    schedule: str | None = None
    """Cron expression (UTC) of the scope's autonomous runs under ``ladder serve``."""
    webhook_urls: tuple[str, ...] = ()
    """Where the scope's notifications go (Slack-compatible incoming webhooks)."""

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str | None) -> str | None:
        return None if value is None else _check_cron(value)

    def allows_offering(self, offering_id: str) -> bool:
        """Whether the offering id matches ``allowed_offerings`` (always, when unset)."""
        if self.allowed_offerings is None:
            return True
        return any(fnmatch.fnmatchcase(offering_id, pattern)
                   for pattern in self.allowed_offerings)

    def blackout_at(self, now: datetime) -> BlackoutWindow | None:
        """The blackout window ``now`` falls in, if any."""
        return next((window for window in self.blackouts if window.active_at(now)), None)


@dataclass(frozen=True, slots=True)
class StoredPolicy:
    """A version of a scope's policy, with who stored it, when and why."""

    provider: str
    scope: str
    version: int
    policy: Policy
    created_at: datetime
    created_by: str
    reason: str


def parse_policy(body: dict[str, Any]) -> Policy:
    """Validate a policy's fields, with an error naming the first wrong field."""
    try:
        return Policy.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "policy"
        raise InvalidInput(f"policy field {field}: {first['msg']}", column=field) from exc


def _stored(row: PolicyRow) -> StoredPolicy:
    return StoredPolicy(row.provider, row.scope, row.version, Policy.model_validate(row.body),
                        row.created_at, row.created_by, row.reason)


def load_policy(session: Session, provider: str, scope: str) -> StoredPolicy | None:
    """The policy in force for the scope (its highest version), or None."""
    row = session.scalar(
        select(PolicyRow).where(PolicyRow.provider == provider, PolicyRow.scope == scope)
        .order_by(PolicyRow.version.desc()).limit(1)
    )
    return None if row is None else _stored(row)


def policy_history(session: Session, provider: str, scope: str) -> list[StoredPolicy]:
    """Every version of the scope's policy, the newest first."""
    rows = session.scalars(
        select(PolicyRow).where(PolicyRow.provider == provider, PolicyRow.scope == scope)
        .order_by(PolicyRow.version.desc())
    )
    return [_stored(row) for row in rows]


def list_policies(session: Session) -> list[StoredPolicy]:
    """The policy in force of every scope that has one."""
    latest = (select(PolicyRow.provider, PolicyRow.scope,
                     func.max(PolicyRow.version).label("version"))
              .group_by(PolicyRow.provider, PolicyRow.scope).subquery())
    rows = session.scalars(
        select(PolicyRow).join(latest, (PolicyRow.provider == latest.c.provider)
                               & (PolicyRow.scope == latest.c.scope)
                               & (PolicyRow.version == latest.c.version))
        .order_by(PolicyRow.provider, PolicyRow.scope)
    )
    return [_stored(row) for row in rows]


def save_policy(
    session: Session, provider: str, scope: str, policy: Policy, *, actor: str, reason: str
) -> StoredPolicy:
    """Store ``policy`` as the scope's next version and audit the change."""
    audit.lock_chain(session)
    previous = load_policy(session, provider, scope)
    version = 1 if previous is None else previous.version + 1
    body = policy.model_dump(mode="json")
    row = PolicyRow(provider=provider, scope=scope, version=version, body=body,
                    created_by=actor, reason=reason)
    session.add(row)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise Conflict(f"the policy of {provider}/{scope} was changed meanwhile; "
                       "read it again") from exc
    before = previous.policy.model_dump(mode="json") if previous is not None else {}
    changed = sorted(k for k in body if before.get(k) != body[k])
    audit.append(session, actor=actor, event="policy.update",
                 subject=f"policy:{provider}/{scope}", reason=reason,
                 data={"version": version, "policy": body, "changed": changed})
    return _stored(row)
