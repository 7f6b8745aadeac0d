"""Webhook notifications: Slack-compatible JSON, each sent once, failures recorded, not raised."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from factories import make_catalog
from sqlalchemy import Engine, select
from webhook_server import webhook_server

from core.db.models import NotificationRow
from core.db.session import session_scope
from core.domain import Commitment
from executor import notify

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def _message() -> notify.Notification:
    return notify.approval_needed(provider="sample", scope="all", plan_id=7,
                                  reasons=["new commitment of $9.00/h exceeds the cap"],
                                  expected_savings=1234.5, upfront=100.0, hourly=9.0)


def test_slack_payload_has_a_text_fallback_and_blocks() -> None:
    payload = notify.slack_payload(_message())
    assert payload["text"].startswith("Plan 7 needs an approver: It is outside the policy")
    kinds = [block["type"] for block in payload["blocks"]]
    assert kinds == ["header", "section", "section", "context"]
    assert payload["blocks"][2]["fields"][0]["text"] == "*Expected savings*\n$1,234.50"


def test_a_notification_is_posted_once(engine: Engine, db_url: str) -> None:
    with webhook_server() as hook:
        notifier = notify.WebhookNotifier([hook.url])
        assert notify.notify(engine, notifier, _message()) == "sent"
        assert notify.notify(engine, notifier, _message()) == "duplicate"
    assert len(hook.received) == 1
    assert "ladder plans approve 7" in hook.received[0]["blocks"][1]["text"]["text"]
    with session_scope(engine) as session:
        row = session.scalars(select(NotificationRow)).one()
        assert (row.kind, row.status, row.attempts) == ("approval_needed", "sent", 1)
        assert row.sent_at is not None


def test_a_failing_webhook_is_recorded_and_tried_again_next_time(
    engine: Engine, db_url: str
) -> None:
    with webhook_server() as hook:
        hook.status = 500
        notifier = notify.WebhookNotifier([hook.url])
        assert notify.notify(engine, notifier, _message()) == "failed"
        with session_scope(engine) as session:
            row = session.scalars(select(NotificationRow)).one()
            assert row.error is not None and "500" in row.error
            assert "secret" not in row.error  # the webhook's path is a secret
        hook.status = 200
        assert notify.notify(engine, notifier, _message()) == "sent"
    assert len(hook.received) == 2


def test_failed_notifications_are_sent_again_by_the_next_run_up_to_the_limit(
    engine: Engine, db_url: str
) -> None:
    failure = notify.run_failed(provider="sample", scope="all", run_id=3, error="boom")
    other_scope = notify.run_failed(provider="sample", scope="eu", run_id=4, error="boom")
    with webhook_server() as hook:
        notifier = notify.WebhookNotifier([hook.url])
        hook.status = 503
        assert notify.notify(engine, notifier, failure) == "failed"
        assert notify.notify(engine, notifier, other_scope) == "failed"
        # Still failing: each resend is one more attempt, until the limit.
        for _ in range(notify.MAX_ATTEMPTS - 2):
            assert notify.resend_failed(engine, notifier, provider="sample", scope="all") == {
                "run-failed:3": "failed"}
        hook.status = 200
        assert notify.resend_failed(engine, notifier, provider="sample", scope="all") == {
            "run-failed:3": "sent"}
        assert notify.resend_failed(engine, notifier, provider="sample", scope="all") == {}
    # The stored payload was sent, unchanged, and the other scope's was left alone.
    texts = [body["text"] for body in hook.received]
    assert texts.count("Run 3 failed: boom") == notify.MAX_ATTEMPTS
    assert texts.count("Run 4 failed: boom") == 1
    with session_scope(engine) as session:
        rows = {r.dedup_key: r for r in session.scalars(select(NotificationRow))}
        assert (rows["run-failed:3"].status, rows["run-failed:3"].attempts) == (
            "sent", notify.MAX_ATTEMPTS)
        assert rows["run-failed:3"].sent_at is not None
        assert rows["run-failed:4"].status == "failed"


def test_a_notification_given_up_or_left_pending_by_a_dead_process(
    engine: Engine, db_url: str
) -> None:
    failure = notify.run_failed(provider="sample", scope="all", run_id=5, error="boom")
    with webhook_server() as hook:
        notifier = notify.WebhookNotifier([hook.url])
        hook.status = 500
        assert notify.notify(engine, notifier, failure) == "failed"
        with session_scope(engine) as session:
            row = session.scalars(select(NotificationRow)).one()
            row.attempts = notify.MAX_ATTEMPTS
        hook.status = 200
        assert notify.resend_failed(engine, notifier, provider="sample", scope="all") == {}
        with session_scope(engine) as session:
            row = session.scalars(select(NotificationRow)).one()
            row.attempts, row.status = 1, "pending"
        # Pending and recent: another process may be sending it right now.
        assert notify.resend_failed(engine, notifier, provider="sample", scope="all") == {}
        later = datetime.now(UTC) + notify.STALE_PENDING + timedelta(minutes=1)
        assert notify.resend_failed(engine, notifier, provider="sample", scope="all",
                                    now=later) == {"run-failed:5": "sent"}
    assert len(hook.received) == 2


def test_without_a_webhook_the_notification_is_kept_unsent(engine: Engine, db_url: str) -> None:
    assert notify.notify(engine, notify.WebhookNotifier([]), _message()) == "unsent"
    assert notify.notify(engine, notify.WebhookNotifier([]), _message()) == "duplicate"


def test_expiring_commitments_are_told_at_the_tightest_threshold() -> None:
    catalog = make_catalog()
    offering = catalog.offerings[0]  # one year
    def ending_in(days: float, name: str) -> Commitment:
        start = NOW + timedelta(days=days) - timedelta(hours=offering.term_hours)
        return Commitment(offering, 2.0, start, name)

    found = notify.expiring(
        [ending_in(10, "a"), ending_in(45, "b"), ending_in(80, "c"), ending_in(120, "d"),
         ending_in(-3, "gone")], provider="sample", scope="all", now=NOW)
    assert [(n.title, n.dedup_key.rsplit(":", 1)[1]) for n in found] == [
        ("Commitment a expires within 30 days", "30"),
        ("Commitment b expires within 60 days", "60"),
        ("Commitment c expires within 90 days", "90"),
    ]


def test_low_utilisation_names_the_worst_commitments() -> None:
    message = notify.utilisation_low(provider="sample", scope="all", utilisation=0.62,
                                     floor=0.8, day="2026-03-01",
                                     worst=[("sample-ri-1", 0.1), ("sample-sp-2", 0.7)])
    assert message.title == "Utilisation 62.0% is below the floor of 80.0%"
    assert "sample-ri-1: 10.0%" in message.text
    assert message.dedup_key == "utilisation:sample:all:2026-03-01"
