"""The CLI with a database that is unreachable or locked: one line, exit code 75, no
traceback, no password."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError
from typer.testing import CliRunner

from core.db.session import migrate
from core.settings import sqlite_url
from ladder.cli import LadderApp, app
from ladder.commands.common import EXIT_DATABASE_UNAVAILABLE

PASSWORD = "s3cret-Pa55"
UNREACHABLE = f"postgresql+psycopg://ladder:{PASSWORD}@127.0.0.1:1/ladder?connect_timeout=2"


def _ladder(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {name: value for name, value in os.environ.items()
                   if not name.startswith("LADDER_")} | (env or {})
    return subprocess.run([sys.executable, "-m", "ladder.cli", *args], env=environment,
                          capture_output=True, text=True, timeout=120, check=False)


def _assert_one_line(result: subprocess.CompletedProcess[str], *, shows: str) -> None:
    assert result.returncode == EXIT_DATABASE_UNAVAILABLE, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: the database") and "unavailable" in lines[0]
    assert shows in lines[0]
    assert PASSWORD not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", [["plans", "list"], ["serve", "--port", "0"]])
def test_an_unreachable_database_is_one_line_without_the_password(
    command: list[str], tmp_path: Path
) -> None:
    result = _ladder(*command, env={"LADDER_DATABASE_URL": UNREACHABLE,
                                    "LADDER_DATA_DIR": str(tmp_path)})
    _assert_one_line(result, shows="ladder:***@127.0.0.1:1/ladder")


def test_the_password_of_a_url_given_as_option_is_hidden_too(tmp_path: Path) -> None:
    result = _ladder("plans", "list", "--database-url", UNREACHABLE,
                     env={"LADDER_DATA_DIR": str(tmp_path)})
    _assert_one_line(result, shows="Connection refused")


def test_a_locked_sqlite_database_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "ladder.db"
    migrate(sqlite_url(path))
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        # Commands wait a minute for SQLite's lock by default; a fifth of a second here.
        result = _ladder("policy", "set", "--set", "kill_switch=true", "--reason", "x",
                         env={"LADDER_DATABASE_URL": sqlite_url(path),
                              "LADDER_DATA_DIR": str(tmp_path),
                              "LADDER_SQLITE_BUSY_TIMEOUT_S": "0.2"})
    finally:
        holder.close()
    _assert_one_line(result, shows="database is locked")


def test_a_database_error_outside_any_command_handler_is_one_line_too(
    capsys: pytest.CaptureFixture[str],
) -> None:
    demo = LadderApp(pretty_exceptions_show_locals=False)

    @demo.command()
    def boom() -> None:
        """Meet the database where no command handles it."""
        raise OperationalError("SELECT 1", {}, sqlite3.OperationalError("database is locked"))

    @demo.command()
    def other() -> None:
        """A second command, so that ``boom`` is named."""

    with pytest.raises(SystemExit) as exited:
        demo(["boom"], prog_name="ladder")
    assert exited.value.code == EXIT_DATABASE_UNAVAILABLE
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "database is locked" in err[0]


@pytest.mark.parametrize("url", [f"postgresql+psycopg://ladder:{PASSWORD}@127.0.0.1:port/x",
                                 f"nosuchdriver://ladder:{PASSWORD}@127.0.0.1/x",
                                 "not a URL"])
def test_a_database_url_that_cannot_be_used_is_one_line_without_the_password(
    url: str, ladder_settings: object
) -> None:
    result = CliRunner().invoke(app, ["plans", "list", "--database-url", url])
    assert result.exit_code == 2, result.output
    assert "cannot be used" in result.output and PASSWORD not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
