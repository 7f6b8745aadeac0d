"""``ladder report NAME`` and ``ladder budgets``: finance's reports and budgets from the shell.

The figures are ``reporting``'s, as the API serves them: a table (or ``--format
json`` / ``csv``), its totals, through when its data runs and — when the data is
older than the newest commitment — a warning that says so. Budgets are created,
changed and deleted through ``reporting`` and audited as in the API; a budget in a
currency its data is not in is refused.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, date, datetime, time
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich import box
from rich.table import Table
from sqlalchemy.orm import Session

import reporting
from core.db.session import session_scope
from core.errors import NotFound
from executor import audit
from ladder.commands.common import (
    ActorOption,
    DatabaseOption,
    actor_name,
    console,
    engine_for,
    errors,
    handled,
    settings_for,
)
from reporting import (
    Budget,
    BudgetBasis,
    BudgetPeriod,
    BudgetSpec,
    Dimension,
    Granularity,
    Report,
    ReportQuery,
    Scope,
)
from reporting.common import Freshness


class ReportName(StrEnum):
    """The reports ``ladder report`` prints."""

    SAVINGS = "savings"
    COVERAGE = "coverage"
    UTILISATION = "utilisation"
    WASTE = "waste"
    AMORTIZATION = "amortization"
    AMORTISATION = "amortisation"
    """Deprecated spelling of ``amortization``: still answers, with a warning."""
    CHARGEBACK = "chargeback"
    SHOWBACK = "showback"
    PAYMENT_SCHEDULE = "payment-schedule"
    EXPIRATIONS = "expirations"
    CALENDAR = "calendar"


class OutputFormat(StrEnum):
    """How a report is printed."""

    TABLE = "table"
    JSON = "json"
    CSV = "csv"


_PERIOD_REPORTS = {
    ReportName.SAVINGS: reporting.savings,
    ReportName.COVERAGE: reporting.coverage,
    ReportName.UTILISATION: reporting.utilisation,
    ReportName.WASTE: reporting.waste,
    ReportName.AMORTIZATION: reporting.amortization,
    ReportName.CHARGEBACK: reporting.chargeback,
    ReportName.SHOWBACK: reporting.commitment_showback,
}
_DEFAULT_GROUP = {ReportName.CHARGEBACK: Dimension.ACCOUNT, ReportName.SHOWBACK: Dimension.ACCOUNT,
                  ReportName.WASTE: Dimension.COMMITMENT}

ProviderFilter = Annotated[str | None, typer.Option("--provider", help="Only this provider.")]
DayOption = Annotated[str | None, typer.Option(help="A UTC day, YYYY-MM-DD.")]
FormatOption = Annotated[OutputFormat, typer.Option("--format", help="table, json or csv.")]


def _day(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{name} must be a day, YYYY-MM-DD (got {value!r})") from None


def _instant(day: date | None) -> datetime | None:
    return None if day is None else datetime.combine(day, time(), UTC)


def _cell(value: Any, money: bool) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if money and isinstance(value, int | float):
        return f"{value:,.2f}"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def print_freshness(freshness: Freshness | None) -> None:
    """Through when the data runs, and a warning when it is older than the newest commitment."""
    if freshness is None:
        return
    if freshness.data_through is not None:
        console.print(f"Data through {freshness.data_through:%Y-%m-%d %H:%M} UTC.")
    for warning in freshness.warnings:
        console.print(f"[bold yellow]stale:[/] {warning}", soft_wrap=True)


def print_report(report: Report, output: OutputFormat) -> None:
    """The report as a table with its totals and freshness, or as JSON or CSV."""
    if output is OutputFormat.JSON:
        typer.echo(json.dumps(report.to_dict(), indent=1, allow_nan=False))
        return
    if output is OutputFormat.CSV:
        typer.echo(report.to_csv(), nl=False)
        print_freshness(report.freshness)  # on the console, after the rows
        return
    table = Table(title=f"{report.name} ({report.currency})", box=box.SIMPLE_HEAD)
    shown = [c for c in report.columns if c not in ("period_start", "period_end")]
    for column in shown:
        table.add_column(column, justify="right" if column in report.money else "left")
    for row in report.records():
        table.add_row(*(_cell(row[c], c in report.money) for c in shown))
    console.print(table)
    totals = ", ".join(f"{name} {_cell(value, True)}" for name, value in report.totals().items())
    if totals:
        console.print(f"Totals: {totals}.")
    for note in report.notes:
        console.print(f"[dim]{note}[/]", soft_wrap=True)
    print_freshness(report.freshness)


def report(
    name: Annotated[ReportName, typer.Argument(help="Which report.")],
    provider: ProviderFilter = None,
    start: DayOption = None,
    end: DayOption = None,
    granularity: Annotated[Granularity, typer.Option(
        help="Period length: day, month, quarter, year or total.")] = Granularity.MONTH,
    group_by: Annotated[Dimension | None, typer.Option(
        help="What the rows are grouped by (none, provider, account, service, region, "
        "usage_key, commitment, tag).")] = None,
    account: Annotated[str | None, typer.Option(help="Only this billing scope.")] = None,
    tag_key: Annotated[str | None, typer.Option(help="A FOCUS tag (group_by tag).")] = None,
    tag_value: Annotated[str | None, typer.Option(help="Only this value of tag_key.")] = None,
    as_of: DayOption = None,
    output: FormatOption = OutputFormat.TABLE,
    database_url: DatabaseOption = None,
) -> None:
    """Print a finance report, with through when its data runs (and whether it is stale)."""
    if name is ReportName.AMORTISATION:
        errors.print("[bold yellow]deprecated:[/] `ladder report amortisation` is "
                     "`ladder report amortization`; the old name will go")
        name = ReportName.AMORTIZATION
    settings = settings_for(database_url)
    with handled():
        engine = engine_for(settings)
        with session_scope(engine) as session:
            found = _report(session, name, provider=provider, start=_day(start, "start"),
                            end=_day(end, "end"), granularity=granularity, group_by=group_by,
                            scope=Scope(provider=provider, account=account, tag_key=tag_key,
                                        tag_value=tag_value),
                            as_of=_day(as_of, "as-of"))
        engine.dispose()
    print_report(found, output)


def _report(session: Session, name: ReportName, *, provider: str | None, start: date | None,
            end: date | None, granularity: Granularity, group_by: Dimension | None,
            scope: Scope, as_of: date | None) -> Report:
    if name is ReportName.PAYMENT_SCHEDULE:
        return reporting.payment_schedule(session, provider=provider, as_of=_instant(as_of))
    if name is ReportName.EXPIRATIONS:
        return reporting.expirations(session, provider=provider, as_of=_instant(as_of))
    if name is ReportName.CALENDAR:
        return reporting.commitment_calendar(session, provider=provider, as_of=_instant(as_of))
    query = ReportQuery(start=start, end=end, granularity=granularity,
                        group_by=group_by or _DEFAULT_GROUP.get(name, Dimension.NONE),
                        scope=scope)
    return _PERIOD_REPORTS[name](session, query)


# --- budgets ------------------------------------------------------------------------------

budgets_app = typer.Typer(help="Budgets: an amount per period for a scope, and their status.",
                          no_args_is_help=True)


def _audit(session: Session, actor: str, event: str, budget: Budget) -> None:
    audit.append(session, actor=actor, event=event, subject=f"budget:{budget.id}",
                 reason=f"budget {budget.spec.name!r}", data=budget.to_dict())


@budgets_app.command("create")
def budgets_create(
    name: Annotated[str, typer.Argument(help="The budget's name (unique).")],
    amount: Annotated[float, typer.Option(help="The budget for one period, in its currency.")],
    currency: Annotated[str, typer.Option(
        help="The currency of the budget's billing data (another is refused).")] = "USD",
    period: Annotated[BudgetPeriod, typer.Option(help="month, quarter or year.")] = (
        BudgetPeriod.MONTH),
    basis: Annotated[BudgetBasis, typer.Option(help="amortized or cash.")] = (
        BudgetBasis.AMORTIZED),
    provider: ProviderFilter = None,
    account: Annotated[str | None, typer.Option(help="Only this billing scope.")] = None,
    tag_key: Annotated[str | None, typer.Option(help="With tag_value: only this tag.")] = None,
    tag_value: Annotated[str | None, typer.Option(help="The tag's value.")] = None,
    threshold: Annotated[list[float] | None, typer.Option(
        help="An alert share of the amount (0.8 = 80 %); repeat for several.")] = None,
    actor: ActorOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """Create a budget; refused when its currency is not its data's."""
    settings = settings_for(database_url)
    with handled():
        spec = BudgetSpec(name=name, amount=amount, period=period, basis=basis,
                          scope=Scope(provider=provider, account=account, tag_key=tag_key,
                                      tag_value=tag_value),
                          thresholds=tuple(threshold) if threshold else (0.8, 1.0),
                          currency=currency)
        engine = engine_for(settings)
        with session_scope(engine) as session:
            audit.lock_chain(session)
            budget = reporting.create_budget(session, spec)
            _audit(session, actor_name(actor), "budget.create", budget)
            budget_id = budget.id
        engine.dispose()
    console.print(f"Created budget {budget_id}: {spec.name}, {spec.amount:,.2f} {spec.currency} "
                  f"per {spec.period} ({spec.basis}).")


@budgets_app.command("update")
def budgets_update(
    budget_id: Annotated[int, typer.Argument(help="The budget's id (see `ladder budgets list`).")],
    amount: Annotated[float | None, typer.Option(help="A new amount.")] = None,
    currency: Annotated[str | None, typer.Option(help="A new currency (its data's).")] = None,
    actor: ActorOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """Change a budget's amount or currency; refused when the currency is not its data's."""
    settings = settings_for(database_url)
    with handled():
        engine = engine_for(settings)
        with session_scope(engine) as session:
            audit.lock_chain(session)
            budget = reporting.get_budget(session, budget_id)
            if budget is None:
                raise NotFound(f"no budget with id {budget_id}")
            changes: dict[str, Any] = {k: v for k, v in (("amount", amount),
                                                         ("currency", currency)) if v is not None}
            updated = reporting.update_budget(session, budget_id,
                                              dataclasses.replace(budget.spec, **changes))
            assert updated is not None  # read in this transaction
            _audit(session, actor_name(actor), "budget.update", updated)
        engine.dispose()
    console.print(f"Updated budget {budget_id}.")


@budgets_app.command("list")
def budgets_list(provider: ProviderFilter = None, database_url: DatabaseOption = None) -> None:
    """The budgets, by name."""
    settings = settings_for(database_url)
    with handled():
        engine = engine_for(settings)
        with session_scope(engine) as session:
            found = reporting.list_budgets(session, provider=provider, limit=10_000)
        engine.dispose()
    if not found:
        console.print("No budgets yet: `ladder budgets create NAME --amount N`.")
        return
    table = Table(box=box.SIMPLE_HEAD)
    for column in ("id", "name", "amount", "currency", "period", "basis", "scope"):
        table.add_column(column, justify="right" if column == "amount" else "left")
    for budget in found:
        spec = budget.spec
        scope = ", ".join(f"{k}={v}" for k, v in spec.scope.to_dict().items() if v) or "all"
        table.add_row(str(budget.id), spec.name, f"{spec.amount:,.2f}", spec.currency,
                      str(spec.period), str(spec.basis), scope)
    console.print(table)


@budgets_app.command("status")
def budgets_status(
    provider: ProviderFilter = None,
    as_of: DayOption = None,
    output: FormatOption = OutputFormat.TABLE,
    database_url: DatabaseOption = None,
) -> None:
    """Every budget's actual, forecast and state in its current period."""
    settings = settings_for(database_url)
    with handled():
        engine = engine_for(settings)
        with session_scope(engine) as session:
            statuses = reporting.budget_statuses(session, provider=provider,
                                                 as_of=_day(as_of, "as-of"))
        engine.dispose()
    if output is not OutputFormat.TABLE:
        typer.echo(json.dumps([s.to_dict() for s in statuses], indent=1, allow_nan=False))
        return
    table = Table(box=box.SIMPLE_HEAD)
    for column in ("budget", "period", "amount", "actual", "forecast", "state"):
        table.add_column(column, justify="right" if column in ("amount", "actual",
                                                               "forecast") else "left")
    for status in statuses:
        spec = status.budget.spec
        table.add_row(spec.name, status.period or "", f"{spec.amount:,.2f} {spec.currency}",
                      _cell(status.actual, True), _cell(status.forecast, True), status.state)
    console.print(table)
    for status in statuses:
        if status.problem:
            errors.print(f"[bold red]{status.budget.spec.name}:[/] {status.problem}",
                         soft_wrap=True)
    shown: set[str] = set()
    for status in statuses:
        if status.freshness is not None and status.freshness.warnings:
            for warning in status.freshness.warnings:
                if warning not in shown:
                    shown.add(warning)
                    console.print(f"[bold yellow]stale:[/] {warning}", soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add ``report`` and ``budgets`` to the CLI."""
    app.command("report")(report)
    app.add_typer(budgets_app, name="budgets")


__all__ = ["OutputFormat", "ReportName", "budgets_app", "print_report", "register", "report"]
