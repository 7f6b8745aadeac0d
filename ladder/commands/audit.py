"""``ladder audit``: verify the hash chain of the audit log, and read it."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich import box
from rich.table import Table

from core.db.session import session_scope
from executor import audit
from ladder.commands.common import (
    DatabaseOption,
    console,
    engine_for,
    errors,
    handled,
    settings_for,
)

audit_app = typer.Typer(help="The append-only, hash-chained audit log.", no_args_is_help=True)


@audit_app.command("verify")
def verify(database_url: DatabaseOption = None) -> None:
    """Recompute every entry's hash and check the chain; exit 1 at the first break.

    Prints the head's hash: kept somewhere else, it also proves later that the
    log was not truncated and rebuilt as a whole.
    """
    settings = settings_for(database_url)
    with handled():
        engine = engine_for(settings)
        report = audit.verify_database(engine)
    if report.ok:
        console.print(f"The audit chain verifies: {report.entries} entries, head "
                      f"{report.head_seq} {report.head_hash}")
        return
    errors.print(f"[bold red]The audit chain is broken[/] ({report.entries} entries read):")
    for problem in report.problems:
        errors.print(f"  • {problem}")
    raise typer.Exit(code=1)


@audit_app.command("list")
def list_entries(
    database_url: DatabaseOption = None,
    subject: Annotated[str | None, typer.Option(
        help="Only entries about this subject, e.g. plan:12 or action:12/0.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000, help="How many entries.")] = 30,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """The newest entries: when, who, what, about what, and why."""
    settings = settings_for(database_url)
    with handled():
        engine = engine_for(settings)
        with session_scope(engine) as session:
            entries = audit.list_entries(session, subject=subject, limit=limit)
            if as_json:
                for entry in entries:
                    typer.echo(json.dumps({
                        "seq": entry.seq, "at": entry.at.isoformat(), "actor": entry.actor,
                        "event": entry.event, "subject": entry.subject, "reason": entry.reason,
                        "data": entry.data, "hash": entry.hash}))
                return
            table = Table(title="Audit log", title_justify="left", box=box.SIMPLE_HEAD)
            for column in ("seq", "at UTC", "actor", "event", "subject", "reason"):
                table.add_column(column, overflow="fold")
            for entry in entries:
                table.add_row(str(entry.seq), f"{entry.at:%Y-%m-%d %H:%M:%S}", entry.actor,
                              entry.event, entry.subject, entry.reason)
            console.print(table)


def register(app: typer.Typer) -> None:
    """Add the ``audit`` group to the CLI."""
    app.add_typer(audit_app, name="audit")
