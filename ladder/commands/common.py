"""What the executor's commands share: options, settings, the engine, error handling."""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy import Engine

from core.db.models import DEFAULT_SCOPE
from core.db.session import create_engine_for, migrate
from core.errors import LadderError
from core.settings import Settings, get_settings

console = Console()
errors = Console(stderr=True)

DatabaseOption = Annotated[
    str | None,
    typer.Option("--database-url", help="SQLAlchemy URL (default: LADDER_DATABASE_URL or the "
                 "SQLite file in the data directory)."),
]
ProviderOption = Annotated[
    str | None, typer.Option("--provider", help="Provider name (default: the sample).")
]
ScopeOption = Annotated[
    str, typer.Option("--scope", help="The part of the provider (its policy and run lock).")
]
ActorOption = Annotated[
    str | None, typer.Option("--as", help="Who acts (default: the login name).")
]

SQLITE_BUSY_TIMEOUT_S = 60.0
"""How long a command waits for another process's SQLite write lock."""


def settings_for(database_url: str | None) -> Settings:
    """The settings, with the database URL overridden when given."""
    settings = get_settings()
    if database_url:
        settings = settings.model_copy(update={"database_url": database_url})
    return settings


def engine_for(settings: Settings) -> Engine:
    """An engine for commands that may run beside others, migrated to the latest schema.

    On SQLite every transaction takes the write lock at BEGIN and waits up to a
    minute for it: concurrent processes queue instead of failing.
    """
    engine = create_engine_for(settings.database_url, sqlite_immediate=True,
                               sqlite_busy_timeout_s=SQLITE_BUSY_TIMEOUT_S)
    migrate(engine)
    return engine


def provider_name(settings: Settings, provider: str | None) -> str:
    """The provider asked for, or the default one."""
    return provider or settings.default_provider


def actor_name(given: str | None) -> str:
    """Who acts: ``--as``, else the login name."""
    if given:
        return given
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        return "unknown"


@contextmanager
def handled() -> Iterator[None]:
    """Turn Ladder's own errors into a one-line message and exit code 2."""
    try:
        yield
    except LadderError as exc:
        errors.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(code=2) from exc


__all__ = [
    "DEFAULT_SCOPE",
    "ActorOption",
    "DatabaseOption",
    "ProviderOption",
    "ScopeOption",
    "actor_name",
    "console",
    "engine_for",
    "errors",
    "handled",
    "provider_name",
    "settings_for",
]
