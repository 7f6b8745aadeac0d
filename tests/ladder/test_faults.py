"""Fault injection with real ``ladder run`` processes, on SQLite and on PostgreSQL.

Each test runs ``python -m ladder.cli run`` against the sample provider's
simulated account, with a fault injected into the account: the process is
killed (SIGKILL, no cleanup) right after the intent was committed and before
the provider saw the purchase, or right after the provider saw it and before
the outcome was written; the provider times out with an unknown outcome; it
throttles; two runs start together. Then ordinary runs recover. In every case
the provider sees each purchase at most once and the database ends consistent
with it (``assert_consistent``).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from executor_factories import GENEROUS, assert_consistent
from fastapi.testclient import TestClient
from pipeline_backend import ON_SQLITE_ONLY
from sqlalchemy import Engine, select

from api.app import create_app
from core.db.models import ActionRow, PlanRow, RunRow
from core.db.session import create_engine_for, session_scope
from core.settings import Settings
from executor.policy import save_policy
from providers.sample import SampleProvider
from providers.sample.market import ACCOUNT_FILE, FaultKind, SampleMarket

RUN_TIMEOUT_S = 300


@dataclass
class Deployment:
    """A database, a data directory with the simulated account, and the environment of runs."""

    engine: Engine
    market: SampleMarket
    env: dict[str, str]

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``ladder run`` in a new process, to its end (or its death)."""
        return subprocess.run([sys.executable, "-m", "ladder.cli", "run", *args], env=self.env,
                              capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False)

    def start(self) -> subprocess.Popen[str]:
        """``ladder run`` in a new process, not waited for."""
        return subprocess.Popen([sys.executable, "-m", "ladder.cli", "run"], env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def actions(self) -> list[ActionRow]:
        with session_scope(self.engine) as session:
            return list(session.scalars(select(ActionRow).order_by(ActionRow.plan_id,
                                                                   ActionRow.position)))

    def plan_statuses(self) -> dict[int, str]:
        with session_scope(self.engine) as session:
            return {plan_id: status for plan_id, status in
                    session.execute(select(PlanRow.id, PlanRow.status))}

    def runs(self) -> list[tuple[str, str | None]]:
        with session_scope(self.engine) as session:
            return [(status, outcome) for status, outcome in
                    session.execute(select(RunRow.status, RunRow.outcome).order_by(RunRow.id))]


@pytest.fixture
def deployment(db_url: str, tmp_path: Path) -> Iterator[Deployment]:
    data_dir = tmp_path / "ladder-data"
    data_dir.mkdir()
    env = {name: value for name, value in os.environ.items() if not name.startswith("LADDER_")}
    env |= {
        "LADDER_DATABASE_URL": db_url,
        "LADDER_DATA_DIR": str(data_dir),
        "LADDER_LOOKBACK_HOURS": "336",
        # Purchases only, from the quick lookback planner: the faults are injected on
        # purchases, and planning is tested elsewhere (exchanges and returns have
        # their own crash-state tests in tests/executor/test_exchange_return.py).
        "LADDER_PLANNER": "lookback",
        "LADDER_EXCHANGES": "false",
        "LADDER_EXECUTE_PROVIDERS": "sample",
        "LADDER_PROVIDER_RETRY_ATTEMPTS": "3",
        "LADDER_PROVIDER_RETRY_BASE_S": "0.01",
    }
    engine = create_engine_for(db_url)
    with session_scope(engine) as session:
        save_policy(session, "sample", "all", GENEROUS, actor="alice", reason="fault tests")
    market = SampleProvider(account_path=data_dir / ACCOUNT_FILE).market()
    try:
        yield Deployment(engine, market, env)
    finally:
        engine.dispose()


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@ON_SQLITE_ONLY
def test_crash_after_the_intent_and_before_the_provider_call(deployment: Deployment) -> None:
    deployment.market.inject(FaultKind.CRASH_BEFORE, on="purchase")
    crashed = deployment.run()
    assert crashed.returncode == -signal.SIGKILL, crashed.stdout + crashed.stderr

    # The intent was committed before the call; the provider never saw the purchase.
    first = deployment.actions()[0]
    assert (first.status, first.attempts) == ("intent", 1) and first.idempotency_key
    assert deployment.market.orders() == []
    assert deployment.plan_statuses() == {1: "executing"}

    out = _ok(deployment.run())
    assert "executed" in out
    first = deployment.actions()[0]
    assert (first.status, first.attempts) == ("done", 2)
    keys = [o["idempotency_key"] for o in deployment.market.orders()]
    assert keys.count(first.idempotency_key) == 1
    assert deployment.plan_statuses()[1] == "executed"
    assert deployment.runs()[0] == ("failed", "interrupted")
    assert_consistent(deployment.engine, deployment.market)


@ON_SQLITE_ONLY
def test_crash_after_the_provider_call_and_before_the_outcome(deployment: Deployment) -> None:
    deployment.market.inject(FaultKind.CRASH_AFTER, on="purchase")
    crashed = deployment.run()
    assert crashed.returncode == -signal.SIGKILL, crashed.stdout + crashed.stderr

    # The provider bought; the database only knows the intent.
    first = deployment.actions()[0]
    assert first.status == "intent"
    assert [o["idempotency_key"] for o in deployment.market.orders()] == [first.idempotency_key]

    _ok(deployment.run())
    first = deployment.actions()[0]
    assert (first.status, first.attempts) == ("done", 1)  # found, not bought again
    assert first.commitment_ids == deployment.market.orders()[0]["commitment_ids"]
    assert deployment.plan_statuses()[1] == "executed"
    assert_consistent(deployment.engine, deployment.market)


@ON_SQLITE_ONLY
def test_provider_timeout_with_unknown_outcome(deployment: Deployment) -> None:
    # The purchase goes through but its answer is lost, and the provider cannot be asked.
    deployment.market.inject(FaultKind.TIMEOUT_AFTER, on="purchase")
    deployment.market.inject(FaultKind.TIMEOUT_BEFORE, on="find_order", times=3)
    incomplete = deployment.run()
    assert incomplete.returncode == 1, incomplete.stdout + incomplete.stderr
    assert "incomplete" in incomplete.stdout
    statuses = [a.status for a in deployment.actions()]
    assert statuses[0] == "unknown" and set(statuses[1:]) <= {"pending"}
    assert len(deployment.market.orders()) == 1  # nothing more was bought blind

    _ok(deployment.run())
    assert deployment.actions()[0].status == "done"
    assert deployment.plan_statuses()[1] == "executed"
    assert_consistent(deployment.engine, deployment.market)


@ON_SQLITE_ONLY
def test_throttling(deployment: Deployment) -> None:
    deployment.market.inject(FaultKind.THROTTLE, on="purchase", times=2, retry_after_s=0.05)
    deployment.market.inject(FaultKind.THROTTLE, on="find_order", times=1, retry_after_s=0.05)
    out = _ok(deployment.run())
    assert "executed" in out
    throttled = [c for c in deployment.market.calls() if c["outcome"] == "throttled"]
    assert len(throttled) == 3
    assert deployment.actions()[0].attempts == 3
    assert_consistent(deployment.engine, deployment.market)


def test_two_runs_started_together(deployment: Deployment) -> None:
    processes = [deployment.start(), deployment.start()]
    outputs = [process.communicate(timeout=RUN_TIMEOUT_S) for process in processes]
    for process, (out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, out + err

    runs = deployment.runs()
    assert len(runs) == 2
    assert ("succeeded", "executed") in runs
    # Either the second found the lock taken, or it ran after the first and planned
    # with what the first had bought; never both at once.
    assert runs.count(("skipped", "locked")) == 1 or runs.count(("succeeded", "executed")) == 2
    assert "executed" in deployment.plan_statuses().values()
    assert_consistent(deployment.engine, deployment.market)


def _api_key(deployment: Deployment) -> str:
    created = subprocess.run([sys.executable, "-m", "ladder.cli", "keys", "create", "--role",
                              "approver", "--name", "ops"], env=deployment.env,
                             capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False)
    assert created.returncode == 0, created.stdout + created.stderr
    return created.stdout.strip().splitlines()[-1]


def test_a_killed_run_does_not_block_the_api_trigger(deployment: Deployment) -> None:
    deployment.market.inject(FaultKind.CRASH_BEFORE, on="purchase")
    assert deployment.run().returncode == -signal.SIGKILL
    assert deployment.runs() == [("running", None)]
    assert deployment.plan_statuses() == {1: "executing"}

    calls: list[dict[str, str]] = []

    def launcher(**run: str) -> None:
        calls.append(run)

    settings = Settings(database_url=deployment.env["LADDER_DATABASE_URL"],
                        data_dir=Path(deployment.env["LADDER_DATA_DIR"]))
    key = _api_key(deployment)
    with TestClient(create_app(settings, run_launcher=launcher)) as client:
        accepted = client.post("/v1/runs", headers={"Authorization": f"Bearer {key}"},
                               json={"provider": "sample"})
    assert accepted.status_code == 202, accepted.text
    assert calls == [{"provider": "sample", "scope": "all", "actor": "ops"}]
    assert deployment.runs() == [("failed", "interrupted")]
    assert deployment.plan_statuses() == {1: "executing"}  # for the next run to settle

    assert "executed" in _ok(deployment.run())
    assert deployment.plan_statuses()[1] == "executed"
    assert_consistent(deployment.engine, deployment.market)


def _serve(deployment: Deployment) -> tuple[subprocess.Popen[str], str, list[str]]:
    """``ladder serve`` on the deployment; the process, its base URL and its start-up lines."""
    process = subprocess.Popen([sys.executable, "-m", "ladder.cli", "serve", "--port", "0"],
                               env={**deployment.env, "PYTHONUNBUFFERED": "1",
                                    "COLUMNS": "200"},
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        found = re.search(r"(http://127\.0\.0\.1:\d+)/v1", line)
        if found:
            return process, found.group(1), lines
    process.kill()
    raise AssertionError("serve never said where the API listens:\n" + "".join(lines))


@pytest.mark.slow
def test_ladder_serve_killed_during_a_run_recovers_when_restarted(
    deployment: Deployment,
) -> None:
    key = _api_key(deployment)
    auth = {"Authorization": f"Bearer {key}"}
    deployment.market.inject(FaultKind.CRASH_BEFORE, on="purchase")
    process, base, _ = _serve(deployment)
    try:
        assert httpx.post(f"{base}/v1/runs", headers=auth, json={"provider": "sample"},
                          timeout=30).status_code == 202
        assert process.wait(timeout=RUN_TIMEOUT_S) == -signal.SIGKILL  # the whole server
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
    assert deployment.runs() == [("running", None)]

    process, base, started = _serve(deployment)
    try:
        assert any("run(s) 1 had died; marked failed" in line for line in started), started
        assert deployment.runs() == [("failed", "interrupted")]
        assert httpx.post(f"{base}/v1/runs", headers=auth, json={"provider": "sample"},
                          timeout=30).status_code == 202
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while deployment.runs()[-1][0] == "running" or len(deployment.runs()) < 2:
            assert time.monotonic() < deadline, deployment.runs()
            time.sleep(0.5)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    assert deployment.runs()[-1] == ("succeeded", "executed")
    assert deployment.plan_statuses()[1] == "executed"
    assert_consistent(deployment.engine, deployment.market)
