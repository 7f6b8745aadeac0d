"""``ladder providers check``: every registered provider is reported, configured or not."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from ladder.commands import providers as providers_command
from providers.base import CheckResult, provider_names

runner = CliRunner()


def _refuse_connect(sock: socket.socket, address: object) -> None:
    raise AssertionError(f"a test tried to connect to {address}")


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> typer.Typer:
    """A CLI with only the providers group, and no cloud credentials anywhere."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                 "AWS_PROFILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                 "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # never probe the metadata service
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    # Only the providers this suite owns: the Azure and GCP credential chains probe their
    # clouds' metadata services when no credential is configured.
    monkeypatch.setattr(providers_command, "provider_names", lambda: ["aws", "sample"])
    monkeypatch.setattr(socket.socket, "connect", _refuse_connect)
    cli = typer.Typer()

    @cli.callback()
    def main() -> None:
        """Ladder (test)."""

    providers_command.register(cli)
    return cli


def test_check_reports_every_registered_provider(app: typer.Typer) -> None:
    """The sample is configured; AWS without credentials is reported as not configured."""
    result = runner.invoke(app, ["providers", "check", "--json"])
    assert result.exit_code == 0, result.output
    reports = {r["provider"]: r for r in json.loads(result.output)}
    assert set(reports) == {"aws", "sample"} <= set(provider_names())
    assert reports["sample"]["configured"] and reports["sample"]["ok"]
    aws = reports["aws"]
    assert not aws["configured"] and not aws["ok"]
    assert aws["checks"][0]["name"] == "credentials"
    assert "standard chain" in aws["checks"][0]["detail"]


def test_check_of_one_provider_prints_a_table(app: typer.Typer) -> None:
    """A named provider only, as a table."""
    result = runner.invoke(app, ["providers", "check", "sample"])
    assert result.exit_code == 0, result.output
    assert "sample" in result.output and "aws" not in result.output


def test_check_refuses_an_unknown_provider(app: typer.Typer) -> None:
    """An unknown name is a usage error listing the known ones."""
    result = runner.invoke(app, ["providers", "check", "nimbus"])
    assert result.exit_code == 2
    assert "unknown provider nimbus" in result.output


def test_strict_fails_when_a_configured_provider_misses_a_permission(
    app: typer.Typer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--strict exits 1 when a configured provider has a failing probe."""

    class Partial:
        name = "partial"

        def check(self) -> list[CheckResult]:
            return [CheckResult("credentials", True, "found"),
                    CheckResult("cloud:Read", False, "denied (AccessDenied)")]

    monkeypatch.setattr(providers_command, "get_provider", lambda name: Partial())
    monkeypatch.setattr(providers_command, "provider_names", lambda: ["partial"])
    assert runner.invoke(app, ["providers", "check"]).exit_code == 0
    result = runner.invoke(app, ["providers", "check", "--strict"])
    assert result.exit_code == 1
    assert "denied" in result.output


def test_a_provider_that_cannot_load_is_reported_not_fatal(
    app: typer.Typer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An SDK missing or a broken factory shows as not configured, with the reason."""

    def broken(name: str) -> object:
        raise ModuleNotFoundError("No module named 'nimbus_sdk'")

    monkeypatch.setattr(providers_command, "get_provider", broken)
    monkeypatch.setattr(providers_command, "provider_names", lambda: ["nimbus"])
    result = runner.invoke(app, ["providers", "check", "--json"])
    assert result.exit_code == 0
    (report,) = json.loads(result.output)
    assert not report["configured"] and "nimbus_sdk" in report["checks"][0]["detail"]
