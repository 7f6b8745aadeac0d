"""Settings read from LADDER_* environment variables."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.settings import Settings, get_settings


def test_defaults_put_a_sqlite_file_in_the_data_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    data_dir = tmp_path / "nested" / "ladder"
    monkeypatch.setenv("LADDER_DATA_DIR", str(data_dir))

    settings = Settings()

    assert settings.data_dir == data_dir
    assert settings.database_url == f"sqlite:///{(data_dir / 'ladder.db').as_posix()}"
    assert data_dir.is_dir()
    assert (settings.default_provider, settings.lookback_hours) == ("sample", 2160)
    assert (settings.cost_of_capital, settings.solver_time_limit_s) == (0.0, 120.0)


def test_database_url_from_the_environment_wins_and_creates_no_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LADDER_DATABASE_URL", "postgresql+psycopg://ladder@db/ladder")
    monkeypatch.setenv("LADDER_DATA_DIR", str(tmp_path / "unused"))

    settings = Settings()

    assert settings.database_url == "postgresql+psycopg://ladder@db/ladder"
    assert not (tmp_path / "unused").exists()


def test_get_settings_is_cached_until_cleared(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LADDER_COST_OF_CAPITAL", "0.08")
    first = get_settings()
    monkeypatch.setenv("LADDER_COST_OF_CAPITAL", "0.05")

    assert get_settings() is first
    get_settings.cache_clear()
    assert get_settings().cost_of_capital == 0.05


def test_invalid_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LADDER_LOOKBACK_HOURS", "-1")
    with pytest.raises(ValueError, match="lookback_hours"):
        Settings()


def test_ladder_settings_fixture_points_at_the_test_database(ladder_settings: Settings) -> None:
    assert get_settings() is ladder_settings
    assert ladder_settings.database_url.startswith(("sqlite", "postgresql"))


def test_unpeppered_before_without_a_zone_is_utc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LADDER_API_KEY_UNPEPPERED_BEFORE", "2026-12-01T00:00:00")
    since = Settings().api_key_unpeppered_before
    assert since == datetime(2026, 12, 1, tzinfo=UTC)


@pytest.mark.parametrize("name", ["LADDER_COST_OF_CAPITAL", "LADDER_SOLVER_TIME_LIMIT_S",
                                  "LADDER_RUN_LOCK_LEASE_S", "LADDER_MIN_SCHEDULE_INTERVAL_S"])
@pytest.mark.parametrize("value", ["inf", "nan", "Infinity"])
def test_numbers_from_the_environment_must_be_finite(monkeypatch: pytest.MonkeyPatch,
                                                     name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=name.removeprefix("LADDER_").lower()):
        Settings()
