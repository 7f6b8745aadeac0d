"""Who may call what: every route against every role, and the README's matrix.

The permission of each route is read from the app's OpenAPI document (each
operation names it as a security scope), so a new route is covered here without
being listed, and one without a permission fails
``test_every_v1_route_requires_a_permission``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from api_factories import assert_problem
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from api.deps import operation_permissions
from api.roles import GRANTS, Permission, Role
from core.settings import get_settings

README = Path(__file__).resolve().parents[2] / "api" / "README.md"
PATH_VALUES = {"plan_id": "999999", "run_id": "999999", "commitment_pk": "999999",
               "seq": "999999", "key_id": "999999", "budget_id": "999999",
               "provider": "sample", "scope": "all"}
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/v1/runs"): {"provider": "sample", "scope": "all"},
    ("POST", "/v1/plans/{plan_id}/reject"): {"reason": "too much upfront"},
    ("POST", "/v1/plans/{plan_id}/approve"): {"note": "fine"},
    ("PUT", "/v1/policies/{provider}/{scope}"): {"policy": {"max_run_hourly": 1.0},
                                                  "reason": "caps"},
    ("POST", "/v1/keys"): {"name": "carol", "role": "viewer"},
    ("POST", "/v1/budgets"): {"name": "compute", "amount": 100.0},
    ("PATCH", "/v1/budgets/{budget_id}"): {"amount": 200.0},
}


def _permissions(app: FastAPI) -> dict[tuple[str, str], Permission | None]:
    """Each operation's one permission (None when it names none)."""
    found = operation_permissions(app.openapi())
    assert all(len(permissions) <= 1 for permissions in found.values()), found
    return {route: next(iter(permissions), None) for route, permissions in found.items()}


# Read once: building the OpenAPI document takes a second.
PERMISSIONS = _permissions(create_app(get_settings(), migrate_on_start=False))
ROUTES = sorted(route for route in PERMISSIONS if route[1].startswith("/v1/"))


def _call(client: TestClient, method: str, path: str, headers: dict[str, str]) -> Any:
    url = re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES[m.group(1)], path)
    return client.request(method, url, headers=headers, json=BODIES.get((method, path)))


def test_every_v1_route_requires_a_permission() -> None:
    assert ROUTES, "no routes found"
    unguarded = [route for route in ROUTES if PERMISSIONS[route] is None]
    assert unguarded == []


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_anonymous_request_is_401_with_a_problem_document(
    client: TestClient, method: str, path: str
) -> None:
    response = _call(client, method, path, {})

    body = assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "API key" in body["detail"]


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_unknown_key_is_401(client: TestClient, method: str, path: str) -> None:
    fake = "ladder_0123456789ab_" + "x" * 43
    assert_problem(_call(client, method, path, {"Authorization": f"Bearer {fake}"}), 401)


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_each_role_is_refused_or_let_through_as_the_matrix_says(
    client: TestClient, headers: dict[Role, dict[str, str]], method: str, path: str
) -> None:
    permission = PERMISSIONS[(method, path)]
    assert permission is not None
    for role in Role:
        response = _call(client, method, path, headers[role])
        if permission in GRANTS[role]:
            assert response.status_code not in (401, 403), (role, response.text)
        else:
            body = assert_problem(response, 403)
            assert str(role) in body["detail"], body


def _readme_matrix() -> dict[tuple[str, str], set[Role]]:
    rows: dict[tuple[str, str], set[Role]] = {}
    roles = list(Role)
    for line in README.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^\| (GET|POST|PUT|PATCH|DELETE) \| `([^`]+)` \|(.*)\|\s*$", line)
        if match is None:
            continue
        cells = [cell.strip() for cell in match.group(3).split("|")]
        assert len(cells) >= len(roles), line
        rows[(match.group(1), match.group(2))] = {
            role for role, cell in zip(roles, cells[: len(roles)], strict=True) if cell == "✓"
        }
    return rows


def test_readme_states_the_role_matrix_of_every_route() -> None:
    expected = {route: {role for role in Role if PERMISSIONS[route] in GRANTS[role]}
                for route in ROUTES}

    assert _readme_matrix() == expected


def test_admin_may_do_everything_and_viewer_only_read() -> None:
    assert GRANTS[Role.ADMIN] == frozenset(Permission)
    assert GRANTS[Role.VIEWER] == frozenset({Permission.READ})
