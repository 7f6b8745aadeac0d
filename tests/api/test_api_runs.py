"""``/v1/runs``: trigger (approver), list and show (everyone)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from api_factories import RecordingLauncher, assert_problem, build_app, make_run, store_plan
from executor_factories import leave_killed_run, lock_held_elsewhere
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from api.roles import Role
from core.db.models import RunLockRow, RunRow, utc_now

Headers = dict[Role, dict[str, str]]


# --- GET /v1/runs ---------------------------------------------------------------------------


def test_list_runs_newest_first_with_filters(client: TestClient, session: Session,
                                             headers: Headers) -> None:
    now = utc_now()
    old = make_run(session, started_at=now - timedelta(days=10), status="failed")
    new = make_run(session, started_at=now - timedelta(hours=1), trigger="schedule")
    viewer = headers[Role.VIEWER]

    body = client.get("/v1/runs", headers=viewer).json()
    assert [item["id"] for item in body["items"]] == [new.id, old.id]
    assert body["items"][0]["timings"] == {"plan": 12.5}
    assert [i["id"] for i in client.get("/v1/runs?status=failed",
                                        headers=viewer).json()["items"]] == [old.id]
    assert [i["id"] for i in client.get("/v1/runs?trigger=schedule",
                                        headers=viewer).json()["items"]] == [new.id]
    start = (now - timedelta(days=2)).date()
    assert client.get(f"/v1/runs?start={start}", headers=viewer).json()["total"] == 1


def test_list_runs_rejects_bad_parameters(client: TestClient, headers: Headers) -> None:
    for query in ("status=done", "trigger=cron", "limit=1000", "start=yesterday"):
        assert_problem(client.get(f"/v1/runs?{query}", headers=headers[Role.VIEWER]), 422)


# --- GET /v1/runs/{run_id} --------------------------------------------------------------------


def test_show_run_and_missing_run(client: TestClient, session: Session,
                                  headers: Headers) -> None:
    run = make_run(session)

    response = client.get(f"/v1/runs/{run.id}", headers=headers[Role.FINANCE])

    assert response.status_code == 200 and response.json()["outcome"] == "dry_run"
    assert_problem(client.get("/v1/runs/424242", headers=headers[Role.VIEWER]), 404)
    assert_problem(client.get("/v1/runs/-1", headers=headers[Role.VIEWER]), 422)


# --- POST /v1/runs ----------------------------------------------------------------------------


def test_trigger_starts_a_run_as_the_caller(client: TestClient, launcher: RecordingLauncher,
                                            headers: Headers) -> None:
    response = client.post("/v1/runs", headers=headers[Role.APPROVER],
                           json={"provider": "sample", "scope": "prod"})

    assert response.status_code == 202, response.text
    assert launcher.calls == [{"provider": "sample", "scope": "prod",
                               "actor": "approver-holder"}]
    assert response.headers["location"] == "/v1/runs?provider=sample&scope=prod"


def test_trigger_while_a_run_is_running_is_409(client: TestClient, session: Session,
                                               engine: Engine, launcher: RecordingLauncher,
                                               headers: Headers) -> None:
    running = make_run(session, status="running")

    with lock_held_elsewhere(session, engine):
        body = assert_problem(client.post("/v1/runs", headers=headers[Role.APPROVER],
                                          json={"provider": "sample"}), 409)

    assert f"run {running.id}" in body["detail"]
    assert launcher.calls == []
    assert session.get(RunRow, running.id).status == "running"  # type: ignore[union-attr]


def test_trigger_after_a_killed_run_marks_it_failed_and_starts(
    client: TestClient, session: Session, launcher: RecordingLauncher, headers: Headers
) -> None:
    killed = leave_killed_run(session)
    plan_id = store_plan(session, status="executing")

    response = client.post("/v1/runs", headers=headers[Role.APPROVER],
                           json={"provider": "sample"})

    assert response.status_code == 202, response.text
    assert launcher.calls == [{"provider": "sample", "scope": "all",
                               "actor": "approver-holder"}]
    run = client.get(f"/v1/runs/{killed.id}", headers=headers[Role.VIEWER]).json()
    assert (run["status"], run["outcome"]) == ("failed", "interrupted")
    assert f"pid {killed.pid}" in run["error"] and f"plan {plan_id} executing" in run["error"]
    events = {(e["event"], e["subject"]) for e in client.get(
        "/v1/audit", headers=headers[Role.ADMIN]).json()["items"]}
    assert ("run.interrupted", f"run:{killed.id}") in events
    assert ("plan.interrupted", f"plan:{plan_id}") in events
    # The plan stays executing: the run just started reconciles and settles it.
    assert client.get(f"/v1/plans/{plan_id}",
                      headers=headers[Role.VIEWER]).json()["status"] == "executing"


def test_a_killed_run_on_another_machine_blocks_until_its_lease_runs_out(
    client: TestClient, session: Session, backend: str, launcher: RecordingLauncher,
    headers: Headers,
) -> None:
    if backend == "postgresql":
        pytest.skip("PostgreSQL drops a dead connection's advisory lock: no lease to wait for")
    leased = leave_killed_run(session, host="elsewhere", pid=4242)
    assert_problem(client.post("/v1/runs", headers=headers[Role.APPROVER],
                               json={"provider": "sample"}), 409)
    session.execute(update(RunLockRow).values(expires_at=utc_now() - timedelta(seconds=1)))
    assert client.post("/v1/runs", headers=headers[Role.APPROVER],
                       json={"provider": "sample"}).status_code == 202
    assert session.get(RunRow, leased.id).outcome == "interrupted"  # type: ignore[union-attr]


def test_trigger_rejects_unknown_providers_and_fields(client: TestClient,
                                                      launcher: RecordingLauncher,
                                                      headers: Headers) -> None:
    approver = headers[Role.APPROVER]
    assert_problem(client.post("/v1/runs", headers=approver, json={"provider": "oracle"}), 422)
    assert_problem(client.post("/v1/runs", headers=approver, json={}), 422)
    assert_problem(client.post("/v1/runs", headers=approver,
                               json={"provider": "sample", "execute": True}), 422)
    assert launcher.calls == []


def test_trigger_without_a_launcher_is_503(engine: Engine, session: Session,
                                           headers: Headers) -> None:
    with TestClient(build_app(engine, session, launcher=None)) as client:
        assert_problem(client.post("/v1/runs", headers=headers[Role.ADMIN],
                                   json={"provider": "sample"}), 503)
