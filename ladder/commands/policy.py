"""``ladder policy``: read and change the versioned policy of a provider's scope."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy.orm import Session

from core.db.models import DEFAULT_SCOPE
from core.db.session import session_scope
from core.errors import InvalidInput, NotFound
from core.settings import Settings
from executor.policy import (
    ScopePolicy,
    StoredPolicy,
    load_policy,
    parse_policy,
    policy_history,
    save_policy,
)
from ladder.commands.common import (
    ActorOption,
    DatabaseOption,
    ProviderOption,
    ScopeOption,
    actor_name,
    console,
    engine_for,
    handled,
    provider_name,
    settings_for,
)

policy_app = typer.Typer(help="The policy of a provider's scope: caps, allowed offerings, "
                         "blackouts, kill switch, schedule.", no_args_is_help=True)

ReasonOption = Annotated[str, typer.Option("--reason", help="Why the policy changes (audited).")]


def _describe(stored: StoredPolicy) -> str:
    body = json.dumps(stored.policy.model_dump(mode="json", exclude_defaults=True), indent=1)
    return (f"Policy of {stored.provider}/{stored.scope}, version {stored.version}, by "
            f"{stored.created_by} at {stored.created_at:%Y-%m-%d %H:%M} UTC"
            f"{f' ({stored.reason})' if stored.reason else ''}; fields that differ from the "
            f"defaults:\n{body}")


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _assignments(pairs: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name.strip():
            raise InvalidInput(f"--set takes field=value, got {pair!r}")
        values[name.strip()] = _value(text)
    return values


@contextmanager
def _scope_session(database_url: str | None, provider: str | None,
                   ) -> Iterator[tuple[Settings, str, Session]]:
    """The settings, the provider's name and a session (committed on leaving) for a
    command on a scope's policy; Ladder's errors inside become a one-line message."""
    settings = settings_for(database_url)
    with handled():
        engine = engine_for(settings)
        name = provider_name(settings, provider)
        with session_scope(engine) as session:
            yield settings, name, session


@policy_app.command("show")
def show(
    provider: ProviderOption = None,
    scope: ScopeOption = DEFAULT_SCOPE,
    database_url: DatabaseOption = None,
) -> None:
    """The policy in force for the scope."""
    with _scope_session(database_url, provider) as (_, name, session):
        stored = load_policy(session, name, scope)
    if stored is None:
        console.print(f"No policy for {name}/{scope}: nothing is approved automatically. "
                      "Every field and its default:")
        console.print(json.dumps(ScopePolicy().model_dump(mode="json"), indent=1))
        return
    console.print(_describe(stored))


@policy_app.command("set")
def set_policy(
    provider: ProviderOption = None,
    scope: ScopeOption = DEFAULT_SCOPE,
    file: Annotated[Path | None, typer.Option(
        "--file", help="A JSON object of policy fields, replacing the policy in force.",
        exists=True, dir_okay=False)] = None,
    assignments: Annotated[list[str] | None, typer.Option(
        "--set", help="field=value (JSON value), applied on top; repeat for several.")] = None,
    reason: ReasonOption = "",
    actor: ActorOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """Store a new version of the scope's policy.

    Example: ``ladder policy set --set max_run_hourly=5 --set 'allowed_terms_hours=[8760]'
    --set 'schedule="0 6 * * 1"' --reason "weekly, one-year terms only"``.
    """
    with _scope_session(database_url, provider) as (settings, name, session):
        current = load_policy(session, name, scope)
        if file is not None:
            body = json.loads(file.read_text(encoding="utf-8"))
            if not isinstance(body, dict):
                raise InvalidInput("the policy file must hold a JSON object", source=str(file))
        else:
            body = current.policy.model_dump(mode="json") if current else {}
        policy = parse_policy({**body, **_assignments(assignments or [])})
        stored = save_policy(session, name, scope, policy, actor=actor_name(actor),
                             reason=reason, min_schedule_interval=timedelta(
                                 seconds=settings.min_schedule_interval_s))
    console.print(_describe(stored))


@policy_app.command("kill-switch")
def kill_switch(
    state: Annotated[str, typer.Argument(help="on or off")],
    provider: ProviderOption = None,
    scope: ScopeOption = DEFAULT_SCOPE,
    reason: ReasonOption = "",
    actor: ActorOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """Turn the scope's kill switch on (nothing is bought) or off."""
    if state not in ("on", "off"):
        raise typer.BadParameter("say on or off", param_hint="STATE")
    with _scope_session(database_url, provider) as (_, name, session):
        current = load_policy(session, name, scope)
        if current is None and state == "off":
            raise NotFound(f"no policy for {name}/{scope}: there is no kill switch to "
                           "turn off")
        base = current.policy if current is not None else ScopePolicy(auto_approve=False)
        stored = save_policy(session, name, scope,
                             base.model_copy(update={"kill_switch": state == "on"}),
                             actor=actor_name(actor), reason=reason or f"kill switch {state}")
    console.print(f"Kill switch of {name}/{scope} is {state} (policy version {stored.version}).")


@policy_app.command("history")
def history(
    provider: ProviderOption = None,
    scope: ScopeOption = DEFAULT_SCOPE,
    database_url: DatabaseOption = None,
) -> None:
    """Every version of the scope's policy, newest first."""
    with _scope_session(database_url, provider) as (_, name, session):
        versions = policy_history(session, name, scope)
    if not versions:
        console.print(f"No policy for {name}/{scope}.")
    for stored in versions:
        console.print(_describe(stored))


def register(app: typer.Typer) -> None:
    """Add the ``policy`` group to the CLI."""
    app.add_typer(policy_app, name="policy")
