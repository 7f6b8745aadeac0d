"""A real HTTP server on the loopback that records what webhooks receive (for tests)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Webhook:
    """The server's URL, the JSON bodies it received, and the status it answers with."""

    url: str
    received: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200

    def texts(self) -> list[str]:
        """The ``text`` of every message received."""
        return [str(body.get("text", "")) for body in self.received]


@contextmanager
def webhook_server() -> Iterator[Webhook]:
    """Serve on 127.0.0.1 (a free port) until the block ends."""
    hook = Webhook(url="")
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            with lock:
                hook.received.append(body)
            self.send_response(hook.status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    hook.url = f"http://127.0.0.1:{server.server_address[1]}/services/T000/B000/secret"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()
