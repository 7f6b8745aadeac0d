"""``ladder run`` on the bundled sample, end to end, on SQLite and on PostgreSQL."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator

import pytest
from executor_factories import GENEROUS, assert_consistent, trigger_disabled
from pipeline_backend import ON_SQLITE_ONLY
from sqlalchemy import Engine, select, text
from typer.testing import CliRunner
from webhook_server import Webhook, webhook_server

from core.db import repository
from core.db.models import AuditEntryRow, PlanRow, RunRow
from core.db.session import create_engine_for, session_scope
from core.errors import InvalidInput
from core.settings import Settings, get_settings
from executor.locks import holder_alive, run_lock
from executor.policy import ScopePolicy, save_policy
from ladder.cli import app
from ladder.run import run_once
from optimizer import ladder_policy, risk
from providers.sample import SampleProvider
from providers.sample.market import SAMPLE_ACCOUNT_NOW

runner = CliRunner()


@pytest.fixture
def settings(ladder_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The sample with a short lookback, so that each run solves in well under a second."""
    monkeypatch.setenv("LADDER_LOOKBACK_HOURS", "336")
    monkeypatch.setenv("LADDER_PROVIDER_RETRY_BASE_S", "0")
    get_settings.cache_clear()
    return get_settings()


@pytest.fixture
def run_engine(settings: Settings) -> Iterator[Engine]:
    engine = create_engine_for(settings.database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def hook() -> Iterator[Webhook]:
    with webhook_server() as server:
        yield server


def _execute(settings: Settings) -> Settings:
    return settings.model_copy(update={"execute_providers": "sample"})


def _policy(engine: Engine, policy: ScopePolicy = GENEROUS) -> None:
    with session_scope(engine) as session:
        save_policy(session, "sample", "all", policy, actor="alice", reason="test")


@ON_SQLITE_ONLY
def test_a_plan_outside_policy_waits_for_an_approver_who_is_told(
    settings: Settings, run_engine: Engine, hook: Webhook
) -> None:
    settings = settings.model_copy(update={"webhook_url": hook.url})
    outcome = run_once(run_engine, settings)

    assert (outcome.status, outcome.outcome, outcome.mode) == (
        "succeeded", "awaiting_approval", "dry_run")
    texts = hook.texts()
    assert any(t.startswith(f"Plan {outcome.plan_id} needs an approver") for t in texts)
    # The bundled r4 reservation ends 29 days after the sample's decision time.
    assert any("sample-ri-r4-2023-10 expires within 30 days" in t for t in texts)
    with session_scope(run_engine) as session:
        plan = repository.get_plan(session, outcome.plan_id or 0)
        assert plan is not None and plan.status == "proposed"
        assert plan.policy_reasons and plan.policy_reasons[0]["check"] == "policy"
    assert SampleProvider().market().orders() == []


@ON_SQLITE_ONLY
def test_run_executes_inside_the_policy_and_the_inventory_shows_it(
    settings: Settings, run_engine: Engine
) -> None:
    _policy(run_engine)
    settings = settings.model_copy(update={"exchanges": False})
    before = {c.commitment_id for c in SampleProvider().inventory(SAMPLE_ACCOUNT_NOW)}
    outcome = run_once(run_engine, _execute(settings))

    assert (outcome.status, outcome.outcome, outcome.mode) == ("succeeded", "executed",
                                                               "execute")
    assert outcome.execution is not None and outcome.execution.actions
    bought = {cid for a in outcome.execution.actions for cid in a.commitment_ids}
    after = {c.commitment_id for c in SampleProvider().inventory(SAMPLE_ACCOUNT_NOW)}
    assert bought and after == before | bought
    assert_consistent(run_engine, SampleProvider().market())

    with session_scope(run_engine) as session:
        run = session.get(RunRow, outcome.run_id)
        assert run is not None and (run.status, run.outcome, run.plan_id) == (
            "succeeded", "executed", outcome.plan_id)
        assert {"reconcile", "plan", "review", "execute", "alerts"} <= set(run.timings)
        assert run.finished_at is not None and run.summary["decision"]["status"] == "approved"
        plan = session.get(PlanRow, outcome.plan_id)
        assert plan is not None and plan.status == "executed"
        inputs = plan.details["guardrail_inputs"]
        assert inputs["low_forecast_hourly"] > 0
        assert len(inputs["expected_utilisation"]) == len(outcome.execution.actions)

    # The next run sees what was bought: it never buys the same thing twice.
    again = run_once(run_engine, _execute(settings))
    assert again.status == "succeeded"
    assert_consistent(run_engine, SampleProvider().market())


def _exchange_once(run_engine: Engine, settings: Settings) -> Settings:
    """Run 1 on the sample: it exchanges the idle convertible c4 RI (and buys); the
    inventory shows the exchange. The settings that executed it."""
    _policy(run_engine)
    settings = _execute(settings.model_copy(update={"lookback_hours": 2160}))
    c4 = "sample-ri-c4-2022-01"
    owned_before = {c.commitment_id: c.quantity
                    for c in SampleProvider().inventory(SAMPLE_ACCOUNT_NOW)}
    first = run_once(run_engine, settings)
    assert (first.status, first.outcome) == ("succeeded", "executed")
    with session_scope(run_engine) as session:
        plan = repository.get_plan(session, first.plan_id or 0)
        assert plan is not None
        exchange = [a for a in plan.actions if a.kind == "exchange"]
        assert [a.commitment_id for a in exchange] == [c4]
        given, received = exchange[0].quantity, exchange[0].target_quantity
        target = exchange[0].target_offering_id
        assert plan.expected_savings > 0
    owned = {c.commitment_id: c for c in SampleProvider().inventory(SAMPLE_ACCOUNT_NOW)}
    remaining = owned[c4].quantity if c4 in owned else 0.0
    assert remaining == pytest.approx(owned_before[c4] - given)
    assert any(c.offering.offering_id == target and c.quantity == pytest.approx(received)
               for c in owned.values())
    return settings


@ON_SQLITE_ONLY
def test_runs_exchange_an_idle_convertible_once_and_the_next_does_not_undo_it(
    settings: Settings, run_engine: Engine
) -> None:
    """The sample's c4 usage has moved to c5, leaving its convertible c4 RI idle. Run 1
    exchanges it; run 2, which sees the commitments run 1 made, neither returns nor
    exchanges them again, and its plan is the LP's own (no purchases-only fallback)."""
    settings = _exchange_once(run_engine, settings)
    second = run_once(run_engine, settings)
    assert second.status == "succeeded"
    with session_scope(run_engine) as session:
        plan = repository.get_plan(session, second.plan_id or 0)
        assert plan is not None
        assert "replaced_plan" not in plan.details
        assert {a.kind for a in plan.actions} <= {"purchase"}
        assert plan.expected_savings >= 0
    orders = SampleProvider().market().orders()
    assert [o.get("kind") for o in orders].count("exchange") == 1
    assert not [o for o in orders if o.get("kind") == "return"]


@ON_SQLITE_ONLY
def test_a_plan_that_would_churn_is_replaced_by_the_purchases_only_plan(
    settings: Settings, run_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the decline learned without its significance test (as Ladder did before),
    run 2's LP would return what run 1 bought and exchange the new RI again: cheaper over
    the term by its risk view (a two-week slope of the c5 pool extrapolated over three
    years), dearer over the billed horizon. That plan is replaced by the purchases-only
    one, which saves. Run 3 has nothing left to do."""
    untested = functools.partial(risk.decline_rates, significance=None)
    monkeypatch.setattr(risk, "decline_rates", untested)
    monkeypatch.setattr(ladder_policy, "decline_rates", untested)
    settings = _exchange_once(run_engine, settings)

    second = run_once(run_engine, settings)
    third = run_once(run_engine, settings)
    assert second.status == third.status == "succeeded"
    with session_scope(run_engine) as session:
        replaced = repository.get_plan(session, second.plan_id or 0)
        assert replaced is not None
        assert replaced.details["replaced_plan"]["expected_savings"] < 0
        assert replaced.expected_savings >= 0
        assert {a.kind for a in replaced.actions} <= {"purchase"}
    orders = SampleProvider().market().orders()
    assert [o.get("kind") for o in orders].count("exchange") == 1
    assert not [o for o in orders if o.get("kind") == "return"]
    assert_consistent(run_engine, SampleProvider().market())


@ON_SQLITE_ONLY
def test_run_is_a_dry_run_unless_the_provider_is_enabled(
    settings: Settings, run_engine: Engine
) -> None:
    _policy(run_engine)
    outcome = run_once(run_engine, settings)
    assert (outcome.outcome, outcome.mode) == ("dry_run", "dry_run")
    assert SampleProvider().market().orders() == []
    with session_scope(run_engine) as session:
        plan = session.get(PlanRow, outcome.plan_id)
        assert plan is not None and plan.status == "approved"


@ON_SQLITE_ONLY
def test_utilisation_below_the_floor_is_told(
    settings: Settings, run_engine: Engine, hook: Webhook
) -> None:
    _policy(run_engine, GENEROUS.model_copy(update={"min_utilisation": 0.999999,
                                                    "webhook_urls": (hook.url,)}))
    run_once(run_engine, settings)
    assert any(t.startswith("Utilisation ") and "below the floor of 100.0%" in t
               for t in hook.texts())


def test_cli_run_then_audit_verify_and_a_tampered_entry_is_detected(
    settings: Settings, run_engine: Engine, monkeypatch: pytest.MonkeyPatch, backend: str
) -> None:
    monkeypatch.setenv("LADDER_EXECUTE_PROVIDERS", "sample")
    get_settings.cache_clear()
    policy = runner.invoke(app, ["policy", "set", "--set", "max_run_upfront=1e7",
                                 "--reason", "let it buy", "--as", "alice"])
    assert policy.exit_code == 0, policy.output
    result = runner.invoke(app, ["run", "--as", "cron"])
    assert result.exit_code == 0, result.output
    assert "executed" in result.output and "done (sample-000001)" in result.output

    verified = runner.invoke(app, ["audit", "verify"])
    assert verified.exit_code == 0 and "The audit chain verifies" in verified.output

    with run_engine.begin() as connection:
        seq = connection.execute(select(AuditEntryRow.seq).where(
            AuditEntryRow.event == "provider.purchase").limit(1)).scalar_one()
        with trigger_disabled(connection):
            connection.execute(text("UPDATE audit_log SET reason = 'nothing bought' "
                                    "WHERE seq = :seq"), {"seq": seq})
    broken = runner.invoke(app, ["audit", "verify"])
    assert broken.exit_code == 1
    assert f"entry {seq} (provider.purchase" in broken.output
    assert "altered after it was written" in broken.output


@ON_SQLITE_ONLY
def test_cli_approval_and_execution_of_a_held_plan(
    settings: Settings, run_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LADDER_APPROVERS", "alice")
    get_settings.cache_clear()
    assert runner.invoke(app, ["policy", "set", "--set", "max_run_upfront=1",
                               "--as", "alice"]).exit_code == 0
    held = runner.invoke(app, ["run"])
    assert held.exit_code == 0 and "awaiting_approval" in held.output
    assert "[limit] upfront cash of" in held.output

    refused = runner.invoke(app, ["plans", "approve", "1", "--as", "mallory"])
    assert refused.exit_code == 2 and "mallory does not have the approver role" in \
        refused.output
    approved = runner.invoke(app, ["plans", "approve", "1", "--as", "alice",
                                   "--note", "reviewed with finance"])
    assert approved.exit_code == 0 and "Plan 1 is approved" in approved.output
    assert "accepted: upfront cash" in approved.output

    dry = runner.invoke(app, ["plans", "execute", "1"])
    assert dry.exit_code == 0 and "dry run: nothing bought" in dry.output
    monkeypatch.setenv("LADDER_EXECUTE_PROVIDERS", "sample")
    get_settings.cache_clear()
    bought = runner.invoke(app, ["plans", "execute", "1"])
    assert bought.exit_code == 0 and "Plan 1 is executed" in bought.output
    assert_consistent(run_engine, SampleProvider().market())


@ON_SQLITE_ONLY
def test_cli_refused_approval_is_audited(
    settings: Settings, run_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LADDER_APPROVERS", "alice")
    get_settings.cache_clear()
    _policy(run_engine, GENEROUS.model_copy(update={"allowed_offerings": ("nothing-*",)}))
    held = runner.invoke(app, ["run"])
    assert held.exit_code == 0 and "awaiting_approval" in held.output

    refused = runner.invoke(app, ["plans", "approve", "1", "--as", "alice"])
    assert refused.exit_code != 0 and "plan 1 cannot be approved" in refused.output
    with session_scope(run_engine) as session:
        entry = session.scalars(select(AuditEntryRow).where(
            AuditEntryRow.event == "plan.approval_refused")).one()
        assert (entry.actor, entry.subject) == ("alice", "plan:1")
        assert session.get(PlanRow, 1).status == "proposed"  # type: ignore[union-attr]
    assert runner.invoke(app, ["audit", "verify"]).exit_code == 0


@ON_SQLITE_ONLY
def test_cli_policy_kill_switch_runs_and_history(settings: Settings, run_engine: Engine) -> None:
    assert runner.invoke(app, ["policy", "kill-switch", "on", "--as", "alice"]).exit_code == 0
    shown = runner.invoke(app, ["policy", "show"])
    assert '"kill_switch": true' in shown.output and "version 1" in shown.output
    assert runner.invoke(app, ["policy", "kill-switch", "off", "--as", "bob"]).exit_code == 0
    history = runner.invoke(app, ["policy", "history"])
    assert history.output.index("version 2") < history.output.index("version 1")
    bad = runner.invoke(app, ["policy", "set", "--set", "schedule=every day"])
    assert bad.exit_code == 2 and "schedule" in bad.output

    assert runner.invoke(app, ["run"]).exit_code == 0
    listed = runner.invoke(app, ["runs", "list"])
    assert listed.exit_code == 0
    assert "succeeded" in listed.output and "awaiting_approval" in listed.output
    shown_run = runner.invoke(app, ["runs", "show", "1"])
    body = json.loads(shown_run.output)
    assert body["status"] == "succeeded" and body["plan_id"] == 1 and "plan" in body["timings"]
    entries = runner.invoke(app, ["audit", "list", "--json", "--subject", "run:1"])
    events = [json.loads(line)["event"] for line in entries.output.splitlines()]
    assert events == ["run.finish", "run.start"]


def test_every_new_command_has_help() -> None:
    for command in (["run"], ["reconcile"], ["runs", "list"], ["runs", "show"],
                    ["plans", "approve"], ["plans", "reject"], ["plans", "execute"],
                    ["policy", "show"], ["policy", "set"], ["policy", "kill-switch"],
                    ["policy", "history"], ["audit", "verify"], ["audit", "list"], ["serve"]):
        result = runner.invoke(app, [*command, "--help"])
        assert result.exit_code == 0, command
        assert "Usage" in result.output


def test_a_failed_run_is_recorded_and_told(
    settings: Settings, run_engine: Engine, hook: Webhook
) -> None:
    def broken_planner(*_args: object) -> int:
        raise InvalidInput("usage.parquet: column ChargePeriodStart is missing")

    outcome = run_once(run_engine, settings.model_copy(update={"webhook_url": hook.url}),
                       planner=broken_planner)
    assert (outcome.status, outcome.outcome) == ("failed", "error")
    assert hook.texts() == [f"Run {outcome.run_id} failed: usage.parquet: column "
                            "ChargePeriodStart is missing"]
    with session_scope(run_engine) as session:
        run = session.get(RunRow, outcome.run_id)
        assert run is not None and run.status == "failed"
        assert run.error == "usage.parquet: column ChargePeriodStart is missing"
    # The lock was released: the next run is not skipped.
    assert run_once(run_engine, settings, planner=broken_planner).outcome == "error"


def test_a_run_is_running_only_while_it_holds_the_scope_lock(
    settings: Settings, run_engine: Engine
) -> None:
    seen: list[tuple[str, bool]] = []

    def watching_planner(engine: Engine, _settings: Settings, provider: str,
                         _step: object) -> int:
        with session_scope(engine) as session:
            [running] = session.scalars(select(RunRow).where(RunRow.status == "running"))
            seen.append((running.status, holder_alive(session, provider, "all")))
        raise InvalidInput("stop here")

    with run_lock(run_engine, "sample", "all"):
        skipped = run_once(run_engine, settings, planner=watching_planner)
    assert (skipped.status, skipped.outcome) == ("skipped", "locked") and seen == []
    with session_scope(run_engine) as session:
        run = session.get(RunRow, skipped.run_id)
        assert run is not None and run.status == "skipped" and run.finished_at is not None
        events = session.scalars(select(AuditEntryRow.event).where(
            AuditEntryRow.subject == f"run:{skipped.run_id}")).all()
    assert events == ["run.start", "run.finish"]

    failed = run_once(run_engine, settings, planner=watching_planner)
    assert failed.outcome == "error" and seen == [("running", True)]
    with session_scope(run_engine) as session:  # finished before the lock was given back
        assert not holder_alive(session, "sample", "all")
        assert session.get(RunRow, failed.run_id).status == "failed"  # type: ignore[union-attr]
