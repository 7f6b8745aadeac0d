"""The pages' contents, from the same services the ``/v1`` routes call.

Each builder takes the request's session and parameters and returns a
:class:`~dashboard.figures.Page`: figures (each naming the ``/v1`` request and
JSON field that serve it), tables (rendered as HTML and CSV from the same rows)
and charts. Nothing here computes a figure: every number is a field of a report,
a plan, a budget status, a run or an audit entry as the API returns it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy.orm import Session

from api.audit import service as audit_service
from api.audit.repository import AuditFilter
from api.budgets import service as budgets_service
from api.commitments import service as commitments_service
from api.commitments.repository import CommitmentFilter
from api.params import Period
from api.plans import service as plans_service
from api.plans.repository import PlanFilter
from api.reports import service as reports_service
from api.reports.routes import MAX_ROWS as MAX_REPORT_ROWS
from api.reports.service import ExpiryWindow
from api.runs import service as runs_service
from api.runs.repository import RunFilter
from core.errors import LadderError
from dashboard.figures import Chart, Column, Figure, Kind, Page, Series, Table, source
from dashboard.periods import PeriodLength, Window, to_date
from reporting import DEFINITIONS, Granularity, Report, Scope
from reporting.repository import latest_snapshots
from reporting.snapshot import snapshot_info

ESR_DEFINITION = ("Effective Savings Rate = realised savings ÷ on-demand equivalent "
                  "(DESIGN.md, Money): what the commitments saved, as a share of what the "
                  "usage would have cost at on-demand prices.")
LIST_LIMIT = 500
"""Rows a list page shows (the API's largest page)."""
ALL_ROWS = MAX_REPORT_ROWS
"""The reports' largest page: every report source names it, so that a table's row ``i`` is
``rows.i`` of its source however many rows (days, commitments) the report has; the API's
default page (100 rows) would end a year-to-date day-by-day table at its 100th day."""
EXPIRY_MONTHS = 3
"""The overview's upcoming expiries: within this many months after the period."""
NO_DATA = ("No reporting data yet. Load usage with `ladder ingest FILE` (or run "
           "`ladder optimize` on the bundled sample), then reload this page.")
K = Kind


@dataclass(frozen=True, slots=True)
class DataSpan:
    """Which providers have reporting data, and the last day of it."""

    providers: tuple[str, ...]
    provider: str | None
    """The provider asked for if it has data, else None (all)."""
    last_day: date | None
    currency: str


def data_span(session: Session, provider: str | None) -> DataSpan:
    """The providers with a reporting snapshot and the last day of their data (UTC)."""
    # The snapshots themselves, not snapshot_status: that also hashes the inventory.
    snapshots = [snapshot_info(row) for row in latest_snapshots(session)]
    providers = tuple(sorted({snapshot.provider for snapshot in snapshots}))
    if provider not in providers:
        provider = None
    chosen = [s for s in snapshots if provider is None or s.provider == provider]
    if not chosen:
        return DataSpan(providers, provider, None, "USD")
    end = max(snapshot.end for snapshot in chosen)
    return DataSpan(providers, provider, (end - timedelta(microseconds=1)).date(),
                    chosen[0].currency)


def _row_value(report: Report | None, column: str, index: int = 0) -> float | None:
    if report is None or len(report.frame) <= index:
        return None
    value = report.frame[column].iloc[index]
    return None if value is None or value != value else float(value)


def _total(report: Report | None, column: str) -> float | None:
    return None if report is None else report.totals().get(column)


@dataclass(frozen=True, slots=True)
class ReportCall:
    """A period report asked for as the ``/v1/reports`` route would be: the report and the
    route's path and query."""

    report: Report | None
    source: str
    problem: str | None


def period_report(session: Session, name: str, window: Window, granularity: Granularity, *,
                  provider: str | None, group_by: str | None = None,
                  tag_key: str | None = None) -> ReportCall:
    """One report over the window through the API's report service, and its ``/v1`` source.

    ``group_by`` None is the route's default (none; the waste route has no such
    parameter). A report that cannot be made (no data, mixed currencies) is None
    with the reason.
    """
    grouping = group_by or ("commitment" if name == "waste" else "none")
    path = source(f"/v1/reports/{name}", start=window.start, end=window.end,
                  granularity=granularity.value, group_by=group_by, provider=provider,
                  tag_key=tag_key, limit=ALL_ROWS)
    try:
        query = reports_service.query(Period(window.start, window.end), granularity, grouping,
                                      Scope(provider=provider, tag_key=tag_key))
        return ReportCall(reports_service.period_report(session, name, query), path, None)
    except LadderError as exc:
        return ReportCall(None, path, str(exc))


def _money_figure(name: str, label: str, call: ReportCall, column: str,
                  currency: str) -> Figure:
    return Figure(name=name, label=label, value=_total(call.report, column), kind=K.MONEY,
                  source=call.source, field=f"totals.{column}", currency=currency,
                  definition=DEFINITIONS.get(column))


def _ratio_figure(name: str, label: str, call: ReportCall, column: str,
                  definition: str | None = None) -> Figure:
    return Figure(name=name, label=label, value=_row_value(call.report, column), kind=K.RATIO,
                  source=call.source, field=f"rows.0.{column}",
                  definition=definition or DEFINITIONS.get(column))


def rows_of(report: Report | None) -> list[dict[str, Any]]:
    """A report's rows as the API's JSON makes them (``api.reports.service.page_rows``)."""
    return [] if report is None else reports_service.page_rows(report, 0, len(report.frame))


def sourced(key: str, label: str, kind: Kind, at: str = "rows") -> Column:
    """A column whose cells are figures: row ``i``'s ``key`` at ``at.i.key`` in the source."""
    return Column(key, label, kind, field=f"{at}.{{i}}.{key}")


def _by_period(call: ReportCall, column: str) -> dict[str, float | None]:
    return {row["period"]: row[column] for row in rows_of(call.report)}


def period_page(session: Session, title: str, *, provider: str | None, length: PeriodLength,
                last_day: date | None, span: DataSpan | None = None, empty: str = NO_DATA,
                **context: Any) -> tuple[Page, DataSpan, Window | None]:
    """A page over a period to date, the providers' data span, and the window: the period
    ``length`` to ``last_day`` (the data's last day by default); no window, and the page
    saying ``empty``, when there is no data. The span is the reporting snapshots' unless
    one is given (the whole bill's pages give the bill's)."""
    span = span or data_span(session, provider)
    page = Page(title=title, context={"span": span, "provider": span.provider,
                                      "length": length, **context})
    if span.last_day is None:
        page.context["empty"] = empty
        return page, span, None
    window = to_date(length, last_day or span.last_day)
    page.context["window"] = window
    return page, span, window


# --- overview ---------------------------------------------------------------------------


def overview(session: Session, *, provider: str | None, length: PeriodLength,
             last_day: date | None) -> Page:
    """Realised savings, ESR, coverage, utilisation, waste and upcoming expiries for a period
    to date, with daily charts and each commitment's cost."""
    page, span, window = period_page(session, "Overview", provider=provider, length=length,
                                     last_day=last_day)
    if window is None:
        return page
    provider = span.provider
    currency = span.currency
    savings = period_report(session, "savings", window, Granularity.TOTAL, provider=provider)
    coverage = period_report(session, "coverage", window, Granularity.TOTAL, provider=provider)
    use = period_report(session, "utilisation", window, Granularity.TOTAL, provider=provider)
    waste = period_report(session, "waste", window, Granularity.TOTAL, provider=provider)
    problems = [c.problem for c in (savings, coverage, use, waste) if c.problem]
    page.context["problems"] = sorted(set(problems))
    if savings.report is not None:
        currency = savings.report.currency
        page.context["freshness"] = savings.report.fresh_fields()
    page.add(_money_figure("realised_savings", "Realised savings", savings, "realised_savings",
                           currency))
    page.add(_ratio_figure("esr", "Effective Savings Rate", savings, "esr_billing",
                           ESR_DEFINITION))
    page.add(_ratio_figure("coverage", "Coverage", coverage, "coverage"))
    page.add(_ratio_figure("utilisation", "Utilisation", use, "utilisation"))
    page.add(_money_figure("waste", "Waste (unused commitment)", waste, "unused_cost",
                           currency))
    page.add(_money_figure("on_demand_equivalent", "On-demand equivalent", savings,
                           "on_demand_equivalent", currency))
    page.add(_money_figure("amortized_cost", "Amortized cost", savings, "amortized_cost",
                           currency))
    _expiries(session, page, window, provider, currency)
    _daily_charts(session, page, window, provider, currency)
    _commitment_chart(page, waste, currency)
    return page


def _expiries(session: Session, page: Page, window: Window, provider: str | None,
              currency: str) -> None:
    path = source("/v1/reports/expirations", provider=provider, as_of=window.end,
                  months=EXPIRY_MONTHS, limit=ALL_ROWS)
    try:
        report: Report | None = reports_service.expirations(
            session, ExpiryWindow(provider=provider, as_of=window.end, months=EXPIRY_MONTHS))
    except LadderError:
        report = None
    page.add(Figure(name="expiring_commitments",
                    label=f"Commitments expiring in the {EXPIRY_MONTHS} months after "
                    f"{window.last_day:%d %b %Y}",
                    value=None if report is None else len(report.frame), kind=K.COUNT,
                    source=path, field="total_rows"))
    page.add(Figure(name="expiring_net_increase", label="Monthly bill increase if they lapse",
                    value=_total(report, "net_increase_monthly"), kind=K.MONEY, source=path,
                    field="totals.net_increase_monthly", currency=currency,
                    definition=DEFINITIONS.get("net_increase_monthly")))
    rows = rows_of(report)
    page.table(Table(
        name="expiries", title="Upcoming expiries", currency=currency, source=path, rows=rows,
        columns=(Column("commitment_id", "Commitment"), Column("offering_id", "Offering"),
                 Column("expires_at", "Expires", K.DATE),
                 sourced("quantity", "Quantity", K.NUMBER),
                 sourced("on_demand_exposure_monthly", "On-demand exposure / month", K.MONEY),
                 sourced("commitment_cost_monthly", "Commitment cost / month", K.MONEY),
                 sourced("net_increase_monthly", "Net increase / month", K.MONEY)),
        empty=f"Nothing expires in the {EXPIRY_MONTHS} months after {window.last_day:%d %b %Y}"
              ". The commitments page shows the whole calendar."))


def _daily_charts(session: Session, page: Page, window: Window, provider: str | None,
                  currency: str) -> None:
    savings = period_report(session, "savings", window, Granularity.DAY, provider=provider)
    coverage = period_report(session, "coverage", window, Granularity.DAY, provider=provider)
    use = period_report(session, "utilisation", window, Granularity.DAY, provider=provider)
    rows = rows_of(savings.report)
    covered = _by_period(coverage, "coverage")
    used = _by_period(use, "utilisation")
    days = [row["period"] for row in rows]
    page.charts.append(Chart(
        name="daily_savings", title="Realised savings per day", type="bar", labels=days,
        series=[Series("Realised savings", [row["realised_savings"] for row in rows])],
        source=savings.source, currency=currency, table="daily"))
    page.charts.append(Chart(
        name="coverage_utilisation", title="Coverage and utilisation per day", type="line",
        labels=days, series=[Series("Coverage", [covered.get(d) for d in days], K.RATIO),
                             Series("Utilisation", [used.get(d) for d in days], K.RATIO)],
        source=f"{coverage.source} · {use.source}", currency=currency, table="daily"))
    daily = [{"period": row["period"], "on_demand_equivalent": row["on_demand_equivalent"],
              "amortized_cost": row["amortized_cost"],
              "realised_savings": row["realised_savings"], "esr_billing": row["esr_billing"],
              "coverage": covered.get(row["period"]), "utilisation": used.get(row["period"])}
             for row in rows]
    page.table(Table(
        name="daily", title="Day by day", currency=currency, source=savings.source, rows=daily,
        columns=(Column("period", "Day", K.DATE),
                 sourced("on_demand_equivalent", "On-demand equivalent", K.MONEY),
                 sourced("amortized_cost", "Amortized cost", K.MONEY),
                 sourced("realised_savings", "Realised savings", K.MONEY),
                 sourced("esr_billing", "ESR", K.RATIO),
                 Column("coverage", "Coverage", K.RATIO), Column("utilisation", "Utilisation",
                                                                 K.RATIO)),
        note=f"Coverage from {coverage.source}; utilisation from {use.source}.",
        empty="No usage in this period: pick another period, or ingest newer billing data."))


def _commitment_chart(page: Page, waste: ReportCall, currency: str) -> None:
    rows = rows_of(waste.report)
    labels = [f"{row['commitment_id']} ({row['shape']})" for row in rows]
    page.charts.append(Chart(
        name="commitment_cost", title="Commitment cost by commitment and type (used / unused)",
        type="bar", labels=labels, stacked=True, currency=currency, source=waste.source,
        series=[Series("Used", [row["used_cost"] for row in rows]),
                Series("Unused (waste)", [row["unused_cost"] for row in rows])],
        table="commitment_cost"))
    page.table(Table(
        name="commitment_cost", title="Commitment cost in the period", currency=currency,
        source=waste.source, rows=rows,
        columns=(Column("commitment_id", "Commitment"), Column("offering_id", "Offering"),
                 Column("shape", "Type"),
                 sourced("commitment_cost", "Cost", K.MONEY),
                 sourced("used_cost", "Used", K.MONEY),
                 sourced("unused_cost", "Unused (waste)", K.MONEY),
                 sourced("utilisation", "Utilisation", K.RATIO)),
        empty="No commitment was active in this period. Plans propose purchases: see Plans."))


# --- plans ------------------------------------------------------------------------------


PLAN_COLUMNS = (
    Column("id", "Plan", K.TEXT, link="/plans/{value}"),
    Column("provider", "Provider"), Column("scope", "Scope"), Column("status", "Status"),
    Column("created_at", "Created", K.DATETIME),
    sourced("expected_savings", "Expected savings", K.MONEY, "items"),
    sourced("upfront_cash", "Upfront", K.MONEY, "items"),
    sourced("monthly_commitment", "Monthly commitment", K.MONEY, "items"),
    sourced("esr_before", "ESR before", K.RATIO, "items"),
    sourced("esr_after", "ESR after", K.RATIO, "items"),
    sourced("actions_count", "Actions", K.COUNT, "items"),
)


def plans(session: Session) -> Page:
    """The plans, newest first, and how many await a decision."""
    page = Page(title="Plans")
    items, _total_count = plans_service.list_plans(session, PlanFilter(), limit=LIST_LIMIT,
                                                   offset=0)
    _, waiting = plans_service.list_plans(session, PlanFilter(status="proposed"), limit=1,
                                          offset=0)
    page.add(Figure(name="plans_proposed", label="Plans awaiting a decision", value=waiting,
                    kind=K.COUNT, source=source("/v1/plans", status="proposed"),
                    field="total"))
    page.table(Table(
        name="plans", title="Plans, newest first", columns=PLAN_COLUMNS,
        source=source("/v1/plans", limit=LIST_LIMIT),
        rows=[item.model_dump(mode="json") for item in items],
        empty="No plans yet. `ladder optimize` (or `ladder run`) stores one."))
    return page


def _detail(details: dict[str, Any], name: str) -> float | None:
    value = details.get(name)
    return float(value) if isinstance(value, int | float) else None


PLAN_FIGURES = (
    ("expected_savings", "Expected savings over the window", K.MONEY),
    ("upfront_cash", "Upfront cost", K.MONEY),
    ("monthly_commitment", "Monthly commitment", K.MONEY),
    ("cost_before", "Amortized cost without the plan", K.MONEY),
    ("cost_after", "Amortized cost with the plan", K.MONEY),
    ("on_demand_equivalent", "On-demand equivalent", K.MONEY),
    ("esr_before", "ESR before", K.RATIO),
    ("esr_after", "ESR after", K.RATIO),
)
EXPLAINED = "details.actions"
"""Where a plan's JSON explains each action (its risk figures)."""
PLAN_DETAILS = (
    ("certified_gap", "LP's certified gap", K.RATIO,
     "The LP's lower bound against the billed price of the plan: the plan costs at most this "
     "much more than the best plan the model admits."),
    ("loss_before_cvar", "Bad-scenario cost over on-demand, without the plan (CVaR)", K.MONEY,
     "Conditional value at risk of (amortized cost − on-demand equivalent) over the forecast "
     "scenarios without the plan: negative means it still saves in the bad scenarios."),
    ("loss_after_cvar", "Bad-scenario cost over on-demand, with the plan (CVaR)", K.MONEY,
     "The same with the plan: lower is safer."),
    ("cvar_alpha", "CVaR level", K.RATIO, "The share of scenarios the CVaR averages over."),
)


def plan(session: Session, plan_id: int) -> Page | None:
    """One plan: its figures and risk, every action with its reason; None when missing."""
    found = plans_service.get_plan(session, plan_id)
    if found is None:
        return None
    body = found.model_dump(mode="json")
    path = f"/v1/plans/{plan_id}"
    page = Page(title=f"Plan {plan_id}", context={"plan": body})
    for name, label, kind in PLAN_FIGURES:
        page.add(Figure(name=name, label=label, value=body[name], kind=kind, source=path,
                        field=name))
    details = body["details"]
    for name, label, kind, definition in PLAN_DETAILS:
        value = _detail(details, name)
        if value is not None:
            page.add(Figure(name=name, label=label, value=value, kind=kind,
                            source=path, field=f"details.{name}", definition=definition))
    explained = details.get("actions") if isinstance(details.get("actions"), list) else []
    rows = []
    for index, action in enumerate(body["actions"]):
        extra = explained[index] if index < len(explained) and isinstance(
            explained[index], dict) else {}
        rows.append({**action, "savings_median": extra.get("savings_median"),
                     "savings_bad": extra.get("savings_bad"),
                     "expected_utilisation": extra.get("expected_utilisation"),
                     "break_even_month": extra.get("break_even_month")})
    page.table(Table(
        name="actions", title="Actions", source=path, rows=rows,
        columns=(Column("position", "#", K.COUNT), Column("kind", "Action"),
                 Column("offering_id", "Offering"),
                 sourced("quantity", "Quantity", K.NUMBER, "actions"),
                 sourced("upfront_cost", "Upfront", K.MONEY, "actions"),
                 sourced("hourly_cost", "Recurring / hour", K.MONEY, "actions"),
                 sourced("amortized_hourly_cost", "Amortized / hour", K.MONEY, "actions"),
                 sourced("savings_median", "Expected savings (median)", K.MONEY, EXPLAINED),
                 sourced("savings_bad", "Savings in a bad scenario", K.MONEY, EXPLAINED),
                 sourced("expected_utilisation", "Expected utilisation", K.RATIO, EXPLAINED),
                 Column("status", "Status"), Column("reason", "Why", wide=True)),
        empty="This plan buys nothing: the current portfolio is already the cheapest safe "
              "one."))
    return page


# --- commitments ------------------------------------------------------------------------


def commitments(session: Session) -> Page:
    """The inventory with each commitment's utilisation over the data, and the expiry
    calendar."""
    page = Page(title="Commitments")
    items, total = commitments_service.list_commitments(session, CommitmentFilter(),
                                                        limit=LIST_LIMIT, offset=0)
    inventory = source("/v1/commitments", limit=LIST_LIMIT)
    page.add(Figure(name="commitments", label="Commitments stored", value=total, kind=K.COUNT,
                    source=inventory, field="total"))
    waste_path = source("/v1/reports/waste", granularity="total", limit=ALL_ROWS)
    try:
        waste = reports_service.period_report(session, "waste", reports_service.query(
            Period(None, None), Granularity.TOTAL, "commitment", Scope()))
        used = {row["commitment_id"]: row["utilisation"] for row in rows_of(waste)}
    except LadderError:
        used = {}
    rows = []
    for item in items:
        row = item.model_dump(mode="json")
        row["term"] = f"{item.term_hours / 8760:g} y" if item.term_hours % 8760 == 0 else (
            f"{item.term_hours:,} h")
        row["utilisation"] = used.get(item.commitment_id)
        rows.append(row)
    page.table(Table(
        name="inventory", title="Inventory", source=inventory, rows=rows,
        note=f"Utilisation over all the reporting data, from {waste_path}.",
        columns=(Column("commitment_id", "Commitment"), Column("provider", "Provider"),
                 Column("kind", "Type"), Column("shape", "Shape"), Column("term", "Term"),
                 Column("payment_option", "Payment"),
                 sourced("quantity", "Quantity", K.NUMBER, "items"),
                 Column("start_at", "Start", K.DATE), Column("end_at", "End", K.DATE),
                 sourced("upfront_cost", "Upfront", K.MONEY, "items"),
                 sourced("hourly_cost", "Recurring / hour", K.MONEY, "items"),
                 Column("utilisation", "Utilisation", K.RATIO)),
        empty="No commitments stored. `ladder optimize` reads the provider's inventory; "
              "approved plans add what they buy."))
    _calendar(session, page)
    return page


def _calendar(session: Session, page: Page) -> None:
    path = source("/v1/reports/calendar", limit=ALL_ROWS)
    try:
        report: Report | None = reports_service.calendar(session, ExpiryWindow())
    except LadderError:
        report = None
    rows = rows_of(report)
    page.context["calendar"] = calendar_months(rows)
    page.table(Table(
        name="calendar", title="Expiry calendar", source=path, rows=rows,
        columns=(Column("period", "Month"),
                 sourced("commitments", "Commitments expiring", K.COUNT),
                 sourced("on_demand_exposure_monthly", "On-demand exposure / month", K.MONEY),
                 sourced("commitment_cost_monthly", "Commitment cost / month", K.MONEY),
                 sourced("net_increase_monthly", "Net increase / month", K.MONEY)),
        empty="No commitment expires after the end of the data."))


def _as_date(value: date | str) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value


def calendar_months(rows: Sequence[dict[str, Any]], limit: int = 36) -> list[dict[str, Any]]:
    """Every month from the first expiry to the last (at most ``limit``), each with its row of
    the calendar report or None: the calendar grid shows the quiet months too."""
    if not rows:
        return []
    found = {row["period"]: row for row in rows}
    first, last = _as_date(rows[0]["period_start"]), _as_date(rows[-1]["period_start"])
    months: list[dict[str, Any]] = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month) and len(months) < limit:
        label = f"{year:04d}-{month:02d}"
        months.append({"label": label, "name": date(year, month, 1).strftime("%b %Y"),
                       "row": found.get(label)})
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


# --- budgets ----------------------------------------------------------------------------


def budgets(session: Session) -> Page:
    """Every budget against its actual and forecast to the end of its period."""
    page = Page(title="Budgets")
    path = source("/v1/reports/budgets", limit=LIST_LIMIT)
    try:
        statuses = budgets_service.budget_statuses(session, provider=None, as_of=None)
    except LadderError as exc:
        statuses = []
        page.context["problems"] = [str(exc)]
    rows = []
    for status in statuses:
        row = status.model_dump(mode="json")
        row["name"] = status.budget.name
        row["amount"] = status.budget.amount
        row["basis"] = status.budget.basis
        # The API's ends are exclusive; finance reads the last day included.
        row["actual_through"] = _day_before(status.as_of)
        row["period_last_day"] = _day_before(status.period_end)
        rows.append(row)
    currency = statuses[0].currency if statuses else "USD"
    page.table(Table(
        name="budgets", title="Budgets in their current period", source=path, rows=rows,
        currency=currency,
        columns=(Column("name", "Budget"), Column("period", "Period"),
                 Column("period_start", "From", K.DATE),
                 Column("actual_through", "Actual through", K.DATE),
                 Column("basis", "Basis"),
                 Column("amount", "Amount", K.MONEY, field="items.{i}.budget.amount"),
                 sourced("actual", "Actual", K.MONEY, "items"),
                 sourced("forecast", "Forecast to period end", K.MONEY, "items"),
                 sourced("variance", "Variance", K.MONEY, "items"),
                 sourced("forecast_consumed", "Forecast ÷ amount", K.RATIO, "items"),
                 Column("state", "Status")),
        note="The forecast adds the run rate of the last 7 days of data for the days left "
             "in the period.",
        empty="No budgets yet. Create one with `ladder budgets create NAME --amount AMOUNT "
              "--period month` (or POST /v1/budgets with a finance key)."))
    return page


def _day_before(day: date | None) -> date | None:
    return None if day is None else day - timedelta(days=1)


# --- chargeback -------------------------------------------------------------------------


CHARGE_GROUPS = ("account", "service", "region", "usage_key", "provider", "tag")


def chargeback(session: Session, *, provider: str | None, length: PeriodLength,
               last_day: date | None, group_by: str, tag_key: str | None) -> Page:
    """Commitment cost and benefit charged to each group, with the totals against the bill."""
    page, span, window = period_page(session, "Chargeback", provider=provider, length=length,
                                     last_day=last_day, group_by=group_by, tag_key=tag_key,
                                     groups=CHARGE_GROUPS)
    if window is None:
        return page
    provider = span.provider
    if group_by == "tag" and not tag_key:
        page.context["problems"] = ["Grouping by tag needs the tag's key (for example team)."]
        group_by = "account"
        page.context["group_by"] = group_by
    charged = period_report(session, "chargeback", window, Granularity.TOTAL,
                            provider=provider, group_by=group_by,
                            tag_key=tag_key if group_by == "tag" else None)
    bill = period_report(session, "savings", window, Granularity.TOTAL, provider=provider)
    page.context["problems"] = page.context.get("problems", []) + [
        c.problem for c in (charged, bill) if c.problem]
    currency = charged.report.currency if charged.report is not None else span.currency
    page.add(_money_figure("chargeback_total", "Charged in all", charged, "amortized_cost",
                           currency))
    page.add(_money_figure("bill_total", "The bill (amortized cost)", bill, "amortized_cost",
                           currency))
    page.add(_money_figure("benefit_total", "Benefit of commitments", charged, "benefit",
                           currency))
    page.table(Table(
        name="chargeback", title=f"Charged by {group_by.replace('_', ' ')}", currency=currency,
        source=charged.source, rows=rows_of(charged.report),
        totals=None if charged.report is None else charged.report.totals(),
        columns=(Column("group", group_by.replace("_", " ").capitalize()),
                 sourced("on_demand_equivalent", "On-demand equivalent", K.MONEY),
                 sourced("on_demand_cost", "On-demand cost", K.MONEY),
                 sourced("commitment_used_cost", "Commitment used", K.MONEY),
                 sourced("commitment_unused_cost", "Commitment unused", K.MONEY),
                 sourced("amortized_cost", "Charged (amortized)", K.MONEY),
                 sourced("benefit", "Benefit", K.MONEY)),
        empty="Nothing to charge in this period: pick another period, or ingest newer "
              "billing data."))
    return page


# --- runs and audit ---------------------------------------------------------------------


def runs(session: Session) -> Page:
    """The runs, newest first."""
    page = Page(title="Runs")
    items, total = runs_service.list_runs(session, RunFilter(), limit=LIST_LIMIT, offset=0)
    path = source("/v1/runs", limit=LIST_LIMIT)
    page.add(Figure(name="runs", label="Runs recorded", value=total, kind=K.COUNT, source=path,
                    field="total"))
    page.table(Table(
        name="runs", title="Runs, newest first", source=path,
        rows=[item.model_dump(mode="json") for item in items],
        columns=(Column("id", "Run", K.COUNT), Column("provider", "Provider"),
                 Column("scope", "Scope"), Column("trigger", "Trigger"),
                 Column("actor", "Actor"), Column("status", "Status"),
                 Column("outcome", "Outcome"), Column("mode", "Mode"),
                 Column("started_at", "Started", K.DATETIME),
                 Column("finished_at", "Finished", K.DATETIME),
                 Column("plan_id", "Plan", link="/plans/{value}"),
                 Column("error", "Error", wide=True)),
        empty="No runs yet. `ladder run` runs once; `ladder serve` runs on each policy's "
              "schedule."))
    return page


def audit(session: Session) -> Page:
    """The audit log, newest first, and whether its hash chain holds."""
    page = Page(title="Audit log")
    items, _ = audit_service.list_entries(session, AuditFilter(), limit=LIST_LIMIT, offset=0)
    verified = audit_service.verify(session)
    page.context["verified"] = verified
    page.add(Figure(name="audit_entries", label="Entries in the chain", value=verified.entries,
                    kind=K.COUNT, source="/v1/audit/verify", field="entries"))
    path = source("/v1/audit", limit=LIST_LIMIT)
    rows = [item.model_dump(mode="json") for item in items]
    page.table(Table(
        name="audit", title="Entries, newest first", source=path, rows=rows,
        columns=(sourced("seq", "Seq", K.COUNT, "items"),
                 Column("at", "At", K.DATETIME), Column("actor", "Actor"),
                 Column("event", "Event"), Column("subject", "Subject"),
                 Column("reason", "Reason")),
        empty="The audit log is empty: every approval, purchase, policy change and key "
              "change is written here."))
    return page
