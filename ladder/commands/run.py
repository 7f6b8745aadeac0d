"""``ladder run``, ``ladder reconcile`` and ``ladder runs``: autonomous runs and their history."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from core.db.models import DEFAULT_SCOPE, RunRow
from core.db.session import session_scope
from core.errors import NotFound
from executor import repository as repo
from executor.execute import Executor
from executor.locks import run_lock
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
from ladder.render import action_outcome_lines
from ladder.run import market_for, run_once
from providers.base import get_provider

runs_app = typer.Typer(help="The history of autonomous runs.", no_args_is_help=True)


def run(
    provider: ProviderOption = None,
    scope: ScopeOption = DEFAULT_SCOPE,
    database_url: DatabaseOption = None,
    lookback_hours: Annotated[
        int | None, typer.Option(min=24, help="Hours of past usage to optimise on.")
    ] = None,
    wait: Annotated[float, typer.Option(
        min=0.0, help="Seconds to wait for the scope's run lock before skipping.")] = 0.0,
    actor: ActorOption = None,
) -> None:
    """Run once: reconcile, ingest, optimise, approve by policy and execute.

    Purchases are a dry run unless LADDER_EXECUTE_PROVIDERS names the provider;
    a plan outside the scope's policy waits for an approver. Exit code 0 when
    the run did its job (including a dry run, a plan awaiting approval, or a
    skip because another run holds the lock), 1 when it failed.
    """
    settings = settings_for(database_url)
    if lookback_hours is not None:
        settings = settings.model_copy(update={"lookback_hours": lookback_hours})
    with handled():
        engine = engine_for(settings)
        outcome = run_once(engine, settings, provider_name=provider, scope=scope,
                           trigger="cli", actor=actor_name(actor))
    console.print(f"Run {outcome.run_id} ({outcome.mode}): {outcome.status}, {outcome.outcome}"
                  + (f" — plan {outcome.plan_id}" if outcome.plan_id else ""))
    if outcome.decision is not None and outcome.decision.violations:
        console.print("The policy held the plan back:")
        for violation in outcome.decision.violations:
            console.print(escape(f"  • [{violation.severity}] {violation.message}"))
    if outcome.execution is not None:
        for line in action_outcome_lines(outcome.execution.actions):
            console.print(line)
    if outcome.detail:
        console.print(escape(outcome.detail))
    if outcome.status == "failed":
        raise typer.Exit(code=1)


def reconcile(
    provider: ProviderOption = None,
    scope: ScopeOption = DEFAULT_SCOPE,
    database_url: DatabaseOption = None,
    actor: ActorOption = None,
) -> None:
    """Settle unfinished purchases with the provider (was it bought or not?)."""
    settings = settings_for(database_url)
    name = provider_name(settings, provider)
    with handled():
        engine = engine_for(settings)
        market = market_for(get_provider(name))
        if market is None:
            raise NotFound(f"provider {name!r} cannot buy, so it has nothing to reconcile")
        executor = Executor(engine, market, settings=settings, actor=actor_name(actor))
        with run_lock(engine, name, scope, lease_s=settings.run_lock_lease_s, wait_s=60.0):
            report = executor.reconcile(name, scope)
    console.print(f"{report.checked} unfinished action(s) checked; settled: "
                  f"{report.settled or 'none'}; plans finished: "
                  f"{list(report.plans_finished) or 'none'}")
    if report.unresolved:
        console.print(f"[yellow]{len(report.unresolved)} could not be checked: "
                      f"{', '.join(report.unresolved)}[/]")
        raise typer.Exit(code=1)


def _runs_table(runs: list[RunRow]) -> Table:
    table = Table(title="Runs", title_justify="left", box=box.SIMPLE_HEAD)
    # Trigger, mode and actor are in `ladder runs show`: the list must fit 80 columns.
    for column in ("id", "started UTC", "scope", "status", "outcome", "plan", "s"):
        table.add_column(column, overflow="fold", no_wrap=column in ("status", "outcome"),
                         min_width=17 if column == "outcome" else None)
    for run_row in runs:
        seconds = ((run_row.finished_at - run_row.started_at).total_seconds()
                   if run_row.finished_at else None)
        table.add_row(str(run_row.id), f"{run_row.started_at:%m-%d %H:%M}",
                      f"{run_row.provider}/{run_row.scope}", run_row.status,
                      run_row.outcome or "", str(run_row.plan_id or ""),
                      f"{seconds:.1f}" if seconds is not None else "")
    return table


@runs_app.command("list")
def runs_list(
    database_url: DatabaseOption = None,
    provider: ProviderOption = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many runs to show.")] = 20,
) -> None:
    """Runs, newest first, with status, outcome, plan and duration."""
    settings = settings_for(database_url)
    with handled():
        engine = engine_for(settings)
        with session_scope(engine) as session:
            runs = repo.list_runs(session, provider=provider, limit=limit)
            if not runs:
                console.print("No runs yet: `ladder run`.")
                return
            console.print(_runs_table(runs))


@runs_app.command("show")
def runs_show(
    run_id: Annotated[int, typer.Argument(help="The run's id (see `ladder runs list`).")],
    database_url: DatabaseOption = None,
) -> None:
    """One run in full: timings, summary and error, as JSON."""
    settings = settings_for(database_url)
    with handled():
        engine = engine_for(settings)
        with session_scope(engine) as session:
            row = repo.get_run(session, run_id)
            if row is None:
                raise NotFound(f"no run with id {run_id}")
            body = {
                "id": row.id, "provider": row.provider, "scope": row.scope,
                "trigger": row.trigger, "actor": row.actor, "mode": row.mode,
                "status": row.status, "outcome": row.outcome, "plan_id": row.plan_id,
                "host": row.host, "pid": row.pid, "started_at": row.started_at.isoformat(),
                "finished_at": row.finished_at.isoformat() if row.finished_at else None,
                "timings": row.timings, "summary": row.summary, "error": row.error,
            }
    typer.echo(json.dumps(body, indent=1))


def register(app: typer.Typer) -> None:
    """Add ``run``, ``reconcile`` and the ``runs`` group to the CLI."""
    app.command("run")(run)
    app.command("reconcile")(reconcile)
    app.add_typer(runs_app, name="runs")
