"""The call wrapper: retry configuration, throttling, error mapping, logging without secrets."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import botocore.endpoint
import pytest
from aws_replay import FAKE_KEY_ID, FAKE_SECRET, ClientsFor, replay_session
from botocore.awsrequest import AWSResponse
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from core.errors import ProviderError
from providers.aws import AwsClients, AwsSettings
from providers.aws.errors import AwsProviderError, to_provider_error


def _client_error(code: str, status: int, headers: dict[str, str] | None = None) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"},
                        "ResponseMetadata": {"HTTPStatusCode": status,
                                             "HTTPHeaders": headers or {}}}, "Op")


@pytest.mark.parametrize(("error", "retryable", "unknown", "code"), [
    (_client_error("RequestLimitExceeded", 503), True, False, "RequestLimitExceeded"),
    (_client_error("ThrottlingException", 400), True, False, "ThrottlingException"),
    (_client_error("TooManyRequests", 429), True, False, "TooManyRequests"),
    (_client_error("InternalError", 500), True, True, "InternalError"),
    (_client_error("ServiceUnavailable", 503), True, True, "ServiceUnavailable"),
    (_client_error("InvalidParameterValue", 400), False, False, "InvalidParameterValue"),
    (_client_error("UnauthorizedOperation", 403), False, False, "UnauthorizedOperation"),
    (_client_error("ServiceQuotaExceededException", 402), False, False,
     "ServiceQuotaExceededException"),
    (NoCredentialsError(), False, False, "NoCredentials"),
    (EndpointConnectionError(endpoint_url="https://ec2.us-east-1.amazonaws.com"), True, False,
     "EndpointConnectionError"),
    (ConnectTimeoutError(endpoint_url="https://ec2.us-east-1.amazonaws.com"), True, False,
     "ConnectTimeoutError"),
    (ReadTimeoutError(endpoint_url="https://ec2.us-east-1.amazonaws.com"), True, True,
     "ReadTimeoutError"),
])
def test_errors_become_provider_errors_with_the_aws_code(
    error: Exception, retryable: bool, unknown: bool, code: str
) -> None:
    """Throttling and transient failures are retryable; a lost answer is an unknown outcome."""
    mapped = to_provider_error(error, "ec2.PurchaseReservedInstancesOffering")
    assert isinstance(mapped, ProviderError)
    assert (mapped.retryable, mapped.outcome_unknown, mapped.code) == (retryable, unknown, code)
    assert mapped.operation == "ec2.PurchaseReservedInstancesOffering"


def test_retry_after_header_is_kept() -> None:
    """A Retry-After header becomes retry_after_s; throttling without one suggests a wait."""
    with_header = to_provider_error(_client_error("SlowDown", 503, {"retry-after": "7"}), "s3.X")
    assert with_header.retry_after_s == 7.0
    assert to_provider_error(_client_error("Throttling", 400), "x").retry_after_s == 20.0
    assert to_provider_error(_client_error("ValidationError", 400), "x").retry_after_s is None


def test_clients_use_botocore_retry_modes_and_never_retry_non_idempotent_calls() -> None:
    """Idempotent clients get the configured mode and attempts; purchases exactly one attempt."""
    clients = AwsClients(AwsSettings(retry_mode="adaptive", max_attempts=7),
                         session=replay_session())
    safe = clients.client("ec2", "eu-west-1")
    once = clients.client("ec2", "eu-west-1", idempotent=False)
    assert safe is not once
    assert safe.meta.config.retries == {"mode": "adaptive", "total_max_attempts": 7}
    assert once.meta.config.retries == {"mode": "adaptive", "total_max_attempts": 1}
    assert safe.meta.region_name == "eu-west-1"
    assert clients.client("ec2", "eu-west-1") is safe
    # Global services (Savings Plans, Cost Explorer) are called through the home region.
    assert clients.client("savingsplans") is clients.client("savingsplans", "us-east-1")


def test_throttling_is_retried_with_backoff_then_reported_retryable(
    aws_clients: ClientsFor, sleeps: list[float]
) -> None:
    """Four throttled answers: three backoffs of growing length, then a retryable error."""
    clients = aws_clients(throttle_attempts=4)
    with pytest.raises(AwsProviderError) as raised:
        clients.call("ec2", "describe_reserved_instances")
    assert raised.value.retryable and raised.value.code == "RequestLimitExceeded"
    assert not raised.value.outcome_unknown
    assert sleeps == [0.5 * 2, 0.5 * 4, 0.5 * 8]


def test_every_call_is_logged_without_secrets(
    aws_clients: ClientsFor, caplog: pytest.LogCaptureFixture
) -> None:
    """Each call is logged with its operation and outcome; no credential appears anywhere."""
    clients = aws_clients()
    caplog.set_level(logging.DEBUG)
    states = ["active", "payment-pending", "queued"]
    clients.call("ec2", "describe_reserved_instances",
                 Filters=[{"Name": "state", "Values": states}])
    with pytest.raises(AwsProviderError):
        clients.call("savingsplans", "describe_savings_plans", states=states)
    ours = [r.getMessage() for r in caplog.records if r.name == "ladder.providers.aws"]
    assert any(m.startswith("aws ok ec2.DescribeReservedInstances region=us-east-1 params=")
               and "'Values': ['active', 'payment-pending', 'queued']" in m
               and "request_id=" in m for m in ours)
    assert any("aws failed savingsplans.DescribeSavingsPlans" in m
               and "code=ValidationException" in m for m in ours)
    everything = caplog.text + "\n".join(ours)
    assert FAKE_SECRET not in everything and FAKE_KEY_ID not in everything


def test_secret_looking_parameters_are_masked_in_the_log() -> None:
    """Parameter names that look secret are masked and long values cut (defence in depth)."""
    from providers.aws.session import _masked

    masked = _masked({"SecretAccessKey": "x", "Nested": [{"password": "p"}], "Long": "a" * 500,
                      "Filters": [{"Name": "state"}]})
    assert masked["SecretAccessKey"] == "***" and masked["Nested"][0]["password"] == "***"
    assert len(masked["Long"]) < 210 and masked["Filters"] == [{"Name": "state"}]


class _Injector:
    """Answers an operation on the wire (botocore's ``before-send``) with recorded HTTP answers.

    Out of answers it fails the test: a request sent more often than recorded is a
    resend that must not happen (and nothing ever reaches the network).
    """

    def __init__(self, answers: list[tuple[int, bytes]]) -> None:
        self.answers = answers
        self.sent = 0

    def __call__(self, request: Any, **_: Any) -> AWSResponse:
        self.sent += 1
        if not self.answers:
            raise AssertionError(f"sent again: {request.url}")
        status, body = self.answers.pop(0)
        return AWSResponse(request.url, status, {"content-type": "text/xml"}, _Raw(body))


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.body


def _ec2_error(code: str, message: str) -> bytes:
    return (f"<?xml version='1.0' encoding='UTF-8'?><Response><Errors><Error><Code>{code}</Code>"
            f"<Message>{message}</Message></Error></Errors>"
            "<RequestID>5d6c1e9e-9f3a-4a39-9b1a-0e7e6c1c2f11</RequestID></Response>").encode()


def test_botocore_retries_throttling_on_the_wire_for_idempotent_calls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Standard mode: a throttled describe is resent by botocore itself, after its backoff."""
    backoffs: list[float] = []
    monkeypatch.setattr(botocore.endpoint.time, "sleep", backoffs.append)
    ladder_sleeps: list[float] = []
    clients = AwsClients(AwsSettings(), session=replay_session(), sleep=ladder_sleeps.append)
    listing = (b"<DescribeReservedInstancesResponse "
               b"xmlns='http://ec2.amazonaws.com/doc/2016-11-15/'>"
               b"<requestId>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</requestId>"
               b"<reservedInstancesSet/></DescribeReservedInstancesResponse>")
    injector = _Injector([(503, _ec2_error("RequestLimitExceeded", "Request limit exceeded.")),
                          (200, listing)])
    client = clients.client("ec2", "us-east-1")
    client.meta.events.register("before-send.ec2.DescribeReservedInstances", injector)
    response = clients.call("ec2", "describe_reserved_instances")
    assert injector.sent == 2 and len(backoffs) == 1 and ladder_sleeps == []
    assert response["ResponseMetadata"]["RetryAttempts"] == 1
    assert response["ReservedInstances"] == []


def test_botocore_never_resends_a_purchase_after_a_server_error() -> None:
    """A 500 to a purchase is sent once and reported as an unknown outcome, never resent."""
    clients = AwsClients(AwsSettings(), session=replay_session(), sleep=lambda _: None)
    injector = _Injector([(500, _ec2_error("InternalError", "An internal error has occurred."))])
    client = clients.client("ec2", "us-east-1", idempotent=False)
    client.meta.events.register("before-send.ec2.PurchaseReservedInstancesOffering", injector)
    with pytest.raises(AwsProviderError) as raised:
        clients.call("ec2", "purchase_reserved_instances_offering", idempotent=False,
                     ReservedInstancesOfferingId="438012d3-4052-4cc7-b2e3-8d3372e0e706",
                     InstanceCount=1)
    assert injector.sent == 1
    assert raised.value.outcome_unknown and raised.value.retryable
    assert raised.value.code == "InternalError"


def test_ladder_retries_a_throttled_purchase_on_the_wire() -> None:
    """The purchase client has no botocore retries: Ladder resends a throttled purchase."""
    sleeps: list[float] = []
    clients = AwsClients(AwsSettings(), session=replay_session(), sleep=sleeps.append,
                         jitter=lambda: 0.25)
    success = (b"<PurchaseReservedInstancesOfferingResponse "
               b"xmlns='http://ec2.amazonaws.com/doc/2016-11-15/'>"
               b"<requestId>59dbff89-35bd-4eac-99ed-be587EXAMPLE</requestId>"
               b"<reservedInstancesId>e5a2ff3b-7d14-494f-90af-0b5d0EXAMPLE</reservedInstancesId>"
               b"</PurchaseReservedInstancesOfferingResponse>")
    injector = _Injector([(503, _ec2_error("RequestLimitExceeded", "Request limit exceeded.")),
                          (200, success)])
    client = clients.client("ec2", "us-east-1", idempotent=False)
    client.meta.events.register("before-send.ec2.PurchaseReservedInstancesOffering", injector)
    response = clients.call("ec2", "purchase_reserved_instances_offering", idempotent=False,
                            ReservedInstancesOfferingId="438012d3-4052-4cc7-b2e3-8d3372e0e706",
                            InstanceCount=1)
    assert response["ReservedInstancesId"] == "e5a2ff3b-7d14-494f-90af-0b5d0EXAMPLE"
    assert injector.sent == 2 and sleeps == [0.5]


def test_importing_ladder_does_not_import_boto3() -> None:
    """The registry loads the AWS provider lazily: core, optimizer and the CLI stay SDK-free."""
    code = ("import sys, providers.base, core.catalog, optimizer.lp, ladder.commands.providers; "
            "assert 'boto3' not in sys.modules and 'botocore' not in sys.modules, "
            "sorted(m for m in sys.modules if m.startswith('boto'))")
    subprocess.run([sys.executable, "-c", code], check=True)
