"""Errors are problem documents (RFC 9457), bodies are bounded, the OpenAPI is served."""

from __future__ import annotations

from collections.abc import Iterator

from api_factories import PROBLEM, assert_problem, build_app, store_plan
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from api.roles import Role

Headers = dict[Role, dict[str, str]]


def test_unknown_route_and_method_are_problem_documents(client: TestClient,
                                                        headers: Headers) -> None:
    assert_problem(client.get("/v1/nothing", headers=headers[Role.ADMIN]), 404)
    assert_problem(client.patch("/v1/plans", headers=headers[Role.ADMIN]), 405)


def test_validation_problem_names_each_field(client: TestClient, headers: Headers) -> None:
    body = assert_problem(client.get("/v1/plans?limit=0&offset=-1",
                                     headers=headers[Role.VIEWER]), 422)

    assert body["type"] == "urn:ladder:problem:invalid-request"
    assert body["instance"] == "/v1/plans"
    assert {(e["location"], e["field"]) for e in body["errors"]} == {("query", "limit"),
                                                                    ("query", "offset")}


def test_malformed_json_is_a_422_problem(client: TestClient, session: Session,
                                         headers: Headers) -> None:
    plan_id = store_plan(session)
    response = client.post(f"/v1/plans/{plan_id}/reject", headers={
        **headers[Role.APPROVER], "Content-Type": "application/json"}, content=b"{not json")
    assert_problem(response, 422)


def test_a_body_over_the_limit_is_413_before_it_is_read(engine: Engine, session: Session,
                                                        headers: Headers) -> None:
    with TestClient(build_app(engine, session, launcher=None, max_body_bytes=1000)) as client:
        response = client.post("/v1/keys", headers=headers[Role.ADMIN],
                               json={"name": "x" * 2000, "role": "viewer"})
    body = assert_problem(response, 413)
    assert "1000 bytes" in body["detail"]


def test_a_streamed_body_over_the_limit_is_413(engine: Engine, session: Session,
                                               headers: Headers) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"name": "'
        for _ in range(20):
            yield b"x" * 100
        yield b'", "role": "viewer"}'

    with TestClient(build_app(engine, session, launcher=None, max_body_bytes=1000)) as client:
        response = client.post("/v1/keys", content=chunks(), headers={
            **headers[Role.ADMIN], "Content-Type": "application/json"})
    assert_problem(response, 413)


def test_a_failed_request_rolls_back_its_writes(client: TestClient, session: Session,
                                                headers: Headers) -> None:
    from api_factories import make_policy

    make_policy(session, allowed_offerings=("sp-*",))
    plan_id = store_plan(session)

    assert_problem(client.post(f"/v1/plans/{plan_id}/approve", headers=headers[Role.ADMIN]),
                   403)

    plan = client.get(f"/v1/plans/{plan_id}", headers=headers[Role.ADMIN]).json()
    assert plan["status"] == "proposed" and plan["policy_reasons"] == []


def test_openapi_and_docs_are_served_without_a_key(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()

    assert schema["paths"]["/v1/plans"]["get"]["security"] == [{"bearer": ["read"]},
                                                               {"apiKey": ["read"]}]
    assert PROBLEM in schema["paths"]["/v1/plans"]["get"]["responses"]["422"]["content"]
    assert "Problem" in schema["components"]["schemas"]
    assert client.get("/docs").status_code == 200
    assert client.get("/healthz").json() == {"status": "ok", "database": "ok"}


def test_a_query_parameter_given_twice_is_422(client: TestClient, headers: Headers) -> None:
    body = assert_problem(client.get("/v1/plans?provider=aws&provider=sample",
                                     headers=headers[Role.VIEWER]), 422)
    assert body["errors"][0]["field"] == "provider"
