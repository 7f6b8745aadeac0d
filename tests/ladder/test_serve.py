"""``ladder serve``: the cron scheduler of runs, start-up reconciliation, the health endpoint."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from executor_factories import GENEROUS, leave_killed_run, make_market, set_policy, store_plan
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.app import create_app
from core.db.models import ActionRow, RunRow
from core.db.session import create_engine_for, session_scope
from core.settings import Settings
from executor import repository as executor_repository
from executor.approval import review
from executor.execute import idempotency_key
from executor.lifecycle import PlanStatus, transition
from executor.locks import run_lock
from ladder.run import RunOutcome
from ladder.scheduler import Scheduler, health, reap_all, reconcile_all
from providers.base import PurchaseRequest
from providers.sample.market import ACCOUNT_FILE

T = datetime(2026, 3, 2, 5, 58, tzinfo=UTC)


def _scheduler(engine: Engine) -> tuple[Scheduler, list[tuple[str, str]]]:
    calls: list[tuple[str, str]] = []

    def run(provider: str, scope: str) -> RunOutcome:
        calls.append((provider, scope))
        return RunOutcome(len(calls), "succeeded", "dry_run", "dry_run")

    return Scheduler(engine, run), calls


def _health_client(engine: Engine, scheduler: Scheduler | None) -> TestClient:
    """The API as ``ladder serve`` builds it, answering ``/healthz`` with the scheduler's check."""
    app = create_app(engine=engine, migrate_on_start=False,
                     health=lambda: health(engine, scheduler))
    return TestClient(app)


def test_scopes_run_when_their_cron_comes_due(engine: Engine, db_url: str) -> None:
    with session_scope(engine) as session:
        set_policy(session, GENEROUS.model_copy(update={"schedule": "0 6 * * *"}))
    scheduler, calls = _scheduler(engine)

    assert scheduler.tick(T) == [] and calls == []
    [job] = scheduler.jobs.values()
    assert job.next_at == datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
    outcomes = scheduler.tick(T + timedelta(minutes=2))
    assert calls == [("sample", "all")] and outcomes[0].outcome == "dry_run"
    assert job.next_at > T + timedelta(minutes=2) and job.last_status == "succeeded"
    assert scheduler.tick(T + timedelta(minutes=3)) == []  # not again until tomorrow


def test_schedules_follow_the_policies(engine: Engine, db_url: str) -> None:
    scheduler, _ = _scheduler(engine)
    assert scheduler.refresh(T) == []  # no policy, nothing scheduled
    with session_scope(engine) as session:
        set_policy(session, GENEROUS.model_copy(update={"schedule": "0 6 * * 1"}))
    assert [j.cron for j in scheduler.refresh(T)] == ["0 6 * * 1"]
    with session_scope(engine) as session:
        set_policy(session, GENEROUS)  # the schedule removed
    assert scheduler.refresh(T) == []


def test_health_answers_with_the_database_and_the_schedule(engine: Engine, db_url: str) -> None:
    with session_scope(engine) as session:
        set_policy(session, GENEROUS.model_copy(update={"schedule": "15 * * * *"}))
    scheduler, _ = _scheduler(engine)
    scheduler.refresh(T)
    with _health_client(engine, scheduler) as client:
        response = client.get("/healthz")
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "ok" and body["database"] == "ok"
        assert body["scheduler"][0]["cron"] == "15 * * * *"
        assert client.get("/nothing").status_code == 404


def test_start_up_reconciles_every_scope_with_unfinished_intents(
    ladder_settings: Settings,
) -> None:
    engine = create_engine_for(ladder_settings.database_url)
    market = make_market(ladder_settings.data_dir / ACCOUNT_FILE)
    try:
        with session_scope(engine) as session:
            set_policy(session)
            plan_id = store_plan(session)
            assert review(session, plan_id).approved
            plan = session.get_one(ActionRow, 1).plan
            transition(session, plan, PlanStatus.EXECUTING, actor="test", reason="crash test")
            action = plan.actions[0]
            key = idempotency_key(plan, action)
            action.status, action.idempotency_key = "intent", key
            request = PurchaseRequest(key, action.offering_id, action.quantity)
        market.purchase(request)  # the provider bought; the process died before the outcome

        lines = reconcile_all(engine, ladder_settings)
        assert lines == ["sample/all: 1 checked, settled {'done': 1}, 0 unresolved"]
        with session_scope(engine) as session:
            assert session.get_one(ActionRow, 1).status == "done"
    finally:
        engine.dispose()


def test_ladder_serve_starts_answers_and_stops_on_sigterm(ladder_settings: Settings) -> None:
    env = {**os.environ, "LADDER_DATABASE_URL": ladder_settings.database_url,
           "LADDER_DATA_DIR": str(ladder_settings.data_dir), "PYTHONUNBUFFERED": "1",
           "COLUMNS": "200"}
    process = subprocess.Popen([sys.executable, "-m", "ladder.cli", "serve", "--port", "0"],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    try:
        assert process.stdout is not None
        url = dashboard = None
        for line in process.stdout:
            found = re.search(r"http://127\.0\.0\.1:\d+/healthz", line)
            if found:
                url = found.group(0)
                shown = re.search(r"dashboard on (http://127\.0\.0\.1:\d+/) ", line)
                dashboard = shown.group(1) if shown else None
                break
        assert url is not None, "serve never said where it listens"
        assert httpx.get(url, timeout=10).json()["database"] == "ok"
        # The printed dashboard address answers with the sign-in form.
        assert dashboard is not None, "serve never said where the dashboard is"
        assert 'name="key"' in httpx.get(dashboard, timeout=10).text
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.parametrize("path", ["/healthz", "/v1/healthz"])
def test_health_without_a_scheduler(engine: Engine, path: str) -> None:
    with _health_client(engine, None) as client:
        assert client.get(path).json() == {"status": "ok", "database": "ok"}


def test_start_up_marks_runs_of_killed_processes_failed_and_leaves_live_ones(
    engine: Engine, db_url: str
) -> None:
    with session_scope(engine) as session:
        killed = leave_killed_run(session)
        alive = executor_repository.add_run(session, provider="sample", scope="busy",
                                            trigger="cli", actor="scheduler", mode="dry_run",
                                            host="elsewhere", pid=1)
        alive_id = alive.id
    with run_lock(engine, "sample", "busy"):
        lines = reap_all(engine)
    assert lines == [f"sample/all: run(s) {killed.id} had died; marked failed",
                     "sample/busy: a run is running in another live process"]
    with session_scope(engine) as session:
        assert session.get(RunRow, killed.id).outcome == "interrupted"  # type: ignore[union-attr]
        assert session.get(RunRow, alive_id).status == "running"  # type: ignore[union-attr]
