"""``ladder serve`` with the REST API: keys from the CLI work on it, runs start from it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from typing import Any

import httpx
import pytest
from pipeline_backend import ON_SQLITE_ONLY
from typer.testing import CliRunner

import ladder.launcher
from core.db.session import create_engine_for, session_scope
from core.settings import Settings
from executor import repository as executor_repository
from ladder.cli import app
from ladder.launcher import BackgroundRuns
from ladder.run import RunOutcome

runner = CliRunner()


def _create_key(role: str, name: str) -> str:
    result = runner.invoke(app, ["keys", "create", "--role", role, "--name", name])
    assert result.exit_code == 0, result.output
    assert "shown this once" in result.output
    return result.output.strip().splitlines()[-1]


def _serve(settings: Settings) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "LADDER_DATABASE_URL": settings.database_url,
           "LADDER_DATA_DIR": str(settings.data_dir), "PYTHONUNBUFFERED": "1",
           "COLUMNS": "200"}
    process = subprocess.Popen([sys.executable, "-m", "ladder.cli", "serve", "--port", "0"],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    assert process.stdout is not None
    for line in process.stdout:
        found = re.search(r"(http://127\.0\.0\.1:\d+)/v1", line)
        if found:
            return process, found.group(1)
    process.kill()
    raise AssertionError("serve never said where the API listens")


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            assert process.wait(timeout=60) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


def test_keys_create_prints_a_key_once_and_stores_only_its_hash(
    ladder_settings: Settings,
) -> None:
    key = _create_key("finance", "fiona")

    listed = runner.invoke(app, ["keys", "list"])
    assert key.startswith("ladder_") and key not in listed.output
    assert "fiona" in listed.output and "finance" in listed.output
    refused = runner.invoke(app, ["keys", "create", "--role", "boss"])
    assert refused.exit_code != 0


def test_keys_revoke_and_a_missing_key(ladder_settings: Settings) -> None:
    _create_key("viewer", "vic")

    assert runner.invoke(app, ["keys", "revoke", "1"]).exit_code == 0
    again = runner.invoke(app, ["keys", "revoke", "1"])
    missing = runner.invoke(app, ["keys", "revoke", "99"])
    assert again.exit_code == 2 and "already revoked" in again.output
    assert missing.exit_code == 2 and "no API key" in missing.output


def test_ladder_serve_answers_the_api_with_keys_from_the_cli(ladder_settings: Settings) -> None:
    key = _create_key("approver", "ops")
    process, base = _serve(ladder_settings)
    try:
        auth = {"Authorization": f"Bearer {key}"}
        assert httpx.get(f"{base}/healthz", timeout=10).json()["scheduler"] == []
        assert httpx.get(f"{base}/v1/plans", headers=auth, timeout=10).json()["total"] == 0
        assert httpx.get(f"{base}/v1/plans", timeout=10).status_code == 401
        assert httpx.get(f"{base}/docs", timeout=10).status_code == 200
        refused = httpx.post(f"{base}/v1/runs", headers=auth, json={"provider": "oracle"},
                             timeout=10)
        assert refused.status_code == 422  # a launcher is there: not 503
    finally:
        _stop(process)


def test_background_runs_start_run_once_with_the_api_trigger(
    ladder_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[dict[str, Any]] = []

    def fake_run_once(engine: Any, settings: Settings, **kwargs: Any) -> RunOutcome:
        calls.append(kwargs)
        return RunOutcome(7, "succeeded", "dry_run", "dry_run")

    monkeypatch.setattr(ladder.launcher, "run_once", fake_run_once)
    engine = create_engine_for(ladder_settings.database_url)
    runs = BackgroundRuns(engine, ladder_settings)
    try:
        outcome = runs.submit(provider="sample", scope="prod", actor="ops").result(timeout=30)
    finally:
        runs.shutdown(wait=True)
        engine.dispose()

    assert outcome is not None and outcome.run_id == 7
    assert calls == [{"provider_name": "sample", "scope": "prod", "trigger": "api",
                      "actor": "ops"}]


@ON_SQLITE_ONLY
@pytest.mark.slow
def test_a_run_triggered_through_the_api_runs_and_stores_a_plan(
    ladder_settings: Settings,
) -> None:
    key = _create_key("approver", "ops")
    process, base = _serve(ladder_settings)
    try:
        auth = {"Authorization": f"Bearer {key}"}
        accepted = httpx.post(f"{base}/v1/runs", headers=auth, json={"provider": "sample"},
                              timeout=10)
        assert accepted.status_code == 202
        deadline = time.monotonic() + 300
        run: dict[str, Any] = {}
        while time.monotonic() < deadline:
            items = httpx.get(f"{base}/v1/runs", headers=auth, timeout=10).json()["items"]
            if items and items[0]["status"] != "running":
                run = items[0]
                break
            time.sleep(1)
        assert run["trigger"] == "api" and run["actor"] == "ops", run
        assert run["status"] == "succeeded" and run["plan_id"] is not None, run
    finally:
        _stop(process)
    engine = create_engine_for(ladder_settings.database_url)
    try:
        with session_scope(engine) as session:
            assert executor_repository.get_run(session, run["id"]) is not None
    finally:
        engine.dispose()
