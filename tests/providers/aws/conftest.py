"""Fixtures of the AWS provider tests: fake credentials, no metadata service, replays.

Nothing here can reach AWS: the credentials are fake, the instance metadata
service is disabled (so boto3's chain never probes the link-local address), the
shared config files point nowhere, and every client is either stubbed from a
recording or served by moto.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Generator, Iterator

import pytest
from aws_replay import FAKE_KEY_ID, FAKE_SECRET, ClientsFor, Replay, replay_session

from providers.aws import AwsClients, AwsSettings


@pytest.fixture(autouse=True)
def _offline_aws(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Fake credentials and no metadata service, for every AWS test."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN",
                 "AWS_SECURITY_TOKEN", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                 "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_ROLE_ARN",
                 "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    nowhere = tmp_path_factory.getbasetemp() / "no-aws-config"
    monkeypatch.setenv("AWS_CONFIG_FILE", str(nowhere / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(nowhere / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", FAKE_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", FAKE_SECRET)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


def _refuse_connect(sock: socket.socket, address: object) -> None:
    raise AssertionError(f"an AWS test tried to open a connection to {address}")


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every AWS test is offline: opening any socket connection fails the test."""
    monkeypatch.setattr(socket.socket, "connect", _refuse_connect)


@pytest.fixture
def sleeps() -> list[float]:
    """The backoff delays the clients asked for (they never really sleep in tests)."""
    return []


@pytest.fixture
def replay(request: pytest.FixtureRequest) -> Iterator[Callable[[str | None], Replay]]:
    """Load a recorded folder (default: the test's own name); checks all were played."""
    loaded: list[Replay] = []

    def load(name: str | None = None) -> Replay:
        folder = name or request.node.originalname
        replay = Replay(folder, replay_session())
        loaded.append(replay)
        return replay

    yield load
    if not hasattr(request.node, "rep_call") or request.node.rep_call.passed:
        for replay in loaded:
            replay.assert_all_played()


@pytest.fixture
def aws_clients(replay: Callable[[str | None], Replay], sleeps: list[float]) -> ClientsFor:
    """``AwsClients`` over the test's recording: ``aws_clients()`` or ``aws_clients(name)``."""

    def make(name: str | None = None, **settings: object) -> AwsClients:
        recorded = replay(name)
        return AwsClients(AwsSettings(**settings),  # type: ignore[arg-type]
                          session=recorded.session, client_factory=recorded.factory,
                          sleep=sleeps.append, jitter=lambda: 0.5)

    return make


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Remember each phase's report on the item, so fixtures can see whether the test passed."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report

