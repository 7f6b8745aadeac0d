"""Request size limits: bodies over the limit are refused with a 413 problem document.

A declared ``Content-Length`` over the limit is refused before anything is read;
a body without one (chunked) is counted as it arrives and refused as soon as it
passes the limit, so that no request can make the server buffer more than that.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import problem

DEFAULT_MAX_BODY_BYTES = 1024 * 1024


def _too_large(limit: int) -> str:
    return f"the request body is larger than the limit of {limit} bytes"


class BodySizeLimit:
    """ASGI middleware refusing request bodies larger than ``max_bytes``."""

    def __init__(self, app: ASGIApp, max_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        """Wrap ``app``."""
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse an over-long declared length at once, else count the body as it is read."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                length = -1
            if length < 0:
                response = problem(400, detail="Content-Length is not a number of bytes",
                                   instance=scope.get("path"))
                await response(scope, receive, send)
                return
            if length > self.max_bytes:
                response = problem(413, detail=_too_large(self.max_bytes),
                                   instance=scope.get("path"))
                await response(scope, receive, send)
                return

        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # An HTTPException: FastAPI re-raises it from body parsing, and the
                    # problem handler renders it.
                    raise HTTPException(413, detail=_too_large(self.max_bytes))
            return message

        await self.app(scope, counted, send)
