"""Notifications to webhooks, as Slack-compatible JSON, each sent once.

Four kinds: a plan **needs approval**, a run **failed**, a commitment **expires**
within 30, 60 or 90 days, the portfolio's **utilisation** fell below the
policy's floor. Each has a de-duplication key; :func:`notify` records it in the
``notifications`` table and sends it once. A failed send is tried again when the
same notification comes up again, and every run tries its scope's failed ones
again (:func:`resend_failed`, up to :data:`MAX_ATTEMPTS` sends; a notification
left ``pending`` by a process that died counts as failed after
:data:`STALE_PENDING`). The payload is Slack's incoming-webhook format (``text`` plus ``blocks``),
which Mattermost, Rocket.Chat, Teams workflows and most chat tools accept.

Sending happens outside any database transaction, and a webhook that fails
never fails the run: the error is stored on the notification.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import httpx
from sqlalchemy import Engine, or_, select, update
from sqlalchemy.exc import IntegrityError

from core.db.models import NotificationRow, utc_now
from core.db.session import session_scope
from core.domain import Commitment
from executor import repository as repo
from executor import webhooks

EXPIRY_THRESHOLDS_DAYS = (30, 60, 90)
MAX_ATTEMPTS = 5
"""Sends of one notification before it is given up (it stays ``failed``, with its error)."""
STALE_PENDING = timedelta(minutes=15)
"""A notification ``pending`` this long was left by a process that died while sending."""


class NotificationKind(StrEnum):
    """What a notification is about."""

    APPROVAL_NEEDED = "approval_needed"
    RUN_FAILED = "run_failed"
    COMMITMENT_EXPIRING = "commitment_expiring"
    UTILISATION_LOW = "utilisation_low"
    BUDGET_THRESHOLD = "budget_threshold"


@dataclass(frozen=True, slots=True)
class Notification:
    """A message for people, with the key that makes it be sent once."""

    kind: NotificationKind
    dedup_key: str
    provider: str
    scope: str
    title: str
    text: str
    fields: tuple[tuple[str, str], ...] = ()


def slack_payload(notification: Notification) -> dict[str, Any]:
    """The Slack incoming-webhook JSON of a notification (``text`` is the fallback)."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": notification.title[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": notification.text[:3000]}},
    ]
    if notification.fields:
        blocks.append({"type": "section", "fields": [
            {"type": "mrkdwn", "text": f"*{name}*\n{value}"[:2000]}
            for name, value in notification.fields[:10]
        ]})
    blocks.append({"type": "context", "elements": [{
        "type": "mrkdwn",
        "text": f"Ladder · {notification.provider}/{notification.scope} · {notification.kind}",
    }]})
    return {"text": f"{notification.title}: {notification.text}", "blocks": blocks}


class WebhookNotifier:
    """Posts notifications to webhook URLs with httpx."""

    def __init__(self, urls: Sequence[str], *, timeout_s: float = 10.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.urls = tuple(url for url in urls if url)
        self.timeout_s = timeout_s
        self.transport = transport

    def post(self, notification: Notification) -> str | None:
        """Send to every URL; None when all accepted, else the errors in words."""
        return self.post_payload(slack_payload(notification))

    def post_payload(self, payload: dict[str, Any]) -> str | None:
        """Send a ready payload to every URL; None when all accepted, else the errors.

        A URL :mod:`executor.webhooks` refuses (not http(s), a metadata service or a
        link-local address, by name or as resolved now) is not sent to: its error says why.
        """
        errors = []
        with httpx.Client(timeout=self.timeout_s, transport=self.transport) as client:
            for url in self.urls:
                refused = webhooks.resolved_problem(url)
                if refused is not None:
                    errors.append(f"{_host(url)}: not sent: {refused}")
                    continue
                try:
                    response = client.post(url, json=payload)
                    response.raise_for_status()
                except httpx.HTTPStatusError as exc:
                    errors.append(f"{_host(url)}: HTTP {exc.response.status_code}")
                except httpx.HTTPError as exc:
                    shown = str(exc).replace(url, _host(url))
                    errors.append(f"{_host(url)}: {type(exc).__name__}: {shown}")
        return "; ".join(errors) or None


def _host(url: str) -> str:
    """The URL without its path (webhook paths are secrets)."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        return "(a URL that cannot be read)"
    return f"{parsed.scheme}://{parsed.host}" + (f":{parsed.port}" if parsed.port else "")


def notify(engine: Engine, notifier: WebhookNotifier, notification: Notification) -> str:
    """Send a notification once; returns ``sent``, ``failed``, ``unsent`` or ``duplicate``."""
    with session_scope(engine) as session:
        known = repo.get_notification(session, notification.dedup_key)
        if known is not None and known.status in ("sent", "unsent", "pending"):
            return "duplicate"
        if known is None:
            try:
                with session.begin_nested():
                    session.add(NotificationRow(
                        kind=str(notification.kind), dedup_key=notification.dedup_key,
                        provider=notification.provider, scope=notification.scope,
                        status="pending", attempts=0, payload=slack_payload(notification)))
            except IntegrityError:
                return "duplicate"  # another process is sending it
    return _send(engine, notifier, notification.dedup_key, slack_payload(notification))


def _send(engine: Engine, notifier: WebhookNotifier, dedup_key: str,
          payload: dict[str, Any]) -> str:
    """Post a claimed (``pending``) notification and record the outcome of the attempt."""
    error: str | None
    if not notifier.urls:
        status, error = "unsent", "no webhook configured"
    else:
        error = notifier.post_payload(payload)
        status = "failed" if error else "sent"
    with session_scope(engine) as session:
        row = repo.get_notification(session, dedup_key)
        if row is not None:
            row.status, row.error = status, error
            row.attempts += 1
            if status == "sent":
                row.sent_at = utc_now()
    return status


def resend_failed(engine: Engine, notifier: WebhookNotifier, *, provider: str, scope: str,
                  now: datetime | None = None,
                  max_attempts: int = MAX_ATTEMPTS) -> dict[str, str]:
    """Send the scope's failed notifications again (and those a dead process left pending).

    Each is claimed first (``failed`` → ``pending`` in one conditional update), so two
    processes never send the same one; with no webhook configured nothing is tried.
    Returns the outcome per de-duplication key.
    """
    if not notifier.urls:
        return {}
    stale = (now or utc_now()) - STALE_PENDING
    due = (NotificationRow.provider == provider, NotificationRow.scope == scope,
           NotificationRow.attempts < max_attempts,
           or_(NotificationRow.status == "failed",
               (NotificationRow.status == "pending") & (NotificationRow.created_at < stale)))
    with session_scope(engine) as session:
        keys = list(session.scalars(select(NotificationRow.dedup_key).where(*due)
                                    .order_by(NotificationRow.id)))
    outcomes: dict[str, str] = {}
    for key in keys:
        with session_scope(engine) as session:
            claimed = session.execute(
                update(NotificationRow).where(NotificationRow.dedup_key == key, *due)
                .values(status="pending", created_at=utc_now())
                .returning(NotificationRow.payload)).scalar_one_or_none()
        if claimed is not None:
            outcomes[key] = _send(engine, notifier, key, claimed)
    return outcomes


# --- the messages ---------------------------------------------------------------------------


def approval_needed(*, provider: str, scope: str, plan_id: int, reasons: Sequence[str],
                    expected_savings: float, upfront: float, hourly: float) -> Notification:
    """A plan is outside the policy and waits for a person with the approver role."""
    return Notification(
        NotificationKind.APPROVAL_NEEDED, f"approval:{plan_id}", provider, scope,
        f"Plan {plan_id} needs an approver",
        "It is outside the policy:\n" + "\n".join(f"• {r}" for r in reasons)
        + f"\nApprove with `ladder plans approve {plan_id}` or reject it.",
        (("Expected savings", f"${expected_savings:,.2f}"), ("Upfront", f"${upfront:,.2f}"),
         ("New commitment", f"${hourly:,.4f}/h")),
    )


def run_failed(*, provider: str, scope: str, run_id: int, error: str) -> Notification:
    """A run ended in an error."""
    return Notification(NotificationKind.RUN_FAILED, f"run-failed:{run_id}", provider, scope,
                        f"Run {run_id} failed", error[:2000])


def expiring(
    commitments: Sequence[Commitment], *, provider: str, scope: str, now: datetime,
    thresholds: Sequence[int] = EXPIRY_THRESHOLDS_DAYS,
) -> list[Notification]:
    """One notification per commitment ending within a threshold, at the tightest threshold."""
    found = []
    for commitment in commitments:
        days = (commitment.end - now).total_seconds() / 86400
        if days < 0:
            continue
        threshold = next((t for t in sorted(thresholds) if days <= t), None)
        if threshold is None:
            continue
        name = commitment.commitment_id or commitment.offering.offering_id
        found.append(Notification(
            NotificationKind.COMMITMENT_EXPIRING,
            f"expiring:{provider}:{name}:{commitment.end.isoformat()}:{threshold}",
            provider, scope,
            f"Commitment {name} expires within {threshold} days",
            f"{commitment.quantity:g} of {commitment.offering.offering_id} end on "
            f"{commitment.end:%Y-%m-%d} ({days:.0f} days). Usage it covers goes back to "
            "on-demand unless it is renewed.",
            (("Ends", f"{commitment.end:%Y-%m-%d %H:%M} UTC"),
             ("Days left", f"{days:.0f}")),
        ))
    return found


def utilisation_low(*, provider: str, scope: str, utilisation: float, floor: float,
                    day: str, worst: Sequence[tuple[str, float]] = ()) -> Notification:
    """The portfolio's utilisation fell below the policy's floor (once a day per scope)."""
    lines = "\n".join(f"• {name}: {share:.1%}" for name, share in worst[:5])
    return Notification(
        NotificationKind.UTILISATION_LOW, f"utilisation:{provider}:{scope}:{day}",
        provider, scope, f"Utilisation {utilisation:.1%} is below the floor of {floor:.1%}",
        "Commitments are paid for and not used." + (f"\nLowest:\n{lines}" if lines else ""),
        (("Utilisation", f"{utilisation:.1%}"), ("Floor", f"{floor:.1%}")),
    )
