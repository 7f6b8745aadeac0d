"""A path with a trailing slash is redirected to the path without it, by a relative URL.

Starlette's own ``redirect_slashes`` builds the ``Location`` as an absolute URL from
the request's ``Host`` header, so that anyone who can set that header (or a proxy
passing it on) makes the API redirect its clients to another site. The app turns
it off (``FastAPI(redirect_slashes=False)``) and this middleware does the one
redirect that is useful, ``/v1/plans/`` → ``/v1/plans``, with a relative
``Location`` (the path and the query, as sent): the client stays on the host it
asked. A path that would become protocol-relative (``//host``) is never redirected.
"""

from __future__ import annotations

from starlette.routing import Match, Router
from starlette.types import ASGIApp, Receive, Scope, Send

REDIRECT_STATUS = 307
"""Temporary, and the method and body are kept (as Starlette's redirect)."""


class TrailingSlashRedirect:
    """ASGI middleware redirecting ``/path/`` to ``/path`` when only the latter is a route."""

    def __init__(self, app: ASGIApp, router: Router) -> None:
        """Wrap ``app``, whose routes are ``router``'s."""
        self.app = app
        self.router = router

    def _matches(self, scope: Scope, path: str) -> bool:
        probe = {**scope, "path": path}
        return any(route.matches(probe)[0] is not Match.NONE for route in self.router.routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Redirect when the path ends in ``/`` and only its form without the slash routes."""
        path: str = scope.get("path", "") if scope["type"] == "http" else ""
        if len(path) > 1 and path.endswith("/"):
            stripped = path.rstrip("/")
            if (stripped.startswith("/") and not stripped.startswith("//")
                    and not self._matches(scope, path) and self._matches(scope, stripped)):
                raw = scope.get("raw_path") or path.encode("utf-8")
                location = raw.rstrip(b"/")
                if scope.get("query_string"):
                    location += b"?" + scope["query_string"]
                await send({"type": "http.response.start", "status": REDIRECT_STATUS,
                            "headers": [(b"location", location), (b"content-length", b"0")]})
                await send({"type": "http.response.body", "body": b""})
                return
        await self.app(scope, receive, send)
