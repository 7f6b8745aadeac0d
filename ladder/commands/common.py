"""What the executor's commands share: options, settings, the engine, error handling."""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy import Engine
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from core.db.models import DEFAULT_SCOPE
from core.db.session import (
    create_engine_for,
    database_unavailable,
    migrate,
    redact,
    shown_url,
)
from core.domain import PROVIDER_NAME_MAX, SCOPE_NAME_MAX, check_name
from core.errors import DatabaseUnavailable, InvalidInput, LadderError
from core.settings import Settings, get_settings

console = Console()
errors = Console(stderr=True)

DatabaseOption = Annotated[
    str | None,
    typer.Option("--database-url", help="SQLAlchemy URL (default: LADDER_DATABASE_URL or the "
                 "SQLite file in the data directory)."),
]
def provider_name_option(value: str | None) -> str | None:
    """Hold ``--provider`` to the API's rule for provider names."""
    return _checked(value, what="provider", max_length=PROVIDER_NAME_MAX)


def scope_name_option(value: str | None) -> str | None:
    """Hold ``--scope`` to the API's rule for scope names."""
    return _checked(value, what="scope", max_length=SCOPE_NAME_MAX)


def _checked(value: str | None, *, what: str, max_length: int) -> str | None:
    if value is None:
        return None
    try:
        return check_name(value, what=what, max_length=max_length)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc


ProviderOption = Annotated[
    str | None, typer.Option("--provider", help="Provider name (default: the sample).",
                             callback=provider_name_option)
]
ScopeOption = Annotated[
    str, typer.Option("--scope", help="The part of the provider (its policy and run lock).",
                      callback=scope_name_option)
]
ActorOption = Annotated[
    str | None, typer.Option("--as", help="Who acts (default: the login name).")
]


def settings_for(database_url: str | None) -> Settings:
    """The settings, with the database URL overridden when given."""
    settings = get_settings()
    if database_url:
        settings = settings.model_copy(update={"database_url": database_url})
    return settings


EXIT_DATABASE_UNAVAILABLE = 75
"""Exit code when the database is unreachable or locked (sysexits' EX_TEMPFAIL: try later)."""

_DATABASE_URLS: list[str] = []
"""The database URLs this process opened, so that their passwords never reach the terminal."""


def engine_for(settings: Settings) -> Engine:
    """An engine for commands that may run beside others, migrated to the latest schema.

    On SQLite every transaction takes the write lock at BEGIN and waits for it up to
    ``LADDER_SQLITE_BUSY_TIMEOUT_S`` (a minute): concurrent processes queue instead of failing.
    """
    _DATABASE_URLS.append(settings.database_url)
    try:
        engine = create_engine_for(settings.database_url, sqlite_immediate=True,
                                   sqlite_busy_timeout_s=settings.sqlite_busy_timeout_s)
    except (ArgumentError, NoSuchModuleError, ValueError) as exc:
        detail = redact(str(exc), settings.database_url)
        raise InvalidInput(f"the database URL {shown_url(settings.database_url)} cannot be "
                           f"used: {detail} (LADDER_DATABASE_URL or --database-url)") from exc
    migrate(engine)
    return engine


def database_error(exc: BaseException) -> DatabaseUnavailable | None:
    """What a database error means to the CLI: unavailable (with the URL's password hidden),
    or None for any other failure."""
    url = _DATABASE_URLS[-1] if _DATABASE_URLS else None
    unavailable = database_unavailable(exc, url)
    if unavailable is None:
        return None
    return DatabaseUnavailable(redact(str(unavailable), *_DATABASE_URLS),
                               retry_after_s=unavailable.retry_after_s)


def exit_unavailable(unavailable: DatabaseUnavailable) -> NoReturn:
    """Say in one line that the database is unavailable; exit with EX_TEMPFAIL."""
    errors.print(f"[bold red]error:[/] {unavailable}; try again later (or check "
                 "LADDER_DATABASE_URL)", soft_wrap=True, markup=True, highlight=False)
    raise typer.Exit(code=EXIT_DATABASE_UNAVAILABLE)


def provider_name(settings: Settings, provider: str | None) -> str:
    """The provider asked for, or the default one (``LADDER_DEFAULT_PROVIDER``, held to the
    same rule as ``--provider``)."""
    name = provider or settings.default_provider
    try:
        return check_name(name, what="provider", max_length=PROVIDER_NAME_MAX)
    except ValueError as exc:
        raise InvalidInput(str(exc), column="provider") from exc


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
    """Turn Ladder's own errors into a one-line message and exit code 2, and an unavailable
    database into one line and exit code 75."""
    try:
        yield
    except DatabaseUnavailable as exc:
        exit_unavailable(database_error(exc) or exc)
    except LadderError as exc:
        # The message is text, not markup: "pip install 'ladder[gcs]'" must keep its brackets.
        errors.print(f"[bold red]error:[/] {escape(str(exc))}")
        raise typer.Exit(code=2) from exc
    except SQLAlchemyError as exc:
        unavailable = database_error(exc)
        if unavailable is None:
            raise
        exit_unavailable(unavailable)


__all__ = [
    "DEFAULT_SCOPE",
    "ActorOption",
    "DatabaseOption",
    "ProviderOption",
    "ScopeOption",
    "actor_name",
    "console",
    "database_error",
    "engine_for",
    "errors",
    "exit_unavailable",
    "handled",
    "provider_name",
    "provider_name_option",
    "scope_name_option",
    "settings_for",
]
