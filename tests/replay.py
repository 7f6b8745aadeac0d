"""Replaying recorded HTTP exchanges below the cloud SDKs, one folder per test.

A test's folder (``tests/data/<cloud>/<test name>/``) holds ``exchanges.json``:
the ordered list of what the SDK is expected to send and what the cloud
answered, in the cloud's real wire format::

    [{"request": {"method": "POST", "path": "/compute/v1/projects/p/regions/r/commitments",
                  "query": {"requestId": "…"}, "body": {"name": "…"}},
      "response": {"status": 200, "headers": {"Retry-After": "0"}, "body": {…}}},
     {"request": {…}, "raise": "ConnectionError"}]

``request.query`` and ``request.body`` are matched as subsets (only the fields
listed must be equal); ``raise`` simulates a request whose answer was lost.
Every request sent is kept in ``sent`` for assertions, and ``assert_done``
checks that the SDK made every recorded call and no other.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests
import requests.adapters
import urllib3

DATA = Path(__file__).resolve().parent / "data"


@dataclass
class Sent:
    """One request the SDK sent: method, path, query and JSON body."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    headers: dict[str, str]


@dataclass
class Recording:
    """The exchanges of one test, consumed in order."""

    name: str
    exchanges: list[dict[str, Any]]
    sent: list[Sent] = field(default_factory=list)

    @classmethod
    def load(cls, cloud: str, test: str) -> Recording:
        """Read ``tests/data/<cloud>/<test>/exchanges.json``."""
        path = DATA / cloud / test / "exchanges.json"
        return cls(f"{cloud}/{test}", json.loads(path.read_text(encoding="utf-8")))

    def next(self, method: str, url: str, body: bytes | str | None,
             headers: dict[str, str]) -> dict[str, Any]:
        """Match the next exchange against a request and return it."""
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        text = body.decode() if isinstance(body, bytes) else body
        parsed = json.loads(text) if text else None
        self.sent.append(Sent(method, parts.path, query, parsed, dict(headers)))
        if not self.exchanges:
            raise AssertionError(
                f"{self.name}: unexpected {method} {parts.path} (no recording left)")
        exchange = self.exchanges.pop(0)
        expected = exchange["request"]
        where = f"{self.name}: request {len(self.sent)}"
        assert method == expected["method"], f"{where}: {method} != {expected['method']}"
        assert parts.path == expected["path"], f"{where}: {parts.path} != {expected['path']}"
        for name, value in expected.get("query", {}).items():
            assert query.get(name) == value, f"{where}: query {name}={query.get(name)!r}"
        _assert_subset(expected.get("body"), parsed, f"{where}: body")
        return exchange

    def assert_done(self) -> None:
        """Every recorded exchange was used."""
        assert not self.exchanges, f"{self.name}: {len(self.exchanges)} recorded calls not made"

    def calls(self, method: str, path_suffix: str = "") -> list[Sent]:
        """The requests sent with this method whose path ends with ``path_suffix``."""
        return [s for s in self.sent if s.method == method and s.path.endswith(path_suffix)]


def _assert_subset(expected: Any, actual: Any, where: str) -> None:
    if expected is None:
        return
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: expected an object, got {actual!r}"
        for key, value in expected.items():
            assert key in actual, f"{where}: missing {key!r}"
            _assert_subset(value, actual[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), f"{where}: {actual!r}"
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            _assert_subset(e, a, f"{where}[{i}]")
    else:
        assert expected == actual, f"{where}: {actual!r} != {expected!r}"


class ReplayAdapter(requests.adapters.BaseAdapter):
    """A ``requests`` transport adapter answering from a :class:`Recording`."""

    def __init__(self, recording: Recording) -> None:
        super().__init__()
        self.recording = recording

    def send(self, request: requests.PreparedRequest, stream: bool = False,
             timeout: Any = None, verify: Any = True, cert: Any = None,
             proxies: Any = None) -> requests.Response:
        """Answer the request with the next recorded response, or raise its recorded error."""
        body = request.body if isinstance(request.body, bytes | str) else None
        headers = {str(k): str(v) for k, v in request.headers.items()}
        exchange = self.recording.next(str(request.method), str(request.url), body, headers)
        if "raise" in exchange:
            raise getattr(requests.exceptions, exchange["raise"])("recorded: the answer was lost")
        recorded = exchange["response"]
        body = json.dumps(recorded.get("body", {})).encode()
        raw = urllib3.HTTPResponse(
            body=io.BytesIO(body), status=int(recorded["status"]),
            reason=str(recorded.get("reason", "")), preload_content=False,
            headers={"Content-Type": "application/json; charset=UTF-8",
                     "Content-Length": str(len(body)), **recorded.get("headers", {})},
        )
        # requests' own HTTPAdapter turns the raw response into a Response, as on the wire.
        response = requests.adapters.HTTPAdapter().build_response(request, raw)
        return response

    def close(self) -> None:
        """Nothing to close."""


def azure_transport(recording: Recording) -> Any:
    """azure-core's own requests transport, on a session answering from ``recording``.

    Its ``sleep`` (which the retry and polling policies call to wait, honouring
    ``Retry-After``) records the waits in ``slept`` instead of sleeping.
    """
    from azure.core.pipeline.transport import RequestsTransport

    class ReplayTransport(RequestsTransport):
        def __init__(self) -> None:
            session = requests.Session()
            session.mount("https://", ReplayAdapter(recording))
            super().__init__(session=session, session_owner=False)
            self.slept: list[float] = []

        def sleep(self, duration: float) -> None:
            self.slept.append(float(duration))

    return ReplayTransport()


class StaticToken:
    """A TokenCredential handing out a fixed fake token (tests only)."""

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        """A token valid for an hour."""
        import time

        from azure.core.credentials import AccessToken

        return AccessToken("fake-token-for-tests", int(time.time()) + 3600)

    def get_token_info(self, *scopes: str, **kwargs: Any) -> Any:
        """The same token, in the newer interface."""
        import time

        from azure.core.credentials import AccessTokenInfo

        return AccessTokenInfo("fake-token-for-tests", int(time.time()) + 3600)
