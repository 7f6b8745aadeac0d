"""``ladder plans approve | reject | execute``: a person's part in a plan's lifecycle.

Approving and rejecting need the approver role: from the command line, the
name given with ``--as`` (or the login name) must be in ``LADDER_APPROVERS``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer
from rich.markup import escape
from sqlalchemy.orm import Session

from core.db.session import session_scope
from core.errors import Forbidden, NotFound
from core.settings import Settings
from executor.approval import APPROVER, Actor, Decision, decide, load_plan, reject
from executor.execute import Executor
from executor.locks import run_lock
from ladder.commands.common import (
    ActorOption,
    DatabaseOption,
    actor_name,
    console,
    engine_for,
    handled,
    settings_for,
)
from ladder.render import action_outcome_lines
from ladder.run import market_for
from providers.base import get_provider

PlanIdArgument = Annotated[int, typer.Argument(help="The plan's id (see `ladder plans list`).")]


def _approver(settings: Settings, given: str | None) -> Actor:
    name = actor_name(given)
    if name not in settings.approver_names:
        raise Forbidden(f"{name} does not have the approver role (LADDER_APPROVERS lists "
                        "who does)")
    return Actor(name, frozenset({APPROVER}))


def _as_approver(plan_id: int, given: str | None, database_url: str | None,
                 act: Callable[[Session, Actor], Decision]) -> None:
    """Run ``act`` (an approval or a rejection) as the approver named ``given``, print
    where the plan stands and the limits accepted; a refused approval raises once its
    audit entry is committed."""
    settings = settings_for(database_url)
    with handled():
        engine = engine_for(settings)
        person = _approver(settings, given)
        with session_scope(engine) as session:
            decision = act(session, person)
        if decision.refused:
            raise decision.refusal()
    console.print(f"Plan {plan_id} is {decision.status}.")
    for reason in decision.reasons:
        console.print(escape(f"  accepted: {reason}"))


def approve_plan(
    plan_id: PlanIdArgument,
    note: Annotated[str, typer.Option("--note", help="Why it is approved (audited).")] = "",
    actor: ActorOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """Approve a proposed plan, accepting the limits it goes beyond (never the rules)."""
    _as_approver(plan_id, actor, database_url,
                 lambda session, person: decide(session, plan_id, actor=person, note=note))


def reject_plan(
    plan_id: PlanIdArgument,
    reason: Annotated[str, typer.Option("--reason", help="Why it is rejected (audited).")] = "",
    actor: ActorOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """Reject a plan that is not executing yet."""
    _as_approver(plan_id, actor, database_url,
                 lambda session, person: reject(session, plan_id, actor=person, reason=reason))


def execute_plan(
    plan_id: PlanIdArgument,
    wait: Annotated[float, typer.Option(
        min=0.0, help="Seconds to wait for the scope's run lock.")] = 60.0,
    actor: ActorOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """Execute an approved plan now (a dry run unless LADDER_EXECUTE_PROVIDERS names its
    provider), after reconciling earlier orders; resumes a plan left executing."""
    settings = settings_for(database_url)
    with handled():
        engine = engine_for(settings)
        with session_scope(engine) as session:
            plan = load_plan(session, plan_id)
            provider, scope = plan.provider, plan.scope
        market = market_for(get_provider(provider))
        if market is None:
            raise NotFound(f"provider {provider!r} cannot buy")
        executor = Executor(engine, market, settings=settings, actor=actor_name(actor))
        with run_lock(engine, provider, scope, lease_s=settings.run_lock_lease_s,
                      wait_s=wait) as lock:
            report = executor.execute(plan_id, lock)
    console.print(f"Plan {plan_id} is {report.plan_status}"
                  + (" (dry run: nothing bought)" if report.dry_run else "") + ".")
    for line in action_outcome_lines(report.actions):
        console.print(line)


def _plans_group(app: typer.Typer) -> typer.Typer:
    for group in app.registered_groups:
        if group.name == "plans" and group.typer_instance is not None:
            return group.typer_instance
    plans = typer.Typer(help="Review stored plans.", no_args_is_help=True)
    app.add_typer(plans, name="plans")
    return plans


def register(app: typer.Typer) -> None:
    """Add ``approve``, ``reject`` and ``execute`` to the CLI's ``plans`` group."""
    plans = _plans_group(app)
    plans.command("approve")(approve_plan)
    plans.command("reject")(reject_plan)
    plans.command("execute")(execute_plan)
