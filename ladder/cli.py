"""The ``ladder`` command line (Typer + Rich)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from sqlalchemy.exc import SQLAlchemyError

from core.db import repository
from core.db.session import session_scope
from ladder import pipeline
from ladder.commands import (
    approvals,
    audit,
    backtest,
    finance,
    forecast_eval,
    policy,
    providers,
    run,
    serve,
)
from ladder.commands import keys as keys_commands
from ladder.commands import reports as reports_commands
from ladder.commands.common import (
    DatabaseOption,
    ProviderOption,
    console,
    database_error,
    engine_for,
    errors,
    exit_unavailable,
    handled,
    provider_name_option,
    settings_for,
)
from ladder.render import bill_line, plan_table, plans_table
from providers.bills import NO_CATALOG
from reporting.spend import SpendDimension, SpendGranularity, SpendQuery, SpendScope, spend


class LadderApp(typer.Typer):
    """The CLI: a database that is unreachable or locked, wherever a command meets it, is one
    line on stderr and exit code 75, never a traceback (nor a password)."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the command line."""
        try:
            return super().__call__(*args, **kwargs)
        except SQLAlchemyError as exc:
            unavailable = database_error(exc)
            if unavailable is None:
                raise
            try:
                exit_unavailable(unavailable)
            except typer.Exit as done:
                sys.exit(done.exit_code)


app = LadderApp(
    name="ladder",
    help="Ladder: the cheapest safe portfolio of cloud commitments, from FOCUS usage.",
    no_args_is_help=True,
    add_completion=False,
    # A traceback's locals would show settings and URLs, passwords included.
    pretty_exceptions_show_locals=False,
)
plans_app = typer.Typer(help="Review stored plans.", no_args_is_help=True)
app.add_typer(plans_app, name="plans")
backtest.register(app)
run.register(app)
approvals.register(app)
policy.register(app)
audit.register(app)
serve.register(app)
keys_commands.register(app)
forecast_eval.register(app)
providers.register(app)
reports_commands.register(app)
finance.register(app)

@app.command()
def optimize(
    provider: ProviderOption = None,
    database_url: DatabaseOption = None,
    lookback_hours: Annotated[
        int | None, typer.Option(min=24, help="Hours of past usage to optimise on.")
    ] = None,
    cost_of_capital: Annotated[
        float | None, typer.Option(min=0.0, help="Annual rate charged on upfront payments.")
    ] = None,
) -> None:
    """Ingest usage, solve for the cheapest commitments, store and print the plan.

    With no options this runs on the bundled sample: real AWS prices and 90 days
    of FOCUS usage, stored in the SQLite database of the data directory.
    """
    settings = settings_for(database_url)
    overrides = {k: v for k, v in {"lookback_hours": lookback_hours,
                                   "cost_of_capital": cost_of_capital}.items() if v is not None}
    settings = settings.model_copy(update=overrides)
    with handled(), Progress(SpinnerColumn(), TextColumn("{task.description}"),
                              TimeElapsedColumn(), console=console, transient=False) as progress:

        @contextmanager
        def step(label: str) -> Iterator[None]:
            task = progress.add_task(label, total=1)
            yield
            progress.update(task, completed=1)

        engine = engine_for(settings)
        outcome = pipeline.optimize(engine, settings, provider_name=provider, step=step)
    with session_scope(engine) as session:
        record = repository.get_plan(session, outcome.plan_id)
        assert record is not None
        console.print(plan_table(record))
        console.print(bill_line(spend(session, SpendQuery(
            granularity=SpendGranularity.TOTAL, group_by=SpendDimension.SERVICE_CATEGORY,
            scope=SpendScope(provider=record.provider)))))
    console.print(
        f"LP: {outcome.n_variables} variables, {outcome.n_constraints} constraints; "
        f"built in {outcome.build_seconds:.2f} s, solved in {outcome.solve_seconds:.2f} s."
    )
    if outcome.skipped_keys:
        console.print(f"[yellow]{len(outcome.skipped_keys)} usage keys have no price in the "
                      "catalog and were left on demand.[/]")


class Reducer(StrEnum):
    """Where ``ladder ingest`` reduces the export (``--engine``)."""

    DUCKDB = "duckdb"
    SPARK = "spark"


@app.command()
def ingest(
    path: Annotated[str, typer.Argument(
        help="A FOCUS CSV or Parquet file, or a folder; or a URL of object storage "
             "(s3://bucket/prefix/, gs://, az://, abfss://) read with the SDK's credentials.")],
    provider: Annotated[str | None, typer.Option(
        help="Provider the data belongs to (sample, aws, azure, gcp): only its cloud's rows "
             "are read. Default: every cloud of the bill, each under its own name.",
        callback=provider_name_option)] = None,
    database_url: DatabaseOption = None,
    reducer: Annotated[Reducer, typer.Option(
        "--engine",
        help="Where the export is reduced to hourly usage per key: duckdb (here) or spark "
             "(pip install 'ladder\\[spark]'; PATH may then be a table of Spark's catalog or "
             "an s3a:// URL, and only the aggregates come back).")] = Reducer.DUCKDB,
    spark_master: Annotated[str | None, typer.Option(
        help="Spark master URL for --engine spark (default local[2]).")] = None,
) -> None:
    """Validate a FOCUS export and store its hourly compute usage (all or nothing)."""
    settings = settings_for(database_url)
    with handled():
        engine = engine_for(settings)
        with console.status("Reading and storing FOCUS usage"):
            outcomes = pipeline.ingest_bill(engine, path, provider=provider,
                                            reducer=reducer.value,
                                            spark_master=spark_master)
    for outcome in outcomes:
        verb = "Stored" if outcome.created else "Already stored"
        console.print(
            f"{verb}: dataset {outcome.dataset_id} of {outcome.provider}, {outcome.keys} usage "
            f"keys, {outcome.hours} hours ({outcome.start:%Y-%m-%d %H:%M} to "
            f"{outcome.end:%Y-%m-%d %H:%M} UTC), {outcome.rows_used} of {outcome.rows_read} "
            "rows were compute usage."
            + (f" FOCUS {', '.join(outcome.focus_versions)}." if outcome.focus_versions else "")
            + (f" It replaces, per billing period, what was stored of the days its rows start "
               f"on: {'; '.join(outcome.covered)}." if outcome.covered else "")
        )
        if outcome.provider in NO_CATALOG:
            console.print(f"[yellow]{NO_CATALOG[outcome.provider]}.[/]")


@plans_app.command("list")
def plans_list(
    database_url: DatabaseOption = None,
    provider: ProviderOption = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many plans to show.")] = 20,
    offset: Annotated[int, typer.Option(min=0, help="How many of the newest to skip.")] = 0,
) -> None:
    """List stored plans, newest first."""
    settings = settings_for(database_url)
    with handled():
        engine = engine_for(settings)
        with session_scope(engine) as session:
            records = repository.list_plans(session, provider=provider, limit=limit,
                                            offset=offset)
            if not records:
                console.print("No plans yet: run `ladder optimize`.")
                return
            console.print(plans_table(records))


@plans_app.command("show")
def plans_show(
    plan_id: Annotated[int, typer.Argument(help="The plan's id (see `ladder plans list`).")],
    database_url: DatabaseOption = None,
) -> None:
    """Show one plan: its figures and every action with its reason."""
    settings = settings_for(database_url)
    with handled():
        engine = engine_for(settings)
        with session_scope(engine) as session:
            record = repository.get_plan(session, plan_id)
            if record is None:
                errors.print(f"[bold red]error:[/] no plan with id {plan_id}")
                raise typer.Exit(code=1)
            console.print(plan_table(record))


def main() -> None:  # pragma: no cover - console entry point
    """Run the CLI."""
    app(prog_name="ladder")


if __name__ == "__main__":  # pragma: no cover
    main()
