"""Finance on the whole bill from the shell: ``ladder reports …``, ``ladder metrics …`` and
``ladder spend-budgets …``.

The figures are ``reporting``'s, as ``/v1/reports/spend``, ``spend-forecast``, ``variance``
and ``unit-cost`` serve them; printed as a table, ``--format json`` or ``csv``. Spend
budgets' alerts go through the webhooks (``LADDER_WEBHOOK_URL``), each once per period and
threshold.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.table import Table
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from core.db.session import session_scope
from core.errors import NotFound
from executor import audit
from executor.notify import Notification, NotificationKind, WebhookNotifier, notify
from ladder.commands.common import (
    ActorOption,
    DatabaseOption,
    actor_name,
    console,
    engine_for,
    handled,
    settings_for,
)
from ladder.commands.reports import (
    DayOption,
    FormatOption,
    OutputFormat,
    ProviderFilter,
    _day,
    print_report,
)
from reporting.common import Report
from reporting.spend import (
    SpendBasis,
    SpendDimension,
    SpendGranularity,
    SpendQuery,
    SpendScope,
    spend,
)
from reporting.spend_budgets import (
    SpendBudget,
    SpendBudgetSpec,
    SpendBudgetStatus,
    VarianceQuery,
    create_spend_budget,
    delete_spend_budget,
    get_spend_budget,
    list_spend_budgets,
    spend_budget_statuses,
    spend_variance,
)
from reporting.spend_forecast import (
    ForecastHorizon,
    SpendForecastQuery,
    daily_spend_forecast,
    spend_forecast,
)
from reporting.unit_cost import UnitCostQuery, list_metrics, read_metrics_csv, store_metrics
from reporting.unit_cost import unit_cost as unit_cost_report

reports_app = typer.Typer(help="Reports on the whole bill: spend, spend forecast, variance, "
                          "unit cost.", no_args_is_help=True)
metrics_app = typer.Typer(help="Business metrics (unit economics).", no_args_is_help=True)
spend_budgets_app = typer.Typer(help="Budgets on the whole bill or a part of it.",
                                no_args_is_help=True)

BasisOption = Annotated[SpendBasis, typer.Option(
    help="cash (Σ BilledCost: purchases when billed) or amortized (Σ EffectiveCost).")]


def _scope(provider: str | None, account: str | None, service: str | None,
           service_category: str | None, region: str | None, charge_category: str | None,
           tag_key: str | None, tag_value: str | None, currency: str | None) -> SpendScope:
    return SpendScope(provider=provider, account=account, service=service,
                      service_category=service_category, region=region,
                      charge_category=charge_category, tag_key=tag_key, tag_value=tag_value,
                      currency=currency)


def _run(database_url: str | None, make: Callable[[Session, int], Report]) -> Report:
    """The report ``make`` builds from a session and the fiscal year's first month."""
    settings = settings_for(database_url)
    with handled():
        engine = engine_for(settings)
        with session_scope(engine) as session:
            found = make(session, settings.fiscal_year_start_month)
        engine.dispose()
    return found


AccountOpt = Annotated[str | None, typer.Option(help="Only this FOCUS SubAccountId.")]
ServiceOpt = Annotated[str | None, typer.Option(help="Only this FOCUS ServiceName.")]
CategoryOpt = Annotated[str | None, typer.Option(help="Only this FOCUS ServiceCategory.")]
RegionOpt = Annotated[str | None, typer.Option(help="Only this FOCUS RegionId.")]
ChargeOpt = Annotated[str | None, typer.Option(help="Only this FOCUS ChargeCategory.")]
TagKeyOpt = Annotated[str | None, typer.Option(help="A FOCUS tag (group-by tag, or with "
                                               "--tag-value).")]
TagValueOpt = Annotated[str | None, typer.Option(help="Only this value of --tag-key.")]
CurrencyOpt = Annotated[str | None, typer.Option(help="Only lines in this currency.")]
GroupOpt = Annotated[SpendDimension, typer.Option(help="none, provider, billing_account, "
                                                  "account, service_category, service, "
                                                  "region, charge_category, billing_period "
                                                  "(the invoice) or tag.")]


@reports_app.command("spend")
def spend_command(
    start: DayOption = None, end: DayOption = None,
    granularity: Annotated[SpendGranularity, typer.Option(
        help="day, week, month, quarter, year or total.")] = SpendGranularity.MONTH,
    group_by: GroupOpt = SpendDimension.NONE, basis: BasisOption = SpendBasis.AMORTIZED,
    provider: ProviderFilter = None, account: AccountOpt = None, service: ServiceOpt = None,
    service_category: CategoryOpt = None, region: RegionOpt = None,
    charge_category: ChargeOpt = None, tag_key: TagKeyOpt = None, tag_value: TagValueOpt = None,
    currency: CurrencyOpt = None, output: FormatOption = OutputFormat.TABLE,
    database_url: DatabaseOption = None,
) -> None:
    """Spend on the whole bill per period and group (every FOCUS row)."""
    scope = _scope(provider, account, service, service_category, region, charge_category,
                   tag_key, tag_value, currency)
    query = SpendQuery(start=_day(start, "start"), end=_day(end, "end"),
                       granularity=granularity, group_by=group_by, basis=basis, scope=scope)
    print_report(_run(database_url, lambda session, _fy: spend(session, query)), output)


@reports_app.command("spend-forecast")
def spend_forecast_command(
    horizon: Annotated[list[ForecastHorizon] | None, typer.Option(
        help="month, quarter or fiscal_year; repeat for several (default: all three).")] = None,
    as_of: DayOption = None, daily: Annotated[bool, typer.Option(
        help="One row per day instead of per horizon.")] = False,
    group_by: GroupOpt = SpendDimension.NONE, basis: BasisOption = SpendBasis.AMORTIZED,
    provider: ProviderFilter = None, account: AccountOpt = None, service: ServiceOpt = None,
    service_category: CategoryOpt = None, region: RegionOpt = None,
    charge_category: ChargeOpt = None, tag_key: TagKeyOpt = None, tag_value: TagValueOpt = None,
    currency: CurrencyOpt = None, output: FormatOption = OutputFormat.TABLE,
    database_url: DatabaseOption = None,
) -> None:
    """Spend forecast to the end of the month, quarter and fiscal year, with intervals."""
    scope = _scope(provider, account, service, service_category, region, charge_category,
                   tag_key, tag_value, currency)

    def make(session: Session, fiscal: int) -> Report:
        query = SpendForecastQuery(scope=scope, basis=basis,
                                   horizons=tuple(horizon or ForecastHorizon),
                                   as_of=_day(as_of, "as-of"), group_by=group_by,
                                   fiscal_year_start_month=fiscal)
        return daily_spend_forecast(session, query) if daily else spend_forecast(session, query)

    print_report(_run(database_url, make), output)


@reports_app.command("variance")
def variance_command(
    as_of: DayOption = None,
    group_by: Annotated[SpendDimension, typer.Option(
        help="What the movers are told by (service, account, tag…).")] = SpendDimension.SERVICE,
    top: Annotated[int, typer.Option(min=1, max=100, help="Movers shown.")] = 10,
    basis: BasisOption = SpendBasis.AMORTIZED,
    provider: ProviderFilter = None, account: AccountOpt = None, service: ServiceOpt = None,
    service_category: CategoryOpt = None, region: RegionOpt = None,
    charge_category: ChargeOpt = None, tag_key: TagKeyOpt = None, tag_value: TagValueOpt = None,
    currency: CurrencyOpt = None, output: FormatOption = OutputFormat.TABLE,
    database_url: DatabaseOption = None,
) -> None:
    """Monthly variance: budgets vs actual vs forecast, and the top movers."""
    scope = _scope(provider, account, service, service_category, region, charge_category,
                   tag_key, tag_value, currency)
    query = VarianceQuery(scope=scope, basis=basis, group_by=group_by, top=top,
                          as_of=_day(as_of, "as-of"))
    print_report(_run(database_url, lambda session, _fy: spend_variance(session, query)),
                 output)


@reports_app.command("unit-cost")
def unit_cost_command(
    metric: Annotated[str, typer.Argument(help="The business metric's name.")],
    scope: Annotated[str, typer.Option(help="The metric's scope as stored ('' for the whole "
                                       "bill, account=…, tag:KEY=VALUE…).")] = "",
    per: Annotated[float, typer.Option(help="Units the cost is per (1000: per 1,000).")] = 1.0,
    start: DayOption = None, end: DayOption = None,
    granularity: Annotated[SpendGranularity, typer.Option(
        help="day, week, month, quarter, year or total.")] = SpendGranularity.MONTH,
    basis: BasisOption = SpendBasis.AMORTIZED, currency: CurrencyOpt = None,
    output: FormatOption = OutputFormat.TABLE, database_url: DatabaseOption = None,
) -> None:
    """Cost per unit of a business metric, its trend and the share commitments saved."""
    query = UnitCostQuery(metric=metric, scope=scope, start=_day(start, "start"),
                          end=_day(end, "end"), granularity=granularity, basis=basis, per=per,
                          currency=currency)
    print_report(_run(database_url, lambda session, _fy: unit_cost_report(session, query)),
                 output)


# --- metrics ------------------------------------------------------------------------------


@metrics_app.command("ingest")
def metrics_ingest(
    path: Annotated[Path, typer.Argument(help="A CSV: date,metric,value[,scope].")],
    actor: ActorOption = None, database_url: DatabaseOption = None,
) -> None:
    """Store a metrics file: every row, or none (each bad row named with its number)."""
    settings = settings_for(database_url)
    with handled():
        points = read_metrics_csv(path)
        engine = engine_for(settings)
        with session_scope(engine) as session:
            stored = store_metrics(session, points, source=str(path))
            audit.lock_chain(session)
            audit.append(session, actor=actor_name(actor), event="metrics.store",
                         subject="business_metrics", reason=f"{stored} values from {path}",
                         data={"metrics": sorted({p.metric for p in points}),
                               "values": stored, "source": str(path)})
        engine.dispose()
    console.print(f"Stored {stored} metric value{'s' * (stored != 1)} from {path}.")


@metrics_app.command("list")
def metrics_list(database_url: DatabaseOption = None) -> None:
    """The stored metrics, per scope."""
    settings = settings_for(database_url)
    with handled():
        engine = engine_for(settings)
        with session_scope(engine) as session:
            found = list_metrics(session)
        engine.dispose()
    table = Table(box=box.SIMPLE_HEAD)
    for column in ("metric", "scope", "days", "first", "last", "total"):
        table.add_column(column)
    for series in found:
        table.add_row(series.metric, series.scope or "(whole bill)", str(series.points),
                      series.first_day.isoformat(), series.last_day.isoformat(),
                      f"{series.total:,.6g}")
    console.print(table)


# --- spend budgets ------------------------------------------------------------------------


def _audit_budget(session: Session, actor: str, event: str, budget: SpendBudget) -> None:
    audit.append(session, actor=actor, event=event, subject=f"spend_budget:{budget.id}",
                 reason=f"spend budget {budget.spec.name!r}", data=budget.to_dict())


@spend_budgets_app.command("create")
def spend_budgets_create(
    name: Annotated[str, typer.Argument(help="The budget's name (unique).")],
    amount: Annotated[float, typer.Option(help="The budget for one period.")],
    period: Annotated[ForecastHorizon, typer.Option(
        help="month, quarter or fiscal_year.")] = ForecastHorizon.MONTH,
    basis: BasisOption = SpendBasis.AMORTIZED,
    currency: Annotated[str, typer.Option(help="The bill's currency.")] = "USD",
    provider: ProviderFilter = None, account: AccountOpt = None, service: ServiceOpt = None,
    service_category: CategoryOpt = None, region: RegionOpt = None,
    charge_category: ChargeOpt = None, tag_key: TagKeyOpt = None, tag_value: TagValueOpt = None,
    threshold: Annotated[list[float] | None, typer.Option(
        help="An alert share of the amount (0.8 = 80 %); repeat for several.")] = None,
    actor: ActorOption = None, database_url: DatabaseOption = None,
) -> None:
    """Create a budget on the whole bill or a part of it."""
    settings = settings_for(database_url)
    with handled():
        spec = SpendBudgetSpec(
            name=name, amount=amount, period=period, basis=basis, currency=currency,
            scope=_scope(provider, account, service, service_category, region,
                         charge_category, tag_key, tag_value, None),
            thresholds=tuple(threshold) if threshold else (0.8, 1.0))
        engine = engine_for(settings)
        with session_scope(engine) as session:
            audit.lock_chain(session)
            budget = create_spend_budget(session, spec)
            _audit_budget(session, actor_name(actor), "spend_budget.create", budget)
            budget_id = budget.id
        engine.dispose()
    console.print(f"Created spend budget {budget_id}: {spec.name}, {spec.amount:,.2f} "
                  f"{spec.currency} per {spec.period} ({spec.basis}).")


@spend_budgets_app.command("delete")
def spend_budgets_delete(
    budget_id: Annotated[int, typer.Argument(help="The spend budget's id.")],
    actor: ActorOption = None, database_url: DatabaseOption = None,
) -> None:
    """Delete a spend budget."""
    settings = settings_for(database_url)
    with handled():
        engine = engine_for(settings)
        with session_scope(engine) as session:
            audit.lock_chain(session)
            budget = get_spend_budget(session, budget_id)
            if budget is None:
                raise NotFound(f"no spend budget with id {budget_id}")
            delete_spend_budget(session, budget_id)
            _audit_budget(session, actor_name(actor), "spend_budget.delete", budget)
        engine.dispose()
    console.print(f"Deleted spend budget {budget_id}.")


def _statuses(database_url: str | None, as_of: str | None,
              ) -> tuple[list[SpendBudgetStatus], Engine]:
    settings = settings_for(database_url)
    with handled():
        engine = engine_for(settings)
        with session_scope(engine) as session:
            found = spend_budget_statuses(session, as_of=_day(as_of, "as-of"),
                                          fiscal_year_start_month=settings
                                          .fiscal_year_start_month)
    return found, engine


@spend_budgets_app.command("list")
def spend_budgets_list(database_url: DatabaseOption = None) -> None:
    """The spend budgets, by name."""
    settings = settings_for(database_url)
    with handled():
        engine = engine_for(settings)
        with session_scope(engine) as session:
            found = list_spend_budgets(session, limit=10_000)
        engine.dispose()
    table = Table(box=box.SIMPLE_HEAD)
    for column in ("id", "name", "amount", "period", "basis", "scope"):
        table.add_column(column)
    for budget in found:
        spec = budget.spec
        scope = ", ".join(f"{k}={v}" for k, v in spec.scope.to_dict().items() if v) or "all"
        table.add_row(str(budget.id), spec.name, f"{spec.amount:,.2f} {spec.currency}",
                      str(spec.period), str(spec.basis), scope)
    console.print(table)


@spend_budgets_app.command("status")
def spend_budgets_status(as_of: DayOption = None, output: FormatOption = OutputFormat.TABLE,
                         database_url: DatabaseOption = None) -> None:
    """Each spend budget's actual, forecast with its 80 % interval, burn and run-out date."""
    found, engine = _statuses(database_url, as_of)
    engine.dispose()
    if output is not OutputFormat.TABLE:
        typer.echo(json.dumps([s.to_dict() for s in found], indent=1, allow_nan=False))
        return
    table = Table(box=box.SIMPLE_HEAD)
    for column in ("budget", "period", "amount", "actual", "forecast", "80 %", "burn/day",
                   "runs out", "state"):
        table.add_column(column)
    for status in found:
        spec = status.budget.spec
        interval = "" if status.forecast_low_80 is None else \
            f"{status.forecast_low_80:,.2f}–{status.forecast_high_80:,.2f}"
        table.add_row(spec.name, status.period or "", f"{spec.amount:,.2f} {spec.currency}",
                      "" if status.actual is None else f"{status.actual:,.2f}",
                      "" if status.forecast is None else f"{status.forecast:,.2f}", interval,
                      "" if status.burn_rate is None else f"{status.burn_rate:,.2f}",
                      status.run_out_date.isoformat() if status.run_out_date else "",
                      status.state if not status.problem else f"{status.state}: "
                      f"{status.problem}")
    console.print(table)


def budget_alerts(status: SpendBudgetStatus) -> list[Notification]:
    """A notification per threshold the budget's actual (or forecast) spend reached, keyed
    so that each is sent once per period."""
    spec = status.budget.spec
    found = []
    for threshold in status.thresholds:
        for reached, what in ((threshold.reached, "reached"),
                              (threshold.forecast_reached and not threshold.reached,
                               "forecast")):
            if not reached:
                continue
            key = (f"spend_budget:{status.budget.id}:{status.period}:{threshold.threshold:g}"
                   f":{what}")
            title = (f"Spend budget {spec.name!r}: {threshold.threshold:.0%} "
                     f"{'reached' if what == 'reached' else 'forecast to be reached'}")
            text = (f"{status.period}: actual {status.actual:,.2f}, forecast "
                    f"{status.forecast:,.2f} {spec.currency} of {spec.amount:,.2f}"
                    + (f"; runs out {status.run_out_date}" if status.run_out_date else ""))
            found.append(Notification(
                NotificationKind.BUDGET_THRESHOLD, key, spec.scope.provider or "all",
                "all", title, text,
                (("Actual", f"{status.actual:,.2f}"), ("Forecast", f"{status.forecast:,.2f}"),
                 ("Budget", f"{spec.amount:,.2f} {spec.currency}"),
                 ("State", status.state))))
    return found


@spend_budgets_app.command("alert")
def spend_budgets_alert(as_of: DayOption = None, database_url: DatabaseOption = None) -> None:
    """Send each threshold reached (or forecast to be) through the webhooks, once per
    period (LADDER_WEBHOOK_URL)."""
    settings = settings_for(database_url)
    found, engine = _statuses(database_url, as_of)
    notifier = WebhookNotifier([settings.webhook_url])
    sent: dict[str, int] = {}
    with handled():
        for status in found:
            for notification in budget_alerts(status):
                outcome = notify(engine, notifier, notification)
                sent[outcome] = sent.get(outcome, 0) + 1
    engine.dispose()
    console.print("Budget alerts: " + (", ".join(f"{n} {k}" for k, n in sorted(sent.items()))
                                       or "none due") + ".")


def register(app: typer.Typer) -> None:
    """Add ``reports``, ``metrics`` and ``spend-budgets`` to the CLI."""
    app.add_typer(reports_app, name="reports")
    app.add_typer(metrics_app, name="metrics")
    app.add_typer(spend_budgets_app, name="spend-budgets")


__all__ = ["budget_alerts", "metrics_app", "register", "reports_app", "spend_budgets_app"]
