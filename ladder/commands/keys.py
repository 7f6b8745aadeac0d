"""``ladder keys``: create, list and revoke the REST API's keys.

``ladder keys create --role approver --name alice`` prints the key once: only a
keyed hash of it is stored, so it cannot be shown again (revoke it and create
another if it is lost).
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich import box
from rich.table import Table

from api.keys import service
from api.roles import GRANTS, Role
from core.db.session import session_scope
from core.errors import NotFound
from core.settings import with_api_key_pepper
from ladder.commands.common import (
    ActorOption,
    DatabaseOption,
    actor_name,
    console,
    engine_for,
    handled,
    settings_for,
)

keys_app = typer.Typer(help="API keys of the REST API (each with one role).",
                       no_args_is_help=True)


@keys_app.command("create")
def create(
    role: Annotated[Role, typer.Option(help="What the key may do (see api/README.md).")],
    name: Annotated[str | None, typer.Option(
        help="Who holds the key; the audit log records it (default: the login name).")] = None,
    actor: ActorOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """Create a key and print it, once: it is stored only as a keyed hash."""
    settings = settings_for(database_url)
    holder = name or actor_name(None)
    with handled():
        settings = with_api_key_pepper(settings)
        engine = engine_for(settings)
        with session_scope(engine) as session:
            new = service.create_key(session, name=holder, role=role,
                                     pepper=settings.api_key_pepper.get_secret_value(),
                                     actor=actor_name(actor))
            key_id, prefix = new.row.id, new.row.prefix
        engine.dispose()
    allowed = ", ".join(sorted(GRANTS[role]))
    console.print(f"Created API key {key_id} ({prefix}) for {holder}, role {role} ({allowed}).")
    console.print("It is shown this once; send it as 'Authorization: Bearer <key>':")
    # Printed bare, without Rich markup or wrapping, so that it can be copied or piped.
    typer.echo(new.key)


@keys_app.command("list")
def list_keys(
    include_revoked: Annotated[bool, typer.Option(help="Show revoked keys too.")] = False,
    database_url: DatabaseOption = None,
) -> None:
    """List keys (never the keys themselves)."""
    settings = settings_for(database_url)
    with handled():
        engine = engine_for(settings)
        with session_scope(engine) as session:
            rows, _total = service.list_keys(session, include_revoked=include_revoked,
                                             limit=10_000, offset=0)
        engine.dispose()
    if not rows:
        console.print("No API keys yet: `ladder keys create --role viewer`.")
        return
    table = Table(box=box.SIMPLE_HEAD)
    for column in ("id", "prefix", "name", "role", "created", "last used", "revoked"):
        table.add_column(column)
    for row in rows:
        table.add_row(str(row.id), row.prefix, row.name, row.role,
                      f"{row.created_at:%Y-%m-%d %H:%M}",
                      f"{row.last_used_at:%Y-%m-%d %H:%M}" if row.last_used_at else "-",
                      f"{row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else "-")
    console.print(table)


@keys_app.command("revoke")
def revoke(
    key_id: Annotated[int, typer.Argument(help="The key's id (see `ladder keys list`).")],
    actor: ActorOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """Revoke a key: it stops working at once."""
    settings = settings_for(database_url)
    with handled():
        engine = engine_for(settings)
        with session_scope(engine) as session:
            row = service.revoke_key(session, key_id, actor=actor_name(actor))
            if row is None:
                raise NotFound(f"no API key with id {key_id}")
        engine.dispose()
    console.print(f"Revoked API key {key_id} ({row.prefix}) of {row.name}.")


def register(app: typer.Typer) -> None:
    """Add ``keys`` to the CLI."""
    app.add_typer(keys_app, name="keys")
