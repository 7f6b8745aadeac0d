"""`ladder optimize --provider aws|azure|gcp` on the bundled bills: no credentials, no network.

Every cloud's quick-start bill is planned with its bundled price snapshot; the plan stored
names the prices (kind, date, age) in its details, and the CLI, ``ladder plans show`` and
``GET /v1/plans/{id}`` all say so.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pipeline_backend import ON_SQLITE_ONLY
from typer.testing import CliRunner

from api.app import create_app
from core.db import repository
from core.db.session import create_engine_for, session_scope
from core.settings import Settings, get_settings
from ladder.cli import app

runner = CliRunner()
REPO = Path(__file__).resolve().parents[2]
BILLS: dict[str, tuple[str | None, Path, date]] = {
    "sample": (None, REPO / "providers/sample/data/usage.parquet", date(2017, 11, 12)),
    "aws": ("LADDER_AWS_USAGE", REPO / "providers/sample/data/usage.parquet", date(2017, 11, 12)),
    "azure": ("LADDER_AZURE_USAGE_PATH", REPO / "providers/azure/data/sample_usage.parquet",
              date(2023, 9, 3)),
    "gcp": ("LADDER_GCP_USAGE_PATH", REPO / "providers/gcp/data/sample_usage.parquet",
            date(2026, 7, 30)),
}
_CONNECT = socket.socket.connect


def _local_only(sock: socket.socket, address: object) -> None:
    """socket.connect that refuses every address but loopback and Unix sockets."""
    host = address[0] if isinstance(address, tuple) else None
    if host is not None and host not in ("127.0.0.1", "::1", "localhost"):
        raise ConnectionRefusedError(f"this test may not reach the network ({host})")
    _CONNECT(sock, address)  # type: ignore[arg-type]


@pytest.fixture
def offline(ladder_settings: Settings, no_cloud_credentials: None,
            monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """No cloud credentials anywhere and no connection beyond loopback (the test database)."""
    monkeypatch.setattr(socket.socket, "connect", _local_only)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


@ON_SQLITE_ONLY
@pytest.mark.parametrize("cloud", sorted(BILLS))
def test_optimize_plans_a_bill_offline_with_the_bundled_prices_and_says_so(
        cloud: str, offline: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    variable, bill, as_of = BILLS[cloud]
    if variable is not None:
        monkeypatch.setenv(variable, str(bill))
    result = runner.invoke(app, ["optimize", "--provider", cloud])
    assert result.exit_code == 0, result.output
    age = (datetime.now(UTC).date() - as_of).days
    label = f"bundled snapshot of {as_of.isoformat()} ({age} days old)"
    assert f"Prices: {label}" in " ".join(result.output.split())

    engine = create_engine_for(offline.database_url)
    with session_scope(engine) as session:
        (plan,) = repository.list_plans(session, provider=cloud)
        prices = plan.details["prices"]
        assert (prices["kind"], prices["as_of"], prices["age_days"]) == (
            "snapshot", as_of.isoformat(), age)
        assert prices["age_days_at_decision"] == (plan.window_start.date() - as_of).days
        assert prices["label"] == label
        assert plan.actions, "each sample's steady base is worth committing to"
        assert plan.cost_after < plan.cost_before
        plan_id = plan.id
    engine.dispose()

    shown = runner.invoke(app, ["plans", "show", str(plan_id)])
    assert shown.exit_code == 0, shown.output
    assert label in " ".join(shown.output.split())

    created = runner.invoke(app, ["keys", "create", "--role", "viewer", "--name", "reader"])
    assert created.exit_code == 0, created.output
    key = created.output.strip().splitlines()[-1]
    with TestClient(create_app(offline)) as client:
        answer = client.get(f"/v1/plans/{plan_id}", headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["details"]["prices"]["label"] == label


def test_optimize_for_a_cloud_without_a_catalog_says_why_and_exits_cleanly(
        offline: Settings) -> None:
    """OCI bills are read and stored, but Ladder has no OCI catalog: optimize says so in one
    line (exit 2), with no traceback; an unknown name lists the known ones."""
    result = runner.invoke(app, ["optimize", "--provider", "oci"])
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert "OCI has no commitment catalog in Ladder yet" in text
    assert "Traceback" not in result.output
    other = runner.invoke(app, ["optimize", "--provider", "nimbus"])
    assert other.exit_code == 2
    assert "unknown provider 'nimbus'; known: aws, azure, gcp, sample" in " ".join(
        other.output.split())
