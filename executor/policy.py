"""The policy of a provider's scope: the limits inside which Ladder may buy on its own.

A policy is stored per ``(provider, scope)`` and versioned: a change is a new
version, with who made it and why, and the audit log records it. Without a
stored policy nothing is approved automatically: every plan waits for an
approver.

Caps left as ``None`` do not apply. Money is in dollars: new commitment in
amortized dollars per hour (upfront spread over the term plus the hourly fee),
cash in dollars paid up front.
"""

from __future__ import annotations

import fnmatch
import itertools
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from croniter import croniter
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.db.models import PolicyRow
from core.domain import PaymentOption
from core.errors import Conflict, InvalidInput
from core.settings import get_settings
from executor import audit
from executor.webhooks import check_webhook_url

CRON_FIELDS = 5
"""minute hour day-of-month month weekday: no seconds field, no year field, no ``@`` names."""
MAX_MONEY = 1e12
"""Largest cap in dollars a policy accepts (a trillion: anything above is a typo or ``inf``)."""
MAX_RATIO = 1000.0
"""Largest share of the low forecast a policy accepts."""
MAX_HOURS = 10 * 8760.0
"""Longest plan validity or blackout a policy accepts, in hours (ten years)."""
Money = Annotated[float, Field(ge=0, le=MAX_MONEY, allow_inf_nan=False)]
"""A cap in dollars: finite, from 0 to :data:`MAX_MONEY`."""


def _integral(value: Any) -> Any:
    # JSON Schema's integer includes 8760.0: read it as 8760, as the schema promises.
    return int(value) if isinstance(value, float) and value.is_integer() else value


TermHours = Annotated[int, Field(gt=0, le=int(MAX_HOURS)), BeforeValidator(_integral)]
"""A term in whole hours, up to :data:`MAX_HOURS`."""
_CRON_HELP = "minute hour day month weekday, e.g. '0 6 * * 1'"


def _check_cron(expression: str) -> str:
    """Accept a standard five-field cron expression only (UTC)."""
    fields = expression.split()
    if len(fields) != CRON_FIELDS:
        raise ValueError(f"{expression!r} has {len(fields)} field(s); a schedule has exactly "
                         f"{CRON_FIELDS} ({_CRON_HELP}); seconds, years and @-names are not "
                         "accepted")
    try:
        valid = croniter.is_valid(expression)
    except Exception:  # croniter raises on some malformed forms instead of answering False
        valid = False
    if not valid:
        raise ValueError(f"{expression!r} is not a cron expression ({_CRON_HELP})")
    return expression


def _field_values(field: list[int | str], size: int) -> list[int]:
    return list(range(size)) if "*" in field else sorted({int(v) for v in field})


def shortest_interval(expression: str) -> timedelta:
    """The shortest time between two runs of a five-field cron expression.

    Measured over the times of day it names, and across midnight as if the next
    day matched too (a bound: a schedule restricted to some days may in fact run
    less often across midnight, never more often).
    """
    minutes_field, hours_field = croniter(_check_cron(expression)).expanded[:2]
    times = sorted(hour * 60 + minute for hour in _field_values(hours_field, 24)
                   for minute in _field_values(minutes_field, 60))
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    gaps.append(24 * 60 - times[-1] + times[0])
    return timedelta(minutes=min(gaps))


def check_schedule_interval(expression: str, minimum: timedelta) -> None:
    """InvalidInput when the schedule would run more often than ``minimum`` allows."""
    shortest = shortest_interval(expression)
    if shortest < minimum:
        raise InvalidInput(
            f"schedule {expression!r} runs every {_words(shortest)} at its most frequent; "
            f"autonomous runs may be at most once every {_words(minimum)} "
            "(LADDER_MIN_SCHEDULE_INTERVAL_S)", column="schedule")


def _words(span: timedelta) -> str:
    minutes = span.total_seconds() / 60
    if minutes >= 60 and minutes % 60 == 0:
        hours = int(minutes // 60)
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{minutes:g} minute{'s' if minutes != 1 else ''}"


STORED = {"stored": True}
"""Validation context of a policy read back from the database (see ``_stored_body``)."""


def _stored_body(info: ValidationInfo) -> bool:
    """Whether a policy version stored earlier is being read (its rules may have been looser)."""
    return bool(info.context and info.context.get("stored"))


class BlackoutWindow(BaseModel):
    """A time when nothing may be bought: fixed (``start``–``end``) or recurring.

    A recurring window starts at every time ``cron`` names and lasts ``hours``
    (``{"cron": "0 0 25 * *", "hours": 168}``: from the 25th of each month for a week).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: datetime | None = None
    end: datetime | None = None
    cron: str | None = None
    hours: float | None = Field(default=None, gt=0, le=MAX_HOURS, allow_inf_nan=False)
    reason: str = ""

    @field_validator("start", "end")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("blackout times must carry a time zone (e.g. 2026-12-24T00:00Z)")
        return value

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None, info: ValidationInfo) -> str | None:
        return value if value is None or _stored_body(info) else _check_cron(value)

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


class ScopePolicy(BaseModel):
    """What a scope allows Ladder to buy without a person, and when it may buy at all."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    auto_approve: bool = True
    """Approve plans inside every limit automatically (else every plan waits for an approver)."""
    kill_switch: bool = False
    """Stop: nothing is bought for this scope, approved or not, until it is turned off."""
    max_run_hourly: Money | None = None
    """New commitment per plan, amortized $/h."""
    max_run_upfront: Money | None = None
    """Upfront cash per plan, $."""
    max_month_hourly: Money | None = None
    """New commitment per calendar month (UTC), amortized $/h, this plan included."""
    max_month_upfront: Money | None = None
    """Upfront cash per calendar month (UTC), $, this plan included."""
    max_low_forecast_share: float | None = Field(default=None, gt=0, le=MAX_RATIO,
                                                 allow_inf_nan=False)
    """Commitment owned and new, as on-demand $/h it can cover, over the low forecast's $/h."""
    min_utilisation: float | None = Field(default=None, ge=0, le=1, allow_inf_nan=False)
    """Floor of each new commitment's expected utilisation; also the portfolio's alert floor."""
    allowed_offerings: tuple[str, ...] | None = None
    """Offering ids that may be bought; shell patterns (``ri-std-1y-*``) allowed."""
    allowed_terms_hours: tuple[TermHours, ...] | None = None
    """Terms that may be bought, in hours (8760 one year, 26280 three)."""
    allowed_payment_options: tuple[PaymentOption, ...] | None = None
    blackouts: tuple[BlackoutWindow, ...] = ()
    plan_validity_hours: float = Field(default=24.0, gt=0, le=MAX_HOURS,
                                       allow_inf_nan=False)
    """A plan older than this cannot be executed."""
    schedule: str | None = None
    """Cron expression (UTC) of the scope's autonomous runs under ``ladder serve``."""
    webhook_urls: tuple[str, ...] = ()
    """Where the scope's notifications go (Slack-compatible incoming webhooks): http(s),
    never a cloud metadata service or a link-local address (:mod:`executor.webhooks`)."""

    @field_validator("webhook_urls")
    @classmethod
    def _webhooks(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        # A stored URL is read as stored; the notifier refuses to send to one it may not.
        if not _stored_body(info):
            for url in value:
                check_webhook_url(url)
        return value

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str | None, info: ValidationInfo) -> str | None:
        # A stored schedule is read as stored; the scheduler refuses one it cannot run.
        return value if value is None or _stored_body(info) else _check_cron(value)

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
    policy: ScopePolicy
    created_at: datetime
    created_by: str
    reason: str


def parse_policy(body: dict[str, Any]) -> ScopePolicy:
    """Validate a policy's fields, with an error naming the first wrong field."""
    try:
        return ScopePolicy.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "policy"
        raise InvalidInput(f"policy field {field}: {first['msg']}", column=field) from exc


def _stored(row: PolicyRow) -> StoredPolicy:
    # Versions stored before caps had to be finite may hold Infinity or NaN: a cap that
    # never binds, read as no cap (None) rather than making the policy unreadable.
    body = {name: None if isinstance(value, float) and not math.isfinite(value) else value
            for name, value in row.body.items()}
    return StoredPolicy(row.provider, row.scope, row.version,
                        ScopePolicy.model_validate(body, context=STORED),
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
    session: Session, provider: str, scope: str, policy: ScopePolicy, *, actor: str, reason: str,
    min_schedule_interval: timedelta | None = None,
) -> StoredPolicy:
    """Store ``policy`` as the scope's next version and audit the change.

    A new or changed ``schedule`` must not run more often than
    ``min_schedule_interval`` (default: ``LADDER_MIN_SCHEDULE_INTERVAL_S``); one
    left as it was is kept, so that turning the kill switch on always works.
    """
    audit.lock_chain(session)
    previous = load_policy(session, provider, scope)
    if policy.schedule is not None and (
            previous is None or previous.policy.schedule != policy.schedule):
        try:
            _check_cron(policy.schedule)
        except ValueError as exc:
            raise InvalidInput(f"policy field schedule: {exc}", column="schedule") from exc
        minimum = min_schedule_interval if min_schedule_interval is not None else timedelta(
            seconds=get_settings().min_schedule_interval_s)
        check_schedule_interval(policy.schedule, minimum)
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
