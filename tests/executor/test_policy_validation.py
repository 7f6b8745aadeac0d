"""Validation of a policy's schedule and numbers: five-field cron, a minimum interval between
runs, finite and bounded caps; one validation for the CLI, the API and stored versions."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from executor_factories import GENEROUS, PROVIDER, SCOPE
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from core.db.models import PolicyRow
from core.db.session import session_scope
from core.errors import InvalidInput
from core.settings import Settings
from executor.policy import (
    MAX_MONEY,
    ScopePolicy,
    load_policy,
    parse_policy,
    save_policy,
    shortest_interval,
)
from ladder.cli import app
from ladder.run import RunOutcome
from ladder.scheduler import Scheduler

HOUR = timedelta(hours=1)
runner = CliRunner()


@pytest.mark.parametrize("expression", ["* * * * * *", "*/2 * * * * *", "0 6 * * 1 2027",
                                        "@hourly", "0 6 * *"])
def test_a_schedule_must_have_exactly_five_fields(expression: str) -> None:
    with pytest.raises(InvalidInput, match=r"field\(s\); a schedule has exactly 5"):
        parse_policy({"schedule": expression})


@pytest.mark.parametrize(("expression", "minutes"), [
    ("* * * * *", 1),
    ("*/15 * * * *", 15),
    ("*/45 * * * *", 15),  # 00 and 45 past each hour: 15 minutes from :45 to the next :00
    ("0 * * * *", 60),
    ("0 0,23 * * *", 60),  # 23:00, then 00:00 the next day
    ("30 */7 * * *", 180),  # 21:30, then 00:30
    ("0 6 * * 1", 24 * 60),
])
def test_shortest_interval_between_runs(expression: str, minutes: int) -> None:
    assert shortest_interval(expression) == timedelta(minutes=minutes)


def test_a_schedule_more_frequent_than_the_minimum_is_refused_with_what_was_wrong(
    session: Session,
) -> None:
    too_often = GENEROUS.model_copy(update={"schedule": "*/15 * * * *"})
    with pytest.raises(InvalidInput) as raised:
        save_policy(session, PROVIDER, SCOPE, too_often, actor="alice", reason="x",
                    min_schedule_interval=HOUR)
    assert raised.value.column == "schedule"
    assert "every 15 minutes" in str(raised.value) and "once every 1 hour" in str(raised.value)
    assert load_policy(session, PROVIDER, SCOPE) is None

    hourly = GENEROUS.model_copy(update={"schedule": "0 * * * *"})
    assert save_policy(session, PROVIDER, SCOPE, hourly, actor="alice", reason="x",
                       min_schedule_interval=HOUR).version == 1
    # The minimum is a setting: a lower one lets the quarter-hour schedule through.
    assert save_policy(session, PROVIDER, SCOPE, too_often, actor="alice", reason="x",
                       min_schedule_interval=timedelta(minutes=10)).version == 2


def test_the_default_minimum_interval_is_an_hour_and_an_environment_setting(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert Settings().min_schedule_interval_s == 3600
    half_hourly = GENEROUS.model_copy(update={"schedule": "0,30 * * * *"})
    with pytest.raises(InvalidInput, match="every 30 minutes"):
        save_policy(session, PROVIDER, SCOPE, half_hourly, actor="alice", reason="x")
    monkeypatch.setenv("LADDER_MIN_SCHEDULE_INTERVAL_S", "1800")
    from core.settings import get_settings
    get_settings.cache_clear()
    assert save_policy(session, PROVIDER, SCOPE, half_hourly, actor="alice",
                       reason="x").policy.schedule == "0,30 * * * *"


def _store_raw(session: Session, body: dict[str, Any]) -> None:
    """Write a policy version the way the versions before these rules were stored."""
    save_policy(session, PROVIDER, SCOPE, GENEROUS, actor="alice", reason="before")
    session.execute(update(PolicyRow).where(PolicyRow.provider == PROVIDER)
                    .values(body={**GENEROUS.model_dump(mode="json"), **body}))
    session.expire_all()


def test_a_stored_six_field_schedule_stays_readable_the_kill_switch_works_and_it_never_runs(
    session: Session, engine: Engine, db_url: str
) -> None:
    with session_scope(engine) as writer:
        _store_raw(writer, {"schedule": "* * * * * *"})
    with session_scope(engine) as reader:
        stored = load_policy(reader, PROVIDER, SCOPE)
        assert stored is not None and stored.policy.schedule == "* * * * * *"
        # Turning the kill switch on keeps the schedule as it was and must never fail.
        save_policy(reader, PROVIDER, SCOPE,
                    stored.policy.model_copy(update={"kill_switch": True}),
                    actor="alice", reason="stop", min_schedule_interval=HOUR)

    calls: list[tuple[str, str]] = []

    def run(provider: str, scope: str) -> RunOutcome:
        calls.append((provider, scope))
        return RunOutcome(len(calls), "succeeded", "dry_run", "dry_run")

    scheduler = Scheduler(engine, run, min_interval=HOUR)
    now = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
    for second in range(0, 10, 2):
        scheduler.tick(now + timedelta(seconds=second))
    assert calls == [] and scheduler.jobs == {}
    [refused] = scheduler.status()
    assert refused["scope"] == SCOPE and "6 field(s)" in refused["refused"]


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan, "inf", "Infinity", "nan",
                                   MAX_MONEY * 10])
def test_caps_must_be_finite_and_bounded(value: Any) -> None:
    with pytest.raises(InvalidInput, match="max_run_upfront"):
        parse_policy({"max_run_upfront": value})


@pytest.mark.parametrize(("field", "value"), [
    ("max_low_forecast_share", math.inf), ("plan_validity_hours", math.inf),
    ("plan_validity_hours", 1e9), ("allowed_terms_hours", [10**30]),
    ("blackouts", [{"cron": "0 0 25 * *", "hours": math.inf}]),
])
def test_other_numbers_of_a_policy_are_finite_and_bounded(field: str, value: Any) -> None:
    with pytest.raises(InvalidInput, match=field):
        parse_policy({field: value})


def test_a_stored_infinite_cap_reads_as_no_cap(session: Session, backend: str) -> None:
    if backend == "postgresql":
        pytest.skip("PostgreSQL's JSON never held Infinity: only SQLite stored such versions")
    _store_raw(session, {"max_run_upfront": math.inf})
    stored = load_policy(session, PROVIDER, SCOPE)
    assert stored is not None and stored.policy.max_run_upfront is None
    assert stored.policy.max_run_hourly == GENEROUS.max_run_hourly


def test_cli_refuses_an_infinite_cap(ladder_settings: Settings) -> None:
    result = runner.invoke(app, ["policy", "set", "--set", "max_run_upfront=inf",
                                 "--reason", "x"])
    assert result.exit_code == 2, result.output
    assert "max_run_upfront" in result.output and "finite" in _words(result.output)
    result = runner.invoke(app, ["policy", "set", "--set", "max_run_upfront=1e300",
                                 "--reason", "x"])
    assert result.exit_code == 2 and "max_run_upfront" in result.output
    assert runner.invoke(app, ["policy", "set", "--set", "max_run_upfront=500000",
                               "--reason", "x"]).exit_code == 0


def test_cli_refuses_a_six_field_schedule(ladder_settings: Settings) -> None:
    result = runner.invoke(app, ["policy", "set", "--set", 'schedule="* * * * * *"',
                                 "--reason", "x"])
    assert result.exit_code == 2, result.output
    assert "schedule" in result.output and "6 field(s)" in _words(result.output)
    result = runner.invoke(app, ["policy", "set", "--set", 'schedule="*/5 * * * *"',
                                 "--reason", "x"])
    assert result.exit_code == 2 and "every 5 minutes" in _words(result.output)


def _words(text: str) -> str:
    """The text with Rich's line wrapping undone."""
    return " ".join(text.split())


def test_policy_dump_is_plain_json() -> None:
    body = ScopePolicy(max_run_upfront=MAX_MONEY).model_dump(mode="json")
    assert json.loads(json.dumps(body, allow_nan=False))["max_run_upfront"] == MAX_MONEY
