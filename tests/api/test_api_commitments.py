"""``/v1/commitments``: the inventory with costs, what expires soon, one commitment."""

from __future__ import annotations

import pytest
from api_factories import assert_problem, make_inventory
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.roles import Role
from core.db.models import CommitmentRow

Headers = dict[Role, dict[str, str]]


# --- GET /v1/commitments -------------------------------------------------------------------


def test_inventory_lists_commitments_with_their_costs(client: TestClient, session: Session,
                                                      headers: Headers) -> None:
    make_inventory(session, ends_in_days=(20, 400))

    response = client.get("/v1/commitments", headers=headers[Role.VIEWER])

    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 2
    first = body["items"][0]
    assert first["commitment_id"] == "ri-0" and first["source"] == "inventory"
    assert first["upfront_cost"] == pytest.approx(2.0 * 123.4)
    assert first["amortized_hourly_cost"] == pytest.approx(
        first["upfront_cost"] / first["term_hours"] + first["hourly_cost"])


def test_inventory_filters(client: TestClient, session: Session, headers: Headers) -> None:
    make_inventory(session, ends_in_days=(20, 400))
    viewer = headers[Role.VIEWER]

    assert client.get("/v1/commitments?provider=aws", headers=viewer).json()["total"] == 0
    assert client.get("/v1/commitments?shape=unit", headers=viewer).json()["total"] == 2
    assert client.get("/v1/commitments?shape=spend", headers=viewer).json()["total"] == 0
    # the one ending in 400 days started in the future (a one-year term)
    assert client.get("/v1/commitments?active=true", headers=viewer).json()["total"] == 1


def test_inventory_rejects_bad_parameters(client: TestClient, headers: Headers) -> None:
    for query in ("shape=round", "source=gift", "active=perhaps", "limit=-3",
                  "offering_id=%00"):
        assert_problem(client.get(f"/v1/commitments?{query}", headers=headers[Role.VIEWER]),
                       422)


# --- GET /v1/commitments/expiring -------------------------------------------------------------


def test_expiring_lists_running_commitments_ending_within_the_horizon(
    client: TestClient, session: Session, headers: Headers
) -> None:
    make_inventory(session, ends_in_days=(20, 80, 200))

    body = client.get("/v1/commitments/expiring?within_days=90",
                      headers=headers[Role.FINANCE]).json()

    assert [item["commitment_id"] for item in body["items"]] == ["ri-0", "ri-1"]
    assert body["items"][0]["days_left"] == pytest.approx(20, abs=0.01)
    short = client.get("/v1/commitments/expiring?within_days=30",
                       headers=headers[Role.FINANCE]).json()
    assert short["total"] == 1


def test_expiring_rejects_a_bad_horizon(client: TestClient, headers: Headers) -> None:
    for query in ("within_days=0", "within_days=5000", "within_days=ten"):
        body = assert_problem(client.get(f"/v1/commitments/expiring?{query}",
                                         headers=headers[Role.VIEWER]), 422)
        assert body["errors"][0]["field"] == "within_days"


# --- GET /v1/commitments/{commitment_pk} ----------------------------------------------------


def test_show_commitment_and_missing_commitment(client: TestClient, session: Session,
                                                headers: Headers) -> None:
    make_inventory(session, ends_in_days=(20,))
    pk = session.scalars(select(CommitmentRow.id)).one()

    response = client.get(f"/v1/commitments/{pk}", headers=headers[Role.APPROVER])

    assert response.status_code == 200 and response.json()["commitment_id"] == "ri-0"
    assert_problem(client.get("/v1/commitments/424242", headers=headers[Role.VIEWER]), 404)
    assert_problem(client.get("/v1/commitments/0", headers=headers[Role.VIEWER]), 422)
