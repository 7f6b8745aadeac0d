"""Webhook URLs: http(s) only, never a metadata service or a link-local address, in the
policy and again when a notification is sent."""

from __future__ import annotations

import socket
from typing import Any

import httpx
import pytest

from core.errors import InvalidInput
from executor import notify, webhooks
from executor.policy import parse_policy

REFUSED = [
    "file:///etc/passwd",
    "gopher://hooks.example/x",
    "ftp://hooks.example/x",
    "hooks.example/no-scheme",
    "http:///no-host",
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "http://169.254.10.1/",
    "http://[fe80::1%25eth0]/",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://[::ffff:169.254.169.254]/",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://METADATA.google.internal./",
    "http://100.100.100.200/latest/meta-data/",
    "http://2852039166/",  # 169.254.169.254 as one number
    "http://0xa9fea9fe/",
    "http://0.0.0.0:8080/",
    "http://224.0.0.1/",
]
ALLOWED = [
    "https://hooks.slack.com/services/T000/B000/XXXX",
    "http://127.0.0.1:8080/hook",
    "http://localhost:9000/hook",
    "http://10.1.2.3/mattermost/hooks/abc",
    "https://[2001:db8::1]/hook",
]


@pytest.mark.parametrize("url", REFUSED)
def test_a_policy_refuses_webhooks_that_are_not_http_or_reach_a_metadata_service(
    url: str
) -> None:
    with pytest.raises(InvalidInput, match="webhook_urls"):
        parse_policy({"webhook_urls": ["https://hooks.slack.com/services/ok", url]})


@pytest.mark.parametrize("url", ALLOWED)
def test_a_policy_takes_ordinary_webhooks(url: str) -> None:
    assert parse_policy({"webhook_urls": [url]}).webhook_urls == (url,)


def _recording_notifier(urls: list[str]) -> tuple[notify.WebhookNotifier, list[str]]:
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(str(request.url))
        return httpx.Response(200)

    return notify.WebhookNotifier(urls, transport=httpx.MockTransport(handler)), sent


def test_the_notifier_never_sends_to_a_refused_url_even_from_the_environment() -> None:
    # LADDER_WEBHOOK_URL reaches the notifier without a policy's validation.
    notifier, sent = _recording_notifier(["http://169.254.169.254/latest/meta-data/",
                                          "file:///etc/passwd", "http://127.0.0.1:9/ok"])
    error = notifier.post_payload({"text": "hello"})
    assert sent == ["http://127.0.0.1:9/ok"]
    assert error is not None and "169.254.169.254 is a cloud metadata service" in error
    assert "scheme must be http or https" in error


def test_a_name_that_resolves_to_a_metadata_address_is_refused_when_sending(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = socket.getaddrinfo

    def fake(host: str, *args: Any, **kwargs: Any) -> Any:
        if host == "rebound.example":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", 80))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    assert webhooks.url_problem("http://rebound.example/hook") is None  # fine as written
    assert "resolves to 169.254.169.254" in (
        webhooks.resolved_problem("http://rebound.example/hook") or "")
    notifier, sent = _recording_notifier(["http://rebound.example/hook"])
    assert "not sent" in (notifier.post_payload({"text": "x"}) or "") and sent == []
