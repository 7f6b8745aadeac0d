"""Replay recorded AWS responses through botocore's ``Stubber``, as Custodian's placebo does.

One folder per test under ``tests/data/aws/<name>/`` holds one JSON file per call,
``NN-<service>.<Operation>.json``, played in ``NN`` order per client::

    {"region": "us-east-1",                      # optional, default us-east-1
     "expected_params": {...},                   # optional: the request, checked exactly
     "status_code": 200,
     "data": {...}}                              # the response, in the service model's shape

An error is ``"status_code": 4xx/5xx`` with ``"data": {"Error": {"Code": ..., "Message": ...}}``.
``"<ANY>"`` in ``expected_params`` matches any value. Timestamps are written as ISO
8601 strings and handed to the code as timezone-aware datetimes, as botocore's
parser does for the wire format.

Validation is on everywhere: the clients validate every request against the
service model (``parameter_validation`` stays True), and the ``Stubber`` checks
every recorded response against the operation's output shape.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.model import Shape
from botocore.stub import ANY, Stubber

DATA = Path(__file__).resolve().parents[2] / "data" / "aws"
FAKE_KEY_ID = "AKIAIOSFODNN7LADDERX"
FAKE_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYLADDERSECRET"


_SHARED: list[boto3.session.Session] = []


def replay_session() -> boto3.session.Session:
    """One boto3 session shared by the tests.

    botocore caches the service models it loads per session; sharing it spares
    each test reloading EC2's large model. Each client made from it is new (and
    stubbed on its own). Credentials come from the tests' fake environment
    (conftest.py), read when the first client is made.
    """
    if not _SHARED:
        _SHARED.append(boto3.session.Session(region_name="us-east-1"))
    return _SHARED[0]


def _expected(value: Any) -> Any:
    if value == "<ANY>":
        return ANY
    if isinstance(value, dict):
        return {k: _expected(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_expected(v) for v in value]
    return value


def _materialise(shape: Shape | None, value: Any) -> Any:
    """Turn ISO strings of timestamp members into datetimes, following the output shape."""
    if shape is None:
        return value
    if shape.type_name == "timestamp" and isinstance(value, str):
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    if shape.type_name == "structure" and isinstance(value, dict):
        members = shape.members
        return {k: _materialise(members.get(k), v) for k, v in value.items()}
    if shape.type_name == "list" and isinstance(value, list):
        return [_materialise(shape.member, v) for v in value]
    if shape.type_name == "map" and isinstance(value, dict):
        return {k: _materialise(shape.value, v) for k, v in value.items()}
    return value


class Replay:
    """The recorded calls of one folder, served by one ``Stubber`` per (service, region).

    Pass :meth:`factory` as ``AwsClients(client_factory=...)``: the idempotent and the
    non-idempotent client of a service share one stubbed client, so that one
    ordered recording serves both.
    """

    def __init__(self, name: str, session: boto3.session.Session) -> None:
        self.folder = DATA / name
        if not self.folder.is_dir():
            raise FileNotFoundError(f"no recorded responses in {self.folder}")
        self.session = session
        self.calls: dict[tuple[str, str], list[tuple[str, dict[str, Any]]]] = defaultdict(list)
        for path in sorted(self.folder.glob("*.json")):
            number, _, rest = path.stem.partition("-")
            service, _, operation = rest.partition(".")
            if not number.isdigit() or not operation:
                raise ValueError(f"{path.name}: expected NN-<service>.<Operation>.json")
            record = json.loads(path.read_text(encoding="utf-8"))
            self.calls[(service, record.get("region", "us-east-1"))].append((operation, record))
        self.stubbers: dict[tuple[str, str], Stubber] = {}
        self.clients: dict[tuple[str, str], Any] = {}

    def factory(self, service: str, region: str, config: Config) -> Any:
        """A stubbed client of ``service`` in ``region`` loaded with its recorded calls."""
        key = (service, region)
        if key not in self.clients:
            client = self.session.client(service, region_name=region, config=config)
            stubber = Stubber(client)
            api_to_method = {v: k for k, v in client.meta.method_to_api_mapping.items()}
            model = client.meta.service_model
            for operation, record in self.calls.get(key, []):
                method = api_to_method[operation]
                status = int(record.get("status_code", 200))
                expected = _expected(record["expected_params"]) if "expected_params" in record \
                    else None
                data = record.get("data", {})
                if status >= 300:
                    error = data.get("Error", {})
                    stubber.add_client_error(
                        method, service_error_code=error.get("Code", ""),
                        service_message=error.get("Message", ""), http_status_code=status,
                        expected_params=expected,
                        response_meta=data.get("ResponseMetadata"),
                    )
                else:
                    output = model.operation_model(operation).output_shape
                    stubber.add_response(method, _materialise(output, data), expected)
            stubber.activate()
            self.clients[key] = client
            self.stubbers[key] = stubber
        return self.clients[key]

    def assert_all_played(self) -> None:
        """Every recorded call was made (clients never created count as not played)."""
        missing = [f"{service}@{region}" for (service, region) in self.calls
                   if (service, region) not in self.stubbers]
        assert not missing, f"recorded calls never made: {missing}"
        for stubber in self.stubbers.values():
            stubber.assert_no_pending_responses()


ClientsFor = Callable[..., Any]
"""``aws_clients(name=None, **settings)``: ``AwsClients`` over a recorded folder."""
