"""The whole bill's pages: spend, the spend forecast, the monthly variance and unit costs.

They read through the services that ``/v1/reports/spend``, ``/spend-forecast``,
``/variance`` and ``/unit-cost`` call (``api.reports.finance_service``), as
``dashboard.pages`` reads the commitment reports: every figure names the request and the
JSON field that serve it, every table holds the rows of one request, and nothing here
computes a figure. A table that may be longer than the API's default page (100 rows)
names ``limit`` in its source, and a table showing part of a report's rows names that
part's ``offset`` and ``limit``, so that row ``i`` of a table is ``rows.i`` of its source.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.metrics import service as metrics_service
from api.params import Period
from api.reports import finance_service
from core.db.reporting_models import BillCostLineRow
from core.db.repository import latest_dataset
from core.errors import LadderError
from dashboard.figures import Chart, Column, Control, Figure, Kind, Page, Series, Table, source
from dashboard.pages import ALL_ROWS, DataSpan, ReportCall, period_page, rows_of, sourced
from dashboard.periods import PeriodLength
from reporting import DEFINITIONS, Report
from reporting.spend import (
    SpendBasis,
    SpendDimension,
    SpendGranularity,
    SpendScope,
    bill_providers,
)
from reporting.spend_budgets import MOVER_DIMENSIONS
from reporting.spend_forecast import ForecastHorizon

K = Kind
HISTORY_DAYS = 60
"""Days of actual spend the forecast's chart shows before the first day forecast."""
MAX_STACKED = 10
"""Groups the daily spend chart stacks; with more, it charts the total."""
NO_BILL = ("No bill stored yet. Ingest a FOCUS bill with `ladder ingest PATH` (on the bundled "
           "sample, `ladder optimize` stores its whole bill), then reload this page.")
NO_METRICS = ("No business metrics yet. Load daily values with `ladder metrics ingest "
              "FILE.csv` (columns date,metric,value and an optional scope such as "
              "tag:team=web) or POST /v1/metrics with a finance key, then reload this page.")
BASES = (("amortized", "Amortized (Σ EffectiveCost)"), ("cash", "Cash (Σ BilledCost)"))
BASIS_RULE = ("Cash basis = Σ FOCUS BilledCost: a commitment's purchase counts on the day it "
              "is billed. Amortized basis = Σ FOCUS EffectiveCost: the purchase counts 0 and "
              "its cost is spread over the usage it covers. A purchase and its amortization "
              "are never both counted.")
SPEND_GROUPS = tuple(d.value for d in SpendDimension if d is not SpendDimension.NONE)
MOVER_GROUPS = tuple(d.value for d in MOVER_DIMENSIONS)
HORIZON_NAMES = {"month": "month", "quarter": "quarter", "fiscal_year": "fiscal year"}
GRANULARITIES = tuple(g.value for g in SpendGranularity if g is not SpendGranularity.TOTAL)
PER_CHOICES = (("1", "unit"), ("1000", "1,000 units"), ("1000000", "1,000,000 units"))


def pick(text: str | None, allowed: Sequence[str], default: str) -> str:
    """``text`` when it is one of ``allowed``, else ``default``: a page never fails on a
    parameter it offers as a choice."""
    return text if text is not None and text in allowed else default


def _named(values: Sequence[str]) -> tuple[tuple[str, str], ...]:
    return tuple((value, value.replace("_", " ")) for value in values)


def bill_span(session: Session, provider: str | None) -> DataSpan:
    """The providers with a stored dataset and the last day of the bill lines of their latest
    datasets, those the reports read (``provider``'s only when it has one); no last day
    without bill lines.

    One aggregate query per provider, not the lines themselves: every report of the page
    reads them again.
    """
    providers = tuple(bill_providers(session))
    if provider not in providers:
        provider = None
    last: date | None = None
    currency = "USD"
    for name in [provider] if provider is not None else providers:
        dataset = latest_dataset(session, name)
        if dataset is None:
            continue
        day = session.scalar(select(func.max(BillCostLineRow.day))
                             .where(BillCostLineRow.dataset_id == dataset.id))
        if day is not None and (last is None or day > last):
            last, currency = day, dataset.currency
    return DataSpan(providers, provider, last, currency)


def bill_call(path: str, build: Callable[[], Report], **params: Any) -> ReportCall:
    """A report built as the ``/v1`` route ``path`` with ``params`` builds it, and that
    request; a report that cannot be made is None with the reason (shown on the page)."""
    where = source(path, **params)
    try:
        return ReportCall(build(), where, None)
    except LadderError as exc:
        return ReportCall(None, where, str(exc))


def _total(name: str, label: str, call: ReportCall, column: str, currency: str,
           kind: Kind = K.MONEY) -> Figure:
    value = None if call.report is None else call.report.totals().get(column)
    return Figure(name=name, label=label, value=value, kind=kind, source=call.source,
                  field=f"totals.{column}", currency=currency,
                  definition=DEFINITIONS.get(column))


def _cell(name: str, label: str, rows: Sequence[Mapping[str, Any]], where: str, index: int,
          column: str, currency: str, kind: Kind = K.MONEY) -> Figure:
    """Row ``index``'s ``column`` of the rows served by ``where``, as a figure."""
    value = rows[index].get(column) if 0 <= index < len(rows) else None
    return Figure(name=name, label=label, value=value, kind=kind, source=where,
                  field=f"rows.{index}.{column}", currency=currency,
                  definition=DEFINITIONS.get(column))


def _problems(*calls: ReportCall) -> list[str]:
    return sorted({call.problem for call in calls if call.problem})


def _currency(call: ReportCall, span: DataSpan) -> str:
    return call.report.currency if call.report is not None else span.currency


def _provider_control(span: DataSpan) -> Control:
    return Control("provider", "Provider", span.provider or "",
                   (("", "All providers"), *((p, p) for p in span.providers)))


# --- spend ----------------------------------------------------------------------------------


def _spend_call(session: Session, start: date, end: date, granularity: SpendGranularity,
                group_by: SpendDimension, basis: SpendBasis, *, provider: str | None,
                tag_key: str | None, limit: int | None = None) -> ReportCall:
    return bill_call(
        "/v1/reports/spend", lambda: finance_service.spend(
            session, period=Period(start, end), granularity=granularity, group_by=group_by,
            basis=basis, scope=SpendScope(provider=provider, tag_key=tag_key)),
        start=start, end=end, granularity=granularity.value,
        group_by=None if group_by is SpendDimension.NONE else group_by.value,
        basis=basis.value, provider=provider, tag_key=tag_key, limit=limit)


SPEND_COLUMNS = (sourced("cost", "Spend", K.MONEY),
                 sourced("billed_cost", "Billed (cash)", K.MONEY),
                 sourced("effective_cost", "Effective (amortized)", K.MONEY),
                 sourced("list_cost", "At list prices", K.MONEY))



def _grouping(group_by: str, tag_key: str | None, fallback: SpendDimension,
              doing: str) -> tuple[SpendDimension, str | None, list[str]]:
    """The dimension a page groups by, the tag key it reads (only when grouping by tag) and
    what to tell the user: a tag without its key falls back to ``fallback``, saying so."""
    if group_by == SpendDimension.TAG and not tag_key:
        return fallback, None, [f"{doing} by tag needs the tag's key (for example team)."]
    dimension = SpendDimension(group_by)
    return dimension, tag_key if dimension is SpendDimension.TAG else None, []


def spend(session: Session, *, provider: str | None, length: PeriodLength,
          last_day: date | None, group_by: str, tag_key: str | None, basis: str) -> Page:
    """Spend on the whole bill for a period to date, by a chosen dimension, on the cash or
    amortized basis, with the daily spend charted."""
    span = bill_span(session, provider)
    page, span, window = period_page(
        session, "Spend", provider=provider, length=length, last_day=last_day, span=span,
        empty=NO_BILL, group_by=group_by, tag_key=tag_key, groups=SPEND_GROUPS,
        group_label="Group by", basis=basis, bases=BASES, rule=BASIS_RULE)
    if window is None:
        return page
    dimension, key, problems = _grouping(group_by, tag_key, SpendDimension.SERVICE_CATEGORY,
                                         "Grouping")
    page.context["group_by"] = dimension.value
    chosen = SpendBasis(basis)
    by_group = _spend_call(session, window.start, window.end, SpendGranularity.TOTAL,
                           dimension, chosen, provider=span.provider, tag_key=key)
    groups = [row["group"] for row in rows_of(by_group.report)]
    stacked = len(groups) <= MAX_STACKED
    daily = _spend_call(session, window.start, window.end, SpendGranularity.DAY,
                        dimension if stacked else SpendDimension.NONE, chosen,
                        provider=span.provider, tag_key=key if stacked else None,
                        limit=ALL_ROWS)
    page.context["problems"] = problems + _problems(by_group, daily)
    if by_group.report is not None:
        page.context["freshness"] = by_group.report.fresh_fields()
    currency = _currency(by_group, span)
    basis_name = "amortized" if chosen is SpendBasis.AMORTIZED else "cash"
    page.add(_total("spend_total", f"Spend ({basis_name} basis)", by_group, "cost", currency))
    page.add(_total("billed_total", "Billed (cash basis, Σ BilledCost)", by_group,
                    "billed_cost", currency))
    page.add(_total("effective_total", "Effective (amortized, Σ EffectiveCost)", by_group,
                    "effective_cost", currency))
    page.add(_total("list_total", "At list prices (Σ ListCost)", by_group, "list_cost",
                    currency))
    label = f"tag {key}" if key else dimension.value.replace("_", " ")
    page.table(Table(
        name="by_group", title=f"Spend by {label}", currency=currency, source=by_group.source,
        rows=rows_of(by_group.report),
        totals=None if by_group.report is None else by_group.report.totals(),
        columns=(Column("group", label.capitalize()), *SPEND_COLUMNS),
        empty="No spend in this period: pick another period, or ingest a newer bill with "
              "`ladder ingest PATH`."))
    rows = rows_of(daily.report)
    days = sorted({row["period"] for row in rows})
    if stacked:
        cost = {(row["period"], row["group"]): row["cost"] for row in rows}
        series = [Series(str(group), [cost.get((day, group)) for day in days])
                  for group in groups]
        title = f"Spend per day by {label} ({basis_name} basis)"
    else:
        series = [Series("Spend", [row["cost"] for row in rows])]
        title = f"Spend per day ({basis_name} basis; {len(groups)} groups: the total)"
    page.charts.append(Chart(name="daily_spend", title=title, type="bar", labels=days,
                             series=series, source=daily.source, currency=currency,
                             stacked=True, table="daily"))
    page.table(Table(
        name="daily", title="Day by day", currency=currency, source=daily.source, rows=rows,
        columns=(Column("period", "Day", K.DATE),
                 *((Column("group", label.capitalize()),) if stacked else ()),
                 *SPEND_COLUMNS),
        empty="No spend in this period: pick another period, or ingest a newer bill."))
    return page


# --- spend forecast -------------------------------------------------------------------------


def _forecast_call(session: Session, *, provider: str | None, basis: SpendBasis,
                   group_by: SpendDimension, tag_key: str | None, as_of: date | None,
                   horizon: ForecastHorizon | None, detail: finance_service.ForecastDetail,
                   fiscal_year_start_month: int, limit: int | None = None) -> ReportCall:
    daily = detail is finance_service.ForecastDetail.DAILY
    return bill_call(
        "/v1/reports/spend-forecast", lambda: finance_service.spend_forecast(
            session, scope=SpendScope(provider=provider, tag_key=tag_key), basis=basis,
            horizon=horizon, as_of=as_of, group_by=group_by, detail=detail,
            fiscal_year_start_month=fiscal_year_start_month),
        basis=basis.value, group_by=None if group_by is SpendDimension.NONE else group_by.value,
        provider=provider, tag_key=tag_key, as_of=as_of,
        horizon=None if horizon is None else horizon.value,
        detail=detail.value if daily else None, limit=limit)


FORECAST_FIGURES = (("actual", "Actual to date"), ("known_spend", "Known (committed)"),
                    ("forecast_low_95", "95 % low"), ("forecast_low_80", "80 % low"),
                    ("forecast_high_80", "80 % high"), ("forecast_high_95", "95 % high"))
INTERVAL_COLUMNS = (sourced("forecast_low_95", "95 % low", K.MONEY),
                    sourced("forecast_low_80", "80 % low", K.MONEY),
                    sourced("forecast_high_80", "80 % high", K.MONEY),
                    sourced("forecast_high_95", "95 % high", K.MONEY))


def spend_forecast(session: Session, *, provider: str | None, basis: str, group_by: str,
                   tag_key: str | None, as_of: date | None, horizon: str,
                   fiscal_year_start_month: int) -> Page:
    """The forecast of spend to the end of the month, quarter and fiscal year with its 80 %
    and 95 % intervals; each day's forecast to the end of the chosen horizon, charted after
    the last days of actual spend."""
    span = bill_span(session, provider)
    page = Page(title="Spend forecast", context={"span": span, "rule": BASIS_RULE})
    page.context["controls"] = [
        _provider_control(span), Control("basis", "Basis", basis, BASES),
        Control("group_by", "Forecast per", group_by,
                (("none", "the whole scope"), *_named(SPEND_GROUPS))),
        Control("tag_key", "Tag key", tag_key or "", placeholder="team"),
        Control("as_of", "First day forecast", "" if as_of is None else as_of.isoformat(),
                type="date"),
        Control("horizon", "Chart to the end of the", horizon,
                tuple(HORIZON_NAMES.items()))]
    if span.last_day is None:
        page.context["empty"] = NO_BILL
        return page
    dimension, key, problems = _grouping(group_by, tag_key, SpendDimension.NONE, "Forecasting")
    chosen = SpendBasis(basis)

    def forecast(group: SpendDimension, horizon: ForecastHorizon | None,
                 detail: finance_service.ForecastDetail, limit: int | None) -> ReportCall:
        return _forecast_call(session, provider=span.provider, basis=chosen, group_by=group,
                              tag_key=key if group is SpendDimension.TAG else None,
                              as_of=as_of, horizon=horizon, detail=detail,
                              fiscal_year_start_month=fiscal_year_start_month, limit=limit)

    summary = finance_service.ForecastDetail.SUMMARY
    total = forecast(SpendDimension.NONE, None, summary, None)
    grouped = total if dimension is SpendDimension.NONE else forecast(
        dimension, None, summary, ALL_ROWS)
    daily = forecast(SpendDimension.NONE, ForecastHorizon(horizon),
                     finance_service.ForecastDetail.DAILY, ALL_ROWS)
    first = as_of or span.last_day + timedelta(days=1)
    history = _spend_call(session, first - timedelta(days=HISTORY_DAYS), first,
                          SpendGranularity.DAY, SpendDimension.NONE, chosen,
                          provider=span.provider, tag_key=None, limit=ALL_ROWS)
    page.context["problems"] = problems + _problems(total, grouped, daily, history)
    page.context["first_day"] = first
    currency = _currency(total, span)
    rows = rows_of(total.report)
    horizons = []
    for index, row in enumerate(rows):
        name = str(row["horizon"])
        prefix = f"{name}_"
        horizons.append({
            "name": name, "label": HORIZON_NAMES.get(name, name), "period": row["period"],
            "days_remaining": row["days_remaining"],
            "forecast": page.add(_cell(prefix + "forecast", f"Forecast for {row['period']}",
                                       rows, total.source, index, "forecast", currency)),
            **{column: page.add(_cell(prefix + column, text, rows, total.source, index,
                                      column, currency))
               for column, text in FORECAST_FIGURES}})
    page.context["horizons"] = horizons
    label = dimension.value.replace("_", " ")
    page.table(Table(
        name="forecast", title="Forecast to the end of each period" + (
            f", per {label}" if dimension is not SpendDimension.NONE else ""),
        currency=currency, source=grouped.source, rows=rows_of(grouped.report),
        columns=(*((Column("group", label.capitalize()),)
                   if dimension is not SpendDimension.NONE else ()),
                 Column("horizon", "Horizon"), Column("period", "Period"),
                 sourced("days_remaining", "Days left", K.COUNT),
                 sourced("actual", "Actual to date", K.MONEY),
                 sourced("known_spend", "Known (committed)", K.MONEY),
                 sourced("forecast", "Forecast (median)", K.MONEY), *INTERVAL_COLUMNS),
        empty="Nothing to forecast: the scope has no spend before the first day forecast."))
    _forecast_chart(page, history, daily, currency, HORIZON_NAMES[horizon])
    return page


def _forecast_chart(page: Page, history: ReportCall, daily: ReportCall, currency: str,
                    horizon: str) -> None:
    """Actual spend per day, then each day's forecast with its intervals as bands."""
    past, ahead = rows_of(history.report), rows_of(daily.report)
    gap, lead = [None] * len(past), [None] * len(ahead)
    labels = [str(row["period"]) for row in past] + [str(row["day"]) for row in ahead]

    def later(column: str) -> list[float | None]:
        return [*gap, *(row[column] for row in ahead)]

    page.charts.append(Chart(
        name="forecast_daily", title=f"Spend per day: actual, then forecast to the end of the "
        f"{horizon} (80 % and 95 % intervals)", type="line", labels=labels,
        series=[Series("Actual", [*(row["cost"] for row in past), *lead]),
                Series("95 % low", later("forecast_low_95")),
                Series("95 % high", later("forecast_high_95"), band=True),
                Series("80 % low", later("forecast_low_80")),
                Series("80 % high", later("forecast_high_80"), band=True),
                Series("Forecast (median)", later("forecast"))],
        source=f"{history.source} · {daily.source}", currency=currency, table="daily"))
    page.table(Table(
        name="daily", title=f"Each day's forecast to the end of the {horizon}",
        currency=currency, source=daily.source, rows=ahead,
        columns=(Column("day", "Day", K.DATE),
                 sourced("known_spend", "Known (committed)", K.MONEY),
                 sourced("forecast", "Forecast (median)", K.MONEY), *INTERVAL_COLUMNS),
        empty="No day left to forecast in this horizon."))
    page.table(Table(
        name="history", title=f"Actual spend of the {len(past)} days before", currency=currency,
        source=history.source, rows=past,
        columns=(Column("period", "Day", K.DATE), sourced("cost", "Spend", K.MONEY)),
        empty="No spend in the days before the first day forecast."))


# --- variance -------------------------------------------------------------------------------


def variance(session: Session, *, provider: str | None, basis: str, group_by: str,
             tag_key: str | None, top: int, as_of: date | None) -> Page:
    """The month containing ``as_of``: each monthly spend budget against actual and forecast,
    the total against the month before, and the movers that explain the change."""
    span = bill_span(session, provider)
    page = Page(title="Variance", context={"span": span, "rule": BASIS_RULE})
    page.context["controls"] = [
        _provider_control(span), Control("basis", "Basis", basis, BASES),
        Control("group_by", "Movers by", group_by, _named(MOVER_GROUPS)),
        Control("tag_key", "Tag key", tag_key or "", placeholder="team"),
        Control("top", "Movers shown", str(top), tuple((str(n), str(n)) for n in (5, 10, 20))),
        Control("as_of", "Month of (first day forecast)",
                "" if as_of is None else as_of.isoformat(), type="date")]
    if span.last_day is None:
        page.context["empty"] = NO_BILL
        return page
    dimension, key, problems = _grouping(group_by, tag_key, SpendDimension.SERVICE,
                                         "Telling movers")
    chosen = SpendBasis(basis)
    params = {"basis": chosen.value, "group_by": dimension.value, "top": top, "as_of": as_of,
              "provider": span.provider, "tag_key": key}
    call = bill_call("/v1/reports/variance", lambda: finance_service.variance(
        session, scope=SpendScope(provider=span.provider, tag_key=key), basis=chosen,
        group_by=dimension, top=top, as_of=as_of), **params)
    page.context["problems"] = problems + _problems(call)
    report = call.report
    rows = rows_of(report)
    currency = _currency(call, span)
    budgets = [row for row in rows if row["kind"] == "budget"]
    at = len(budgets)
    total = rows[at:at + 1]
    movers = rows[at + 1:]

    def part(offset: int, count: int) -> str:
        """The request serving ``count`` rows from ``offset``: one slice of the report."""
        return source("/v1/reports/variance", **params, offset=offset or None,
                      limit=max(count, 1))

    total_source = part(at, 1)
    period = total[0]["period"] if total else None
    page.context["period"] = period
    page.context["as_of"] = None if report is None else report.parameters.get("as_of")
    if report is not None:
        page.context["notes"] = list(report.notes)
    for column, text in (("previous", "The month before"), ("actual", "Actual to date"),
                         ("forecast", f"Forecast for {period}"),
                         ("forecast_low_80", "80 % low"), ("forecast_high_80", "80 % high"),
                         ("change", "Change on the month before")):
        page.add(_cell(f"total_{column}", text, total, total_source, 0, column, currency))
    page.table(Table(
        name="budgets", title=f"Monthly spend budgets, {period}", currency=currency,
        source=part(0, at), rows=budgets,
        columns=(Column("name", "Budget"), sourced("budget", "Budget", K.MONEY),
                 sourced("actual", "Actual to date", K.MONEY),
                 sourced("forecast", "Forecast (median)", K.MONEY),
                 sourced("forecast_low_80", "80 % low", K.MONEY),
                 sourced("forecast_high_80", "80 % high", K.MONEY),
                 sourced("variance", "Variance (forecast − budget)", K.MONEY),
                 sourced("previous", "The month before", K.MONEY),
                 sourced("change", "Change", K.MONEY)),
        empty="No monthly spend budgets. Create one with `ladder spend-budgets create NAME "
              "--amount AMOUNT --period month` (or POST /v1/spend-budgets with a finance key)."))
    label = dimension.value.replace("_", " ")
    movers_source = part(at + 1, len(movers))
    page.table(Table(
        name="movers", title=f"Top movers by {label}", currency=currency,
        source=movers_source, rows=movers,
        columns=(Column("group", label.capitalize()),
                 sourced("previous", "The month before", K.MONEY),
                 sourced("actual", "Actual to date", K.MONEY),
                 sourced("forecast", "Forecast (mean)", K.MONEY),
                 sourced("change", "Change", K.MONEY),
                 sourced("share_of_change", "Share of the change", K.RATIO)),
        empty="No spend this month or the month before in this scope."))
    page.charts.append(Chart(
        name="movers", title=f"The month before and this month's forecast, by {label}",
        type="bar", labels=[str(row["group"]) for row in movers], currency=currency,
        series=[Series("The month before", [row["previous"] for row in movers]),
                Series(f"Forecast for {period}", [row["forecast"] for row in movers])],
        source=movers_source, table="movers"))
    return page


# --- unit cost ------------------------------------------------------------------------------


def _per_text(per: float) -> str:
    return f"{int(per):,}" if float(per).is_integer() else f"{per:g}"


def unit_cost(session: Session, *, metric: str | None, scope: str | None, granularity: str,
              per: float, basis: str) -> Page:
    """Cost per unit of a business metric per period, its trend, and the share of it that
    commitments saved."""
    series = metrics_service.series(session)
    page = Page(title="Unit cost", context={"rule": BASIS_RULE})
    if not series:
        page.context["empty"] = NO_METRICS
        return page
    names = sorted({s.metric for s in series})
    metric = metric if metric in names else series[0].metric
    scopes = [s.scope for s in series if s.metric == metric]
    if scope is None or scope not in scopes:
        scope = scopes[0]
    page.context["controls"] = [
        Control("metric", "Metric", metric, tuple((n, n) for n in names)),
        Control("scope", "Scope", scope, tuple((s, s or "the whole bill") for s in scopes)),
        Control("granularity", "Per", granularity, _named(GRANULARITIES)),
        Control("per", "Cost per", _per_text(per).replace(",", ""), PER_CHOICES),
        Control("basis", "Basis", basis, BASES)]
    chosen = SpendBasis(basis)
    call = bill_call(
        "/v1/reports/unit-cost", lambda: finance_service.unit_cost(
            session, metric=metric, scope=scope, period=Period(None, None),
            granularity=SpendGranularity(granularity), per=per, basis=chosen, currency=None),
        metric=metric, scope=scope or None, granularity=granularity,
        per=int(per) if float(per).is_integer() else per, basis=chosen.value, limit=ALL_ROWS)
    page.context["problems"] = _problems(call)
    rows = rows_of(call.report)
    currency = call.report.currency if call.report is not None else "USD"
    if call.report is not None:
        page.context["notes"] = list(call.report.notes)
        page.context["freshness"] = call.report.fresh_fields()
    last = len(rows) - 1
    period = rows[last]["period"] if rows else None
    unit = f"{_per_text(per)} {metric}" if per != 1 else str(metric)
    page.context.update(period=period, unit=unit, scope=scope)
    for name, text, column, kind in (
            ("unit_cost", f"Cost per {unit}, {period}", "unit_cost", K.PRICE),
            ("unit_cost_change", "Change on the period before", "unit_cost_change", K.RATIO),
            ("commitment_savings_share", "Share saved by commitments",
             "commitment_savings_share", K.RATIO),
            ("unit_savings", f"Saved per {unit} by commitments", "unit_savings", K.PRICE),
            ("metric_value", f"{metric}, {period}", "metric_value", K.NUMBER)):
        page.add(_cell(name, text, rows, call.source, last, column, currency, kind))
    page.add(_total("cost_total", "Cost on the metric's days, every period", call, "cost",
                    currency))
    page.add(_total("savings_total", "Saved by commitments, every period", call,
                    "commitment_savings", currency))
    page.table(Table(
        name="unit_cost", title=f"Cost per {unit}, per {granularity}", currency=currency,
        source=call.source, rows=rows,
        columns=(Column("period", "Period"), sourced("metric_days", "Days", K.COUNT),
                 sourced("metric_value", str(metric).capitalize(), K.NUMBER),
                 sourced("cost", "Cost", K.MONEY),
                 sourced("unit_cost", f"Per {unit}", K.PRICE),
                 sourced("unit_cost_change", "Change", K.RATIO),
                 sourced("commitment_savings", "Saved by commitments", K.MONEY),
                 sourced("unit_savings", f"Saved per {unit}", K.PRICE),
                 sourced("commitment_savings_share", "Share saved", K.RATIO)),
        empty=f"No values of {metric!r} for this scope: `ladder metrics ingest FILE.csv`."))
    periods = [str(row["period"]) for row in rows]
    page.charts.append(Chart(
        name="unit_cost", title=f"Cost per {unit} and what commitments saved of it",
        type="line", labels=periods, currency=currency, source=call.source, table="unit_cost",
        series=[Series(f"Cost per {unit}", [row["unit_cost"] for row in rows], K.PRICE),
                Series(f"Saved per {unit}", [row["unit_savings"] for row in rows], K.PRICE)]))
    page.charts.append(Chart(
        name="savings_share", title="Share of the cost saved by commitments", type="line",
        labels=periods, currency=currency, source=call.source, table="unit_cost",
        series=[Series("Share saved", [row["commitment_savings_share"] for row in rows],
                       K.RATIO)]))
    return page
