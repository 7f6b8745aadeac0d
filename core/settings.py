"""Ladder's settings: one pydantic-settings class read from ``LADDER_*`` environment variables."""

from __future__ import annotations

import logging
import os
import secrets
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Literal

from platformdirs import user_data_dir
from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.errors import InvalidInput

DATABASE_FILENAME = "ladder.db"


def default_data_dir() -> Path:
    """The per-user data directory (``platformdirs.user_data_dir("ladder")``)."""
    return Path(user_data_dir("ladder"))


def sqlite_url(path: Path) -> str:
    """The SQLAlchemy URL of a SQLite file."""
    return f"sqlite:///{path.resolve().as_posix()}"


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


class Settings(BaseSettings):
    """Everything Ladder reads from its environment.

    ``database_url`` defaults to the SQLite file ``ladder.db`` inside ``data_dir``
    (which is then created); ``LADDER_DATABASE_URL`` replaces it as a whole and
    ``LADDER_DATA_DIR`` moves the data directory.
    """

    model_config = SettingsConfigDict(env_prefix="LADDER_", frozen=True, extra="ignore",
                                      allow_inf_nan=False)

    # Declared before database_url: its validator reads the validated data_dir.
    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str = Field(default="", validate_default=True)
    default_provider: str = "sample"
    sqlite_busy_timeout_s: float = Field(default=60.0, gt=0.0, le=3600.0)
    """How long a command or request waits for another process's SQLite write lock before
    the database counts as unavailable (exit code 75, HTTP 503)."""
    lookback_hours: int = Field(default=2160, gt=0)
    """Hours of usage history the planner reads (forecasts are fitted on them)."""
    cost_of_capital: float = Field(default=0.0, ge=0.0)
    """Annual rate charged on upfront payments."""
    solver_time_limit_s: float = Field(default=120.0, gt=0.0)
    planner: Literal["forecast", "lookback"] = "forecast"
    """``forecast``: forecast scenarios, the risk-aware stochastic LP, a tranche per run;
    ``lookback``: the foundation LP on the last ``lookback_hours`` replayed as the future."""
    horizon_hours: int = Field(default=672, ge=24)
    """Hours of forecast the stochastic LP sees (the rest of a term is priced by the decline
    learned from the history)."""
    scenarios: int = Field(default=8, ge=1, le=64)
    """Forecast sample paths the stochastic LP weighs."""
    waste_weight: float | None = Field(default=None, ge=0.0)
    """How much more than its price an expected idle commitment dollar costs the forecast
    planner (``None``: the ladder's own weight, chosen on the backtest suite)."""
    representative_hours: int | None = Field(default=None, ge=24)
    """Weighted hours per scenario the forecast planner's LP solves (``None``: the ladder's
    own, chosen on the backtest suite); more tightens the plan's certified gap and takes
    longer (the README's settings table has the sample's figures)."""
    calibration_days: int = Field(default=0, ge=0)
    """Before planning, replay the scope's last this many days over a small grid of the
    forecast planner's risk settings and plan with the best (``optimizer.calibration``;
    0: off, the default until measured; a replay needs a week of history before it)."""
    exchanges: bool = True
    """Let the forecast planner exchange convertible commitments and return recent
    Savings Plans (``false``: purchases only)."""

    fiscal_year_start_month: int = Field(default=1, ge=1, le=12)
    """The month (1-12) the fiscal year starts in: spend forecasts and budgets to the end
    of the fiscal year count from it (1: the calendar year)."""

    # --- the executor -------------------------------------------------------------------
    execute_providers: str = ""
    """Providers whose approved plans are really bought, comma-separated; all others run dry."""
    approvers: str = ""
    """Names that may approve plans from the command line, comma-separated."""
    webhook_url: str = ""
    """Where notifications go when the scope's policy names no webhook."""
    run_lock_lease_s: float = Field(default=900.0, gt=0.0)
    """How long a SQLite run lock holds without renewal before another process may take it."""
    min_schedule_interval_s: float = Field(default=3600.0, gt=0.0, le=366 * 86400.0)
    """Shortest time between two runs a policy's ``schedule`` may ask for (an hour)."""
    provider_retry_attempts: int = Field(default=5, ge=1)
    """Calls to a provider per step before its outcome is left for reconciliation."""
    provider_retry_base_s: float = Field(default=1.0, ge=0.0)
    """First back-off between provider retries (doubling, unless the provider says when)."""

    # --- the API ------------------------------------------------------------------------
    api_key_pepper: SecretStr = SecretStr("")
    """Server-side secret mixed into every API key's hash; changing it invalidates every key.
    Unset, the API and ``ladder keys`` use the one generated in the data directory
    (:func:`with_api_key_pepper`)."""
    api_key_unpeppered_before: datetime | None = None
    """Keys created before this time may have been hashed with no pepper (before there was
    one): such a key is accepted and re-hashed with the pepper on its first use. Set from
    the generated pepper file's creation; set it by hand when giving a pepper to a server
    whose keys were made without one."""

    def executes(self, provider: str) -> bool:
        """Whether approved plans of ``provider`` are really bought (else they run dry)."""
        return provider in _names(self.execute_providers)

    @property
    def approver_names(self) -> frozenset[str]:
        """The names ``approvers`` lists."""
        return frozenset(_names(self.approvers))

    @field_validator("api_key_unpeppered_before")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        # A time without a zone is UTC, as every time Ladder stores.
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value

    @field_validator("data_dir")
    @classmethod
    def _expand_data_dir(cls, value: Path) -> Path:
        return value.expanduser()

    @field_validator("database_url")
    @classmethod
    def _default_database_url(cls, value: str, info: ValidationInfo) -> str:
        if value:
            return value
        data_dir = info.data.get("data_dir")
        if data_dir is None:  # data_dir failed validation; its error is reported instead
            return value
        data_dir.mkdir(parents=True, exist_ok=True)
        return sqlite_url(data_dir / DATABASE_FILENAME)


PEPPER_FILENAME = "api-key-pepper"

log = logging.getLogger("ladder.settings")


def _read_pepper(path: Path) -> str:
    pepper = path.read_text(encoding="utf-8").strip()
    if not pepper:
        raise InvalidInput("the API key pepper file is empty: put the pepper back, or delete "
                           "the file to have a new one generated (every API key made since "
                           "it was created must then be made again)", source=str(path))
    mode = path.stat().st_mode & 0o777
    if os.name == "posix" and mode & 0o077:
        log.warning("the API key pepper in %s may be read by other users (mode %o): "
                    "chmod 600 it", path, mode)
    return pepper


def _generate_pepper(path: Path) -> None:
    """Write a new random pepper to ``path`` (mode 0600) unless another process did first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_urlsafe(32) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(draft, path)  # atomic: the first process's pepper wins, whole
        except FileExistsError:
            return
        log.warning("LADDER_API_KEY_PEPPER is not set: generated an API key pepper in %s "
                    "(readable by this user only). Keep it out of the database's backups, "
                    "and give every server that shares this database the same one "
                    "(LADDER_API_KEY_PEPPER)", path)
    finally:
        draft.unlink(missing_ok=True)


def with_api_key_pepper(settings: Settings) -> Settings:
    """The settings with an API key pepper: ``LADDER_API_KEY_PEPPER``, else the one in the
    data directory's ``api-key-pepper`` file, generated on first use.

    A generated pepper dates ``api_key_unpeppered_before`` from the file's creation (unless
    set), so that keys made before it, hashed with no pepper, keep working.
    """
    if settings.api_key_pepper.get_secret_value():
        return settings
    path = settings.data_dir / PEPPER_FILENAME
    if not path.exists():
        _generate_pepper(path)
    pepper = _read_pepper(path)
    log.info("LADDER_API_KEY_PEPPER is not set: API keys are hashed with the pepper in %s",
             path)
    since = settings.api_key_unpeppered_before or datetime.fromtimestamp(
        path.stat().st_mtime, UTC)
    return settings.model_copy(update={"api_key_pepper": SecretStr(pepper),
                                       "api_key_unpeppered_before": since})


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once; ``get_settings.cache_clear()`` re-reads them."""
    return Settings()
