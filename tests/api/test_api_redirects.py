"""A trailing slash is redirected relatively: the Host header never picks where to."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

Headers = dict[str, dict[str, str]]
EVIL = {"Host": "evil.example", "X-Forwarded-Host": "evil.example"}


@pytest.mark.parametrize(("path", "location"), [
    ("/v1/plans/", "/v1/plans"),
    ("/v1/plans/?limit=5&offset=1", "/v1/plans?limit=5&offset=1"),
    ("/v1/plans/7/", "/v1/plans/7"),
    ("/v1/plans//", "/v1/plans"),
    ("/healthz/", "/healthz"),
])
def test_a_trailing_slash_is_redirected_to_a_relative_location(
    client: TestClient, path: str, location: str
) -> None:
    response = client.get(path, headers=EVIL, follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"] == location
    assert "evil" not in response.headers["location"]


def test_a_post_keeps_its_method_through_the_redirect(client: TestClient) -> None:
    response = client.post("/v1/runs/", headers=EVIL, json={"provider": "sample"},
                           follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (307, "/v1/runs")


@pytest.mark.parametrize("path", ["//evil.example/", "//evil.example//", "/nothing/"])
def test_paths_that_would_leave_the_site_or_route_nowhere_are_never_redirected(
    client: TestClient, path: str
) -> None:
    response = client.get(path, headers=EVIL, follow_redirects=False)
    assert "location" not in response.headers
    # httpx reads //evil.example/ as that host's "/": the dashboard's sign-in form since
    # issue 20; a path that routes nowhere stays a 404.
    assert response.status_code == (404 if path == "/nothing/" else 200)


def test_following_the_redirect_reaches_the_resource(client: TestClient,
                                                     headers: Headers) -> None:
    response = client.get("/v1/plans/", headers=headers["viewer"])
    assert response.status_code == 200 and response.json()["total"] == 0
