"""``/v1/policies``: read (everyone), history, update (admin)."""

from __future__ import annotations

from api_factories import assert_problem, make_policy
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from api.roles import Role

Headers = dict[Role, dict[str, str]]
POLICY = {"max_run_hourly": 2.5, "max_month_upfront": 10000.0,
          "allowed_terms_hours": [8760], "blackouts": [{"cron": "0 0 25 12 *", "hours": 168,
                                                        "reason": "year end"}]}


# --- GET /v1/policies ----------------------------------------------------------------------------


def test_list_policies_in_force(client: TestClient, session: Session, headers: Headers) -> None:
    make_policy(session, scope="all", max_run_hourly=1.0)
    make_policy(session, scope="all", max_run_hourly=2.0)
    make_policy(session, scope="prod")

    body = client.get("/v1/policies", headers=headers[Role.VIEWER]).json()

    assert body["total"] == 2
    assert [(p["scope"], p["version"]) for p in body["items"]] == [("all", 2), ("prod", 1)]


# --- GET /v1/policies/{provider}/{scope} ----------------------------------------------------------


def test_show_policy_and_missing_policy(client: TestClient, session: Session,
                                        headers: Headers) -> None:
    make_policy(session, kill_switch=True)

    body = client.get("/v1/policies/sample/all", headers=headers[Role.FINANCE]).json()

    assert body["policy"]["kill_switch"] is True and body["created_by"] == "test"
    assert_problem(client.get("/v1/policies/sample/none", headers=headers[Role.VIEWER]), 404)
    assert_problem(client.get("/v1/policies/sample/a%20b", headers=headers[Role.VIEWER]), 422)


# --- GET /v1/policies/{provider}/{scope}/history --------------------------------------------------


def test_history_lists_versions_newest_first(client: TestClient, session: Session,
                                             headers: Headers) -> None:
    make_policy(session, max_run_hourly=1.0)
    make_policy(session, max_run_hourly=2.0)

    body = client.get("/v1/policies/sample/all/history", headers=headers[Role.VIEWER]).json()

    assert [p["version"] for p in body["items"]] == [2, 1]
    assert_problem(client.get("/v1/policies/aws/all/history", headers=headers[Role.VIEWER]),
                   404)
    assert_problem(client.get("/v1/policies/sample/all/history?limit=0",
                              headers=headers[Role.VIEWER]), 422)


# --- PUT /v1/policies/{provider}/{scope} ----------------------------------------------------------


def test_admin_stores_a_new_version_and_it_is_audited(client: TestClient,
                                                      headers: Headers) -> None:
    admin = headers[Role.ADMIN]

    first = client.put("/v1/policies/sample/all", headers=admin,
                       json={"policy": POLICY, "reason": "caps for Q1"})
    second = client.put("/v1/policies/sample/all", headers=admin,
                        json={"policy": {**POLICY, "kill_switch": True}, "reason": "freeze"})

    assert first.status_code == 200 and second.status_code == 200, second.text
    assert (first.json()["version"], second.json()["version"]) == (1, 2)
    assert second.json()["created_by"] == "admin-holder"
    entries = client.get("/v1/audit?event=policy.update", headers=admin).json()["items"]
    assert entries[0]["data"]["changed"] == ["kill_switch"]


def test_update_rejects_an_invalid_policy(client: TestClient, headers: Headers) -> None:
    admin = headers[Role.ADMIN]
    for body, field in (
        ({"policy": {"max_run_hourly": -1}, "reason": "x"}, "policy.max_run_hourly"),
        ({"policy": {"max_run_houly": 1}, "reason": "x"}, "policy.max_run_houly"),
        ({"policy": {"schedule": "every day"}, "reason": "x"}, "policy.schedule"),
        ({"policy": {"blackouts": [{"start": "2026-12-24T00:00:00"}]}, "reason": "x"},
         "policy.blackouts.0"),
        ({"policy": {}, "reason": ""}, "reason"),
    ):
        problem = assert_problem(client.put("/v1/policies/sample/all", headers=admin,
                                            json=body), 422)
        assert problem["errors"][0]["field"].startswith(field), problem


def test_names_longer_than_their_columns_are_422_not_a_database_error(
    client: TestClient, headers: Headers
) -> None:
    body = {"policy": {}, "reason": "x"}
    assert_problem(client.put(f"/v1/policies/{'p' * 65}/all", headers=headers[Role.ADMIN],
                              json=body), 422)
    assert_problem(client.put(f"/v1/policies/sample/{'s' * 129}", headers=headers[Role.ADMIN],
                              json=body), 422)
    assert client.put(f"/v1/policies/{'p' * 64}/{'s' * 128}", headers=headers[Role.ADMIN],
                      json=body).status_code == 200


def test_terms_are_bounded_whole_hours_and_json_schema_integers_are_read(
    client: TestClient, headers: Headers
) -> None:
    admin = headers[Role.ADMIN]
    stored = client.put("/v1/policies/sample/all", headers=admin, json={
        "policy": {"allowed_terms_hours": [8760.0, 26280]}, "reason": "x"})
    assert stored.status_code == 200, stored.text
    assert stored.json()["policy"]["allowed_terms_hours"] == [8760, 26280]
    for bad in ([0], [87601], [8760.5], ["8760"]):
        assert_problem(client.put("/v1/policies/sample/all", headers=admin, json={
            "policy": {"allowed_terms_hours": bad}, "reason": "x"}), 422)


def test_caps_must_be_finite_and_bounded_through_the_api(client: TestClient,
                                                         headers: Headers) -> None:
    admin = headers[Role.ADMIN]
    for value in (1e13, 1e308):
        problem = assert_problem(client.put("/v1/policies/sample/all", headers=admin, json={
            "policy": {"max_run_upfront": value}, "reason": "x"}), 422)
        assert problem["errors"][0]["field"] == "policy.max_run_upfront"
    too_often = assert_problem(client.put("/v1/policies/sample/all", headers=admin, json={
        "policy": {"schedule": "*/5 * * * *"}, "reason": "x"}), 422)
    assert "every 5 minutes" in too_often["detail"]
    seconds = assert_problem(client.put("/v1/policies/sample/all", headers=admin, json={
        "policy": {"schedule": "* * * * * *"}, "reason": "x"}), 422)
    assert seconds["errors"][0]["field"] == "policy.schedule"
