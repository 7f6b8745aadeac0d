"""Budgets on the whole bill (or any part of it), their burn, and the monthly variance report.

A **spend budget** is an amount per period (``month``, ``quarter``, ``fiscal_year``) for a
part of the bill (a ``SpendScope``: provider, billing account, account, service category,
service, region, charge category, tag) on the cash or amortized basis (the rule of
``reporting.spend``). Its status, for the period containing ``as_of`` (the first day not
yet billed; default: the end of the bill):

* ``actual``: spend from the period's start to ``as_of``; ``burn_rate`` its mean per day;
* ``forecast``: actual + the median forecast of the days left (``reporting.spend_forecast``:
  known committed spend included on provider-wide scopes), with its 80 % and 95 % intervals;
* ``variance`` = forecast − amount (positive: forecast over budget);
* ``required_daily_rate``: what may still be spent per day left to end on budget;
* ``run_out_date``: the day the cumulative spend (actual, then the daily median forecast)
  reaches the amount, if it does within the period;
* thresholds and ``state`` as the commitment budgets' (``reporting.budgets``): over_budget,
  forecast_over, warning, ok.

The existing budgets of ``reporting.budgets`` (compute, billing engine) are unchanged; these
live in ``spend_budgets``. Alerts go through the existing webhooks (``ladder budgets
alert``, which is composition: reporting sends nothing).

The **variance report** (:func:`spend_variance`) compares, for the month containing
``as_of``: each monthly spend budget with its actual and forecast, the scope's total with
the previous month, and the top movers — the groups (services, accounts, tags…) whose
forecast for the month moved most from the previous month — so that they explain the
change; the movers not shown are summed in ``(other)``, and the movers add up to the total's
change (forecasts of groups are means, which add up).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.db.reporting_models import SpendBudgetRow
from core.errors import Conflict, InvalidInput, NotFound
from reporting.budgets import (
    MAX_THRESHOLDS,
    ThresholdState,
    check_budget_spec,
    delete_stored,
    replace_stored,
)
from reporting.common import Report, frozen
from reporting.money import cents, round_cents
from reporting.spend import (
    SCOPE_FIELDS,
    BillLines,
    SpendBasis,
    SpendDimension,
    SpendScope,
    basis_cost,
    bill_providers,
    group_values,
    load_lines,
    select_lines,
)
from reporting.spend import SpendQuery as _SpendQuery
from reporting.spend_forecast import (
    ForecastHorizon,
    GroupForecast,
    SpendForecastQuery,
    group_forecasts,
    horizon_period,
)

OTHER = "(other)"


@dataclass(frozen=True, slots=True)
class SpendBudgetSpec:
    """What a spend budget is (validated; InvalidInput names the bad field)."""

    name: str
    amount: float
    period: ForecastHorizon = ForecastHorizon.MONTH
    basis: SpendBasis = SpendBasis.AMORTIZED
    scope: SpendScope = field(default_factory=SpendScope)
    thresholds: tuple[float, ...] = (0.8, 1.0)
    currency: str = "USD"

    def __post_init__(self) -> None:
        check_budget_spec(self, {"period": ForecastHorizon, "basis": SpendBasis})


@dataclass(frozen=True, slots=True)
class SpendBudget:
    """A stored spend budget."""

    id: int
    spec: SpendBudgetSpec
    created_at: datetime
    updated_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        spec = self.spec
        return {"id": self.id, "name": spec.name, "amount": spec.amount,
                "currency": spec.currency, "period": spec.period.value,
                "basis": spec.basis.value, "thresholds": list(spec.thresholds),
                **{k: v for k, v in spec.scope.to_dict().items() if k != "currency"},
                "created_at": self.created_at.isoformat(),
                "updated_at": self.updated_at.isoformat()}


def _budget(row: SpendBudgetRow) -> SpendBudget:
    scope = {k: v for k, v in (row.scope or {}).items() if k in SCOPE_FIELDS}
    return SpendBudget(row.id, SpendBudgetSpec(
        name=row.name, amount=row.amount, period=ForecastHorizon(row.period),
        basis=SpendBasis(row.basis), scope=SpendScope(**scope),
        thresholds=tuple(row.thresholds), currency=row.currency),
        row.created_at, row.updated_at)


def _write(row: SpendBudgetRow, spec: SpendBudgetSpec) -> None:
    row.name, row.amount, row.currency = spec.name, spec.amount, spec.currency
    row.period, row.basis = spec.period.value, spec.basis.value
    row.thresholds = list(spec.thresholds)
    row.scope = {k: v for k, v in spec.scope.to_dict().items() if v is not None}


def _by_name(session: Session, name: str) -> SpendBudgetRow | None:
    return session.scalar(select(SpendBudgetRow).where(SpendBudgetRow.name == name))


def check_spend_currency(session: Session, spec: SpendBudgetSpec) -> None:
    """Refuse (InvalidInput on ``currency``) a budget whose bill is in other currencies only;
    a provider with no bill yet cannot be checked. Ladder converts no currencies."""
    if spec.scope.provider is not None and spec.scope.provider not in bill_providers(session):
        return
    try:
        bill = load_lines(session, spec.scope.provider)
    except NotFound:
        return
    found = sorted(bill.frame["currency"].dropna().unique())
    if found and spec.currency not in found:
        raise InvalidInput(f"the budget is in {spec.currency}, but the bill is in "
                           f"{', '.join(found)}: a budget must be in its bill's currency; "
                           "Ladder converts no currencies", column="currency")


def create_spend_budget(session: Session, spec: SpendBudgetSpec) -> SpendBudget:
    """Store a new spend budget; Conflict when the name is taken, InvalidInput when its
    currency is not its bill's."""
    if _by_name(session, spec.name) is not None:
        raise Conflict(f"a spend budget named {spec.name!r} already exists")
    check_spend_currency(session, spec)
    row = SpendBudgetRow()
    _write(row, spec)
    session.add(row)
    session.flush()
    return _budget(row)


def get_spend_budget(session: Session, budget_id: int) -> SpendBudget | None:
    """The spend budget with this id, or None."""
    row = session.get(SpendBudgetRow, budget_id)
    return _budget(row) if row is not None else None


def list_spend_budgets(session: Session, *, limit: int = 50, offset: int = 0,
                       ) -> list[SpendBudget]:
    """Spend budgets by name, paginated."""
    rows = session.scalars(select(SpendBudgetRow).order_by(SpendBudgetRow.name)
                           .limit(limit).offset(offset))
    return [_budget(row) for row in rows]


def count_spend_budgets(session: Session) -> int:
    """How many spend budgets there are."""
    return int(session.scalar(select(func.count()).select_from(SpendBudgetRow)) or 0)


def update_spend_budget(session: Session, budget_id: int, spec: SpendBudgetSpec,
                        ) -> SpendBudget | None:
    """Replace a spend budget's fields; None when it does not exist."""
    row = session.get(SpendBudgetRow, budget_id)
    if row is None:
        return None
    replace_stored(session, row, spec, kind="spend budget", by_name=_by_name,
                   check=check_spend_currency, write=_write)
    return _budget(row)


def delete_spend_budget(session: Session, budget_id: int) -> bool:
    """Delete a spend budget; False when it did not exist."""
    return delete_stored(session, SpendBudgetRow, budget_id)


# --- status ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SpendBudgetStatus:
    """Where a spend budget stands in the period containing ``as_of`` (money in cents)."""

    budget: SpendBudget
    period: str | None
    period_start: date | None
    period_end: date | None
    as_of: date | None
    days_elapsed: int | None
    days_remaining: int | None
    actual: float | None
    forecast: float | None
    forecast_low_80: float | None
    forecast_high_80: float | None
    forecast_low_95: float | None
    forecast_high_95: float | None
    variance: float | None
    variance_ratio: float | None
    burn_rate: float | None
    required_daily_rate: float | None
    run_out_date: date | None
    thresholds: tuple[ThresholdState, ...]
    state: str
    currency: str
    problem: str | None = None

    @classmethod
    def unavailable(cls, budget: SpendBudget, problem: str) -> SpendBudgetStatus:
        """The status of a budget that cannot be reported on, saying why."""
        return cls(budget, None, None, None, None, None, None, None, None, None, None, None,
                   None, None, None, None, None, None, (), "unavailable",
                   budget.spec.currency, problem)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields, with the budget."""
        def day(value: date | None) -> str | None:
            return value.isoformat() if value is not None else None

        return {"budget": self.budget.to_dict(), "period": self.period,
                "period_start": day(self.period_start), "period_end": day(self.period_end),
                "as_of": day(self.as_of), "days_elapsed": self.days_elapsed,
                "days_remaining": self.days_remaining, "actual": self.actual,
                "forecast": self.forecast, "forecast_low_80": self.forecast_low_80,
                "forecast_high_80": self.forecast_high_80,
                "forecast_low_95": self.forecast_low_95,
                "forecast_high_95": self.forecast_high_95, "variance": self.variance,
                "variance_ratio": self.variance_ratio, "burn_rate": self.burn_rate,
                "required_daily_rate": self.required_daily_rate,
                "run_out_date": day(self.run_out_date),
                "thresholds": [t.to_dict() for t in self.thresholds], "state": self.state,
                "currency": self.currency, "problem": self.problem}


def _money(value: float) -> float:
    return round_cents(value) / 100


def _run_out(item: GroupForecast, period_start: date, as_of: date, period_end: date,
             amount: float) -> date | None:
    """The first day the cumulative spend of the period reaches ``amount`` (None if not)."""
    history = item.history[item.history.index >= np.datetime64(period_start, "D")]
    cumulative = history.cumsum()
    reached = cumulative[cumulative >= amount] if amount > 0 else cumulative[cumulative > 0]
    if len(reached):
        return pd.Timestamp(reached.index[0]).date()
    daily = item.forecast.daily
    days = (period_end - as_of).days
    ahead = float(history.sum()) + np.cumsum(daily["q0.5"].to_numpy()[:days])
    hits = np.nonzero(ahead >= amount)[0]
    return as_of + timedelta(days=int(hits[0])) if len(hits) else None


def spend_budget_status(session: Session, budget: SpendBudget | int, *,
                        as_of: date | None = None, fiscal_year_start_month: int = 1,
                        bill: BillLines | None = None) -> SpendBudgetStatus | None:
    """The budget's status in the period containing ``as_of`` (module docstring); None when
    the id does not exist."""
    if isinstance(budget, int):
        found = get_spend_budget(session, budget)
        if found is None:
            return None
        budget = found
    spec = budget.spec
    scope = SpendScope(**{**spec.scope.to_dict(), "currency": spec.currency})
    bill = bill or load_lines(session, scope.provider)
    forecasts, _start, as_of, currency = group_forecasts(session, bill, SpendForecastQuery(
        scope=scope, basis=spec.basis, horizons=(spec.period,), as_of=as_of,
        fiscal_year_start_month=fiscal_year_start_month))
    [item] = forecasts
    period_start, period_end, label = horizon_period(as_of, spec.period,
                                                     fiscal_year_start_month)
    actual = float(item.history[item.history.index >= np.datetime64(period_start, "D")].sum())
    days_left = (period_end - as_of).days
    sums = item.forecast.paths[:, :days_left].sum(axis=1) if days_left else np.zeros(1)
    quantiles = {q: actual + float(np.quantile(sums, q)) for q in (0.025, 0.1, 0.5, 0.9, 0.975)}
    forecast = quantiles[0.5]
    amount = spec.amount
    elapsed = (as_of - period_start).days
    thresholds = tuple(ThresholdState(t, _money(t * amount), actual >= t * amount,
                                      forecast >= t * amount) for t in spec.thresholds)
    if (amount > 0 and actual >= amount) or (amount == 0 and actual > 0):
        state = "over_budget"
    elif forecast >= amount:
        state = "forecast_over"
    elif any(t.reached or t.forecast_reached for t in thresholds):
        state = "warning"
    else:
        state = "ok"
    return SpendBudgetStatus(
        budget=budget, period=label, period_start=period_start, period_end=period_end,
        as_of=as_of, days_elapsed=elapsed, days_remaining=days_left, actual=_money(actual),
        forecast=_money(forecast), forecast_low_80=_money(quantiles[0.1]),
        forecast_high_80=_money(quantiles[0.9]), forecast_low_95=_money(quantiles[0.025]),
        forecast_high_95=_money(quantiles[0.975]), variance=_money(forecast - amount),
        variance_ratio=(forecast - amount) / amount if amount else None,
        burn_rate=_money(actual / elapsed) if elapsed else None,
        required_daily_rate=_money((amount - actual) / days_left) if days_left else None,
        run_out_date=_run_out(item, period_start, as_of, period_end, amount),
        thresholds=thresholds, state=state, currency=currency)


def spend_budget_statuses(session: Session, *, as_of: date | None = None,
                          fiscal_year_start_month: int = 1) -> list[SpendBudgetStatus]:
    """The status of every spend budget, by name; one that cannot be computed (no bill in
    its scope, another currency) is ``unavailable`` with the reason."""
    statuses = []
    for budget in list_spend_budgets(session, limit=10_000):
        try:
            status = spend_budget_status(session, budget, as_of=as_of,
                                         fiscal_year_start_month=fiscal_year_start_month)
        except (InvalidInput, NotFound) as exc:
            status = SpendBudgetStatus.unavailable(budget, str(exc))
        if status is not None:
            statuses.append(status)
    return statuses


# --- the variance report --------------------------------------------------------------------

VARIANCE_COLUMNS = ("kind", "name", "group", "period", "currency", "budget", "previous",
                    "actual", "forecast", "forecast_low_80", "forecast_high_80", "variance",
                    "change", "share_of_change")
VARIANCE_MONEY = ("budget", "previous", "actual", "forecast", "forecast_low_80",
                  "forecast_high_80", "variance", "change")


MOVER_DIMENSIONS = tuple(d for d in SpendDimension
                         if d not in (SpendDimension.NONE, SpendDimension.BILLING_PERIOD))
"""What movers may be told by: not ``none``, nor ``billing_period`` (each month is its own
invoice, so every group would be new or gone)."""


@dataclass(frozen=True, slots=True)
class VarianceQuery:
    """The monthly variance report's parameters: the scope and basis of the total and its
    movers, the dimension movers are told by, how many, and ``as_of`` (default: the end of
    the bill; the month is the one containing it)."""

    scope: SpendScope = field(default_factory=SpendScope)
    basis: SpendBasis = SpendBasis.AMORTIZED
    group_by: SpendDimension = SpendDimension.SERVICE
    top: int = 10
    as_of: date | None = None

    def __post_init__(self) -> None:
        checked = _SpendQuery(basis=self.basis, group_by=self.group_by, scope=self.scope)
        object.__setattr__(self, "basis", checked.basis)
        object.__setattr__(self, "group_by", checked.group_by)
        if checked.group_by not in MOVER_DIMENSIONS:
            raise InvalidInput("the movers need a dimension (service, account, tag…) other "
                               "than the invoice's month", column="group_by")
        if not 1 <= int(self.top) <= 100:
            raise InvalidInput("top must be 1 to 100", column="top")

    def to_dict(self) -> dict[str, Any]:
        """The parameters as understood."""
        return {"basis": self.basis.value, "group_by": self.group_by.value, "top": self.top,
                "as_of": self.as_of.isoformat() if self.as_of else None,
                **self.scope.to_dict()}


def _previous_month(bill: BillLines, scope: SpendScope, basis: SpendBasis,
                    group_by: SpendDimension, month_start: date) -> dict[str, float]:
    """Spend of the month before ``month_start`` per group (and ``all``)."""
    start = (month_start - timedelta(days=1)).replace(day=1)
    query = _SpendQuery(start=start, end=month_start, basis=basis, group_by=group_by,
                        scope=scope)
    lines, _currency, _window = select_lines(bill, query)
    costs = pd.Series(basis_cost(lines, basis),
                      index=group_values(lines, group_by, scope.tag_key))
    per_group = {str(k): float(v) for k, v in costs.groupby(level=0).sum().items()}
    per_group["all"] = float(costs.sum())
    return per_group


def _budget_row(session: Session, budget: SpendBudget, bill: BillLines,
                as_of: date | None) -> dict[str, Any] | None:
    status = spend_budget_status(session, budget, as_of=as_of, bill=bill)
    if status is None or status.period_start is None:
        return None
    scope = SpendScope(**{**budget.spec.scope.to_dict(), "currency": budget.spec.currency})
    previous = _previous_month(bill, scope, budget.spec.basis, SpendDimension.NONE,
                               status.period_start)["all"]
    forecast = float(status.forecast or 0.0)
    return {"kind": "budget", "name": budget.spec.name, "group": "all",
            "period": status.period, "currency": status.currency,
            "budget": budget.spec.amount, "previous": previous, "actual": status.actual,
            "forecast": forecast, "forecast_low_80": status.forecast_low_80,
            "forecast_high_80": status.forecast_high_80, "variance": status.variance,
            "change": forecast - previous,
            "share_of_change": None}


def spend_variance(session: Session, query: VarianceQuery | None = None) -> Report:
    """Budget vs actual vs forecast for the month, and the movers that explain the change
    from the previous month (module docstring)."""
    query = query or VarianceQuery()
    bill = load_lines(session, query.scope.provider)
    forecasts, _start, as_of, currency = group_forecasts(session, bill, SpendForecastQuery(
        scope=query.scope, basis=query.basis, horizons=(ForecastHorizon.MONTH,),
        as_of=query.as_of, group_by=query.group_by, known_commitments=False))
    month_start, month_end, label = horizon_period(as_of, ForecastHorizon.MONTH)
    days_left = (month_end - as_of).days
    previous = _previous_month(bill, query.scope, query.basis, query.group_by, month_start)
    movers: list[dict[str, Any]] = []
    for item in forecasts:
        actual = float(item.history[item.history.index >= np.datetime64(month_start, "D")]
                       .sum())
        ahead = float(item.forecast.paths[:, :days_left].sum(axis=1).mean()) if days_left \
            else 0.0
        before = previous.get(item.group, 0.0)
        movers.append({"kind": "mover", "name": None, "group": item.group, "period": label,
                       "currency": currency, "budget": None, "previous": before,
                       "actual": actual, "forecast": actual + ahead, "forecast_low_80": None,
                       "forecast_high_80": None, "variance": None,
                       "change": actual + ahead - before})
    shown = {m["group"] for m in movers}
    for group, before in previous.items():  # groups that stopped spending this month
        if group != "all" and group not in shown:
            movers.append({"kind": "mover", "name": None, "group": group, "period": label,
                           "currency": currency, "budget": None, "previous": before,
                           "actual": 0.0, "forecast": 0.0, "forecast_low_80": None,
                           "forecast_high_80": None, "variance": None, "change": -before})
    movers.sort(key=lambda m: (-abs(m["change"]), m["group"]))
    total_change = sum(m["change"] for m in movers)
    top, rest = movers[:query.top], movers[query.top:]
    if rest:
        top.append({**{k: None for k in VARIANCE_COLUMNS}, "kind": "mover", "group": OTHER,
                    "period": label, "currency": currency,
                    **{c: sum(m[c] for m in rest) for c in ("previous", "actual", "forecast",
                                                             "change")}})
    for mover in top:
        mover["share_of_change"] = mover["change"] / total_change if total_change else None
    total_forecast = sum(m["forecast"] for m in movers)
    total = _total_row(forecasts, query, month_start, days_left, label, currency,
                       previous.get("all", 0.0), total_forecast)
    budgets = [row for budget in list_spend_budgets(session, limit=10_000)
               if budget.spec.period is ForecastHorizon.MONTH
               for row in [_safe_budget_row(session, budget, bill, query.as_of)]
               if row is not None]
    frame = pd.DataFrame([*budgets, total, *top], columns=list(VARIANCE_COLUMNS))
    for column in VARIANCE_MONEY:
        values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64)
        known = np.isfinite(values)
        rounded = np.full(len(values), np.nan)
        rounded[known] = cents(values[known]) / 100.0
        frame[column] = rounded
    return Report(name="variance", columns=VARIANCE_COLUMNS, frame=frame,
                  parameters=frozen({**query.to_dict(), "as_of": as_of.isoformat()}),
                  currency=currency, notes=(
                      f"{label}: actual to {as_of.isoformat()} (exclusive), forecast to the "
                      "month's end; previous = the month before.",
                      "Budget rows: each monthly spend budget (forecast = median, with its "
                      "80 % interval; variance = forecast − budget). The total and movers' "
                      "forecasts are means (they add up); change = forecast − previous; "
                      "share_of_change = change ÷ the total's change.",
                      "Each figure is rounded to the cent on its own.",
                      *(s.describe() for s in bill.sources)),
                  money=VARIANCE_MONEY, freshness=bill.freshness())


def _safe_budget_row(session: Session, budget: SpendBudget, bill: BillLines,
                     as_of: date | None) -> dict[str, Any] | None:
    """A budget's row, or a row saying it cannot be computed (no data in its scope)."""
    try:
        return _budget_row(session, budget, bill, as_of)
    except (InvalidInput, NotFound, ValueError):
        return None


def _total_row(forecasts: list[GroupForecast], query: VarianceQuery, month_start: date,
               days_left: int, label: str, currency: str, previous: float,
               total_forecast: float) -> dict[str, Any]:
    """The scope's total: the movers' sum, with an interval from the sum of their paths."""
    actual = sum(float(item.history[item.history.index >= np.datetime64(month_start, "D")]
                       .sum()) for item in forecasts)
    if days_left and forecasts:
        # The groups' paths share their random draws (each model's seed is the same, and
        # their histories cover the same days), so path n of every group resamples the
        # same blocks of days: a joint block bootstrap of the residuals, which keeps the
        # groups' co-movement (checked against a forecast of the total itself in
        # tests/reporting/test_report_spend_budgets.py). The level wander is drawn alike
        # for every group, so for groups that vary independently this spread errs wide.
        sums = sum(item.forecast.paths[:, :days_left].sum(axis=1) for item in forecasts)
        low, high = actual + float(np.quantile(sums, 0.1)), actual + float(
            np.quantile(sums, 0.9))
    else:
        low = high = actual
    return {"kind": "total", "name": None, "group": "all", "period": label,
            "currency": currency, "budget": None, "previous": previous, "actual": actual,
            "forecast": total_forecast, "forecast_low_80": low, "forecast_high_80": high,
            "variance": None, "change": total_forecast - previous,
            "share_of_change": 1.0 if total_forecast != previous else None}


__all__ = [
    "MAX_THRESHOLDS",
    "MOVER_DIMENSIONS",
    "VARIANCE_COLUMNS",
    "SpendBudget",
    "SpendBudgetSpec",
    "SpendBudgetStatus",
    "VarianceQuery",
    "check_spend_currency",
    "count_spend_budgets",
    "create_spend_budget",
    "delete_spend_budget",
    "get_spend_budget",
    "list_spend_budgets",
    "spend_budget_status",
    "spend_budget_statuses",
    "spend_variance",
    "update_spend_budget",
]
