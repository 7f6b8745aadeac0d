"""Budgets: CRUD, and their status — actual to date, forecast to the period's end, variance.

A budget is an amount per calendar period (month, quarter, year) for a scope
(a provider, an account, a tag value; None = any) on one basis:

* ``amortized``: on-demand cost + commitment cost amortized (used and the
  allocated unused part), as in the chargeback;
* ``cash``: on-demand cost + commitment fees when billed (recurring fees hour by
  hour, upfront fees on the day the commitment starts). In a scope narrower than
  a provider, a commitment's fees of a day are charged in proportion to the
  scope's share of that commitment's amortized cost that day.

Status (``budget_status``), for the period containing ``as_of``:

* actual = Σ daily cost from the period's start to ``as_of`` (exclusive);
* forecast = actual + the forecaster's projection over the days left (default:
  the run-rate, the mean daily cost of the last 7 days of data × days left);
* variance = forecast − amount (positive: over budget); consumed = actual ÷ amount;
* thresholds: each share t of the amount is ``reached`` when actual ≥ t × amount
  and ``forecast_reached`` when forecast ≥ t × amount;
* state: ``over_budget`` (actual ≥ amount), else ``forecast_over`` (forecast ≥
  amount), else ``warning`` (a threshold reached or forecast to be), else ``ok``.

Repository functions ``flush``, never ``commit``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from core.db.reporting_models import BudgetRow
from core.errors import Conflict, InvalidInput, NotFound
from reporting import dense, repository
from reporting.amortization import commitment_cash_days
from reporting.common import (
    Dimension,
    Freshness,
    Granularity,
    ReportQuery,
    Scope,
    SnapshotInfo,
    period_label,
    period_of,
)
from reporting.freshness import FRESHNESS_DEFINITIONS, freshness
from reporting.money import round_cents
from reporting.selection import data_days, key_rows, unallocated_rows
from reporting.snapshot import ReportData, load_report_data

MAX_THRESHOLDS = 10


class BudgetPeriod(StrEnum):
    """The calendar period a budget's amount is for."""

    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


class BudgetBasis(StrEnum):
    """Amortized or cash cost (``amortised`` is accepted for ``amortized``)."""

    AMORTIZED = "amortized"
    CASH = "cash"

    @classmethod
    def _missing_(cls, value: object) -> BudgetBasis | None:
        return cls.AMORTIZED if value == "amortised" else None


def _thresholds(values: Sequence[float]) -> tuple[float, ...]:
    cleaned = []
    for value in values:
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise InvalidInput(f"thresholds must be numbers, got {value!r}",
                               column="thresholds") from None
        if not math.isfinite(number) or not 0 < number <= 10:
            raise InvalidInput(f"each threshold is a share of the amount in (0, 10], got "
                               f"{value!r}", column="thresholds")
        cleaned.append(number)
    if len(cleaned) > MAX_THRESHOLDS:
        raise InvalidInput(f"at most {MAX_THRESHOLDS} thresholds", column="thresholds")
    return tuple(sorted(set(cleaned)))


@dataclass(frozen=True, slots=True)
class BudgetSpec:
    """What a budget is (validated on construction; InvalidInput names the bad field).

    ``scope`` may set ``provider``, ``account``, ``tag_key`` and ``tag_value``
    (both or neither); ``thresholds`` are shares of ``amount`` (0.8 = 80 %).
    """

    name: str
    amount: float
    period: BudgetPeriod = BudgetPeriod.MONTH
    basis: BudgetBasis = BudgetBasis.AMORTIZED
    scope: Scope = field(default_factory=Scope)
    thresholds: tuple[float, ...] = (0.8, 1.0)
    currency: str = "USD"

    def __post_init__(self) -> None:
        check_budget_spec(self, {"period": BudgetPeriod, "basis": BudgetBasis},
                          scope_rule=_commitment_budget_scope)


def _commitment_budget_scope(scope: Scope) -> None:
    if scope.service is not None or scope.usage_key is not None:
        raise InvalidInput("a budget's scope is a provider, an account and a tag",
                           column="scope")


def check_budget_spec(spec: Any, kinds: Mapping[str, type[StrEnum]], *,
                      scope_rule: Callable[[Any], None] | None = None) -> None:
    """Check and normalise a frozen budget spec in place, naming the first bad field: its
    ``name`` (1–128 characters), ``amount`` (a finite number ≥ 0), each field of ``kinds``
    (a member of its enum), ``scope`` (``scope_rule``, then tag key and value both or
    neither), ``thresholds`` and ``currency`` (ISO 4217). Commitment budgets and spend
    budgets (:mod:`reporting.spend_budgets`) hold the same rules."""
    name = spec.name.strip() if isinstance(spec.name, str) else ""
    if not name or len(name) > 128:
        raise InvalidInput("name must be 1 to 128 characters", column="name")
    object.__setattr__(spec, "name", name)
    try:
        amount = float(spec.amount)
    except (TypeError, ValueError):
        raise InvalidInput("amount must be a number", column="amount") from None
    if not math.isfinite(amount) or amount < 0 or amount > 1e15:
        raise InvalidInput("amount must be a finite number >= 0", column="amount")
    object.__setattr__(spec, "amount", amount)
    for name_, kind in kinds.items():
        try:
            object.__setattr__(spec, name_, kind(getattr(spec, name_)))
        except ValueError:
            allowed = ", ".join(m.value for m in kind)
            raise InvalidInput(f"{name_} must be one of {allowed}", column=name_) from None
    if scope_rule is not None:
        scope_rule(spec.scope)
    if (spec.scope.tag_key is None) != (spec.scope.tag_value is None):
        raise InvalidInput("a budget's tag needs both tag_key and tag_value", column="tag_key")
    object.__setattr__(spec, "thresholds", _thresholds(spec.thresholds))
    currency = spec.currency.upper() if isinstance(spec.currency, str) else ""
    if len(currency) != 3 or not currency.isalpha():
        raise InvalidInput("currency must be a 3-letter ISO 4217 code", column="currency")
    object.__setattr__(spec, "currency", currency)


@dataclass(frozen=True, slots=True)
class Budget:
    """A stored budget."""

    id: int
    spec: BudgetSpec
    created_at: datetime
    updated_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        spec = self.spec
        return {
            "id": self.id, "name": spec.name, "amount": spec.amount,
            "currency": spec.currency, "period": spec.period.value,
            "basis": spec.basis.value, "thresholds": list(spec.thresholds),
            "provider": spec.scope.provider, "account": spec.scope.account,
            "tag_key": spec.scope.tag_key, "tag_value": spec.scope.tag_value,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


def _budget(row: BudgetRow) -> Budget:
    return Budget(
        id=row.id,
        spec=BudgetSpec(
            name=row.name, amount=row.amount, period=BudgetPeriod(row.period),
            basis=BudgetBasis(row.basis),
            scope=Scope(provider=row.provider, account=row.account, tag_key=row.tag_key,
                        tag_value=row.tag_value),
            thresholds=tuple(row.thresholds), currency=row.currency,
        ),
        created_at=row.created_at, updated_at=row.updated_at,
    )


def _write(row: BudgetRow, spec: BudgetSpec) -> None:
    row.name, row.amount, row.currency = spec.name, spec.amount, spec.currency
    row.period, row.basis = spec.period.value, spec.basis.value
    row.thresholds = list(spec.thresholds)
    row.provider, row.account = spec.scope.provider, spec.scope.account
    row.tag_key, row.tag_value = spec.scope.tag_key, spec.scope.tag_value


def check_currency(session: Session, spec: BudgetSpec) -> None:
    """Refuse (InvalidInput on ``currency``) a budget in a currency its data is not in.

    Ladder keeps no exchange rates: a budget is compared with the billing data of
    its scope as billed, so it must be in that data's currency. A provider with no
    data yet cannot be checked (its budgets' status says so until it has some).
    """
    currencies = repository.data_currencies(session, spec.scope.provider)
    found = sorted(set(currencies.values()))
    if not found:
        return
    whose = (f"provider {spec.scope.provider!r}" if spec.scope.provider is not None
             else "every provider")
    if len(found) > 1:
        raise InvalidInput(
            f"the billing data of {whose} is in several currencies ({', '.join(found)}): give "
            "the budget a provider, and the currency that provider's data is in",
            column="currency")
    if spec.currency != found[0]:
        raise InvalidInput(
            f"the budget is in {spec.currency}, but the billing data of {whose} is in "
            f"{found[0]}: a budget must be in its data's currency ({found[0]}); Ladder "
            "converts no currencies", column="currency")


def create_budget(session: Session, spec: BudgetSpec) -> Budget:
    """Store a new budget; Conflict when the name is taken, InvalidInput when its currency is
    not its data's (``check_currency``)."""
    if repository.budget_by_name(session, spec.name) is not None:
        raise Conflict(f"a budget named {spec.name!r} already exists")
    check_currency(session, spec)
    row = BudgetRow()
    _write(row, spec)
    session.add(row)
    session.flush()
    return _budget(row)


def get_budget(session: Session, budget_id: int) -> Budget | None:
    """The budget with this id, or None."""
    row = session.get(BudgetRow, budget_id)
    return _budget(row) if row is not None else None


def list_budgets(session: Session, *, provider: str | None = None, limit: int = 50,
                 offset: int = 0) -> list[Budget]:
    """Budgets by name (of one provider, or all), paginated."""
    return [_budget(row) for row in repository.budget_rows(session, provider=provider,
                                                           limit=limit, offset=offset)]


def count_budgets(session: Session, *, provider: str | None = None) -> int:
    """How many budgets there are, for pagination."""
    return repository.count_budget_rows(session, provider=provider)


def replace_stored(session: Session, row: Any, spec: Any, *, kind: str,
                   by_name: Callable[[Session, str], Any], check: Callable[[Session, Any], None],
                   write: Callable[[Any, Any], None]) -> None:
    """Write ``spec`` over a stored budget ``row`` (of either kind: ``kind`` names it in the
    Conflict raised when another budget has the name; ``check`` refuses a bad currency)."""
    other = by_name(session, spec.name)
    if other is not None and other.id != row.id:
        raise Conflict(f"a {kind} named {spec.name!r} already exists")
    check(session, spec)
    write(row, spec)
    session.flush()


def delete_stored(session: Session, row_type: type[Any], row_id: int) -> bool:
    """Delete the stored row of ``row_type`` (a budget of either kind); False when it did
    not exist."""
    row = session.get(row_type, row_id)
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


def update_budget(session: Session, budget_id: int, spec: BudgetSpec) -> Budget | None:
    """Replace a budget's fields with ``spec``; None when it does not exist.

    For a partial update, build ``spec`` with ``dataclasses.replace(budget.spec, …)``.
    """
    row = session.get(BudgetRow, budget_id)
    if row is None:
        return None
    replace_stored(session, row, spec, kind="budget", by_name=repository.budget_by_name,
                   check=check_currency, write=_write)
    return _budget(row)


def delete_budget(session: Session, budget_id: int) -> bool:
    """Delete a budget; False when it did not exist."""
    return delete_stored(session, BudgetRow, budget_id)


# --- status -----------------------------------------------------------------------------


class SpendForecaster(Protocol):
    """Projects spend over the days ahead from a daily cost series (the forecasting seam).

    ``daily`` is indexed by day (``datetime64[D]``), oldest first, and ends the
    day before ``as_of``. A usage forecaster (``forecasting/``) priced by the
    billing engine can stand here; the default is :class:`RunRate`.
    """

    @property
    def name(self) -> str:
        """How the forecast is made, for the response."""
        ...

    def project(self, daily: pd.Series, days_ahead: int) -> float:
        """Spend expected over the next ``days_ahead`` days."""
        ...


@dataclass(frozen=True, slots=True)
class RunRate:
    """The mean daily cost of the last ``days`` days of data × the days ahead."""

    days: int = 7

    @property
    def name(self) -> str:
        """``run_rate_7d`` for a 7-day window."""
        return f"run_rate_{self.days}d"

    def project(self, daily: pd.Series, days_ahead: int) -> float:
        """Run-rate × days ahead (0 without data)."""
        recent = daily.iloc[-self.days:]
        return float(recent.mean()) * days_ahead if len(recent) and days_ahead > 0 else 0.0


@dataclass(frozen=True, slots=True)
class ThresholdState:
    """One alert threshold of a budget and whether actual or forecast cost reached it."""

    threshold: float
    amount: float
    reached: bool
    forecast_reached: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {"threshold": self.threshold, "amount": self.amount, "reached": self.reached,
                "forecast_reached": self.forecast_reached}


STATUS_DEFINITIONS: dict[str, str] = {
    "actual": "Cost in the budget's scope and basis from the period's first day to as_of "
              "(exclusive): amortized = on-demand + amortized commitment cost (used and "
              "allocated unused); cash = on-demand + commitment fees when billed.",
    "forecast": "actual + the forecaster's projection over the days from as_of to the "
                "period's end (run_rate_Nd: mean daily cost of the last N days of data × "
                "days left).",
    "variance": "forecast − amount: positive when the period is forecast over budget.",
    "variance_ratio": "variance ÷ amount (null when the amount is 0).",
    "consumed": "actual ÷ amount (null when the amount is 0).",
    "forecast_consumed": "forecast ÷ amount (null when the amount is 0).",
    "thresholds": "For each alert share t: reached when actual ≥ t × amount, "
                  "forecast_reached when forecast ≥ t × amount.",
    "state": "over_budget (actual ≥ amount), else forecast_over (forecast ≥ amount), else "
             "warning (a threshold reached or forecast to be), else ok; unavailable when the "
             "budget cannot be reported on (problem says why; its figures are null).",
    "problem": "Why the budget cannot be reported on (state unavailable), else null.",
    **FRESHNESS_DEFINITIONS,
}


@dataclass(frozen=True, slots=True)
class BudgetStatus:
    """Where a budget stands in the period that contains ``as_of``; money rounded to cents."""

    budget: Budget
    period: str | None
    period_start: date | None
    period_end: date | None
    as_of: date | None
    days_elapsed: int | None
    days_remaining: int | None
    actual: float | None
    forecast: float | None
    forecast_method: str
    variance: float | None
    variance_ratio: float | None
    consumed: float | None
    forecast_consumed: float | None
    thresholds: tuple[ThresholdState, ...]
    state: str
    currency: str
    sources: tuple[SnapshotInfo, ...] = ()
    problem: str | None = None
    freshness: Freshness | None = None

    @classmethod
    def unavailable(cls, budget: Budget, problem: str) -> BudgetStatus:
        """The status of a budget that cannot be reported on, saying why (figures null)."""
        return cls(budget=budget, period=None, period_start=None, period_end=None, as_of=None,
                   days_elapsed=None, days_remaining=None, actual=None, forecast=None,
                   forecast_method="", variance=None, variance_ratio=None, consumed=None,
                   forecast_consumed=None, thresholds=(), state="unavailable",
                   currency=budget.spec.currency, problem=problem)

    @property
    def definitions(self) -> dict[str, str]:
        """What each figure means."""
        return dict(STATUS_DEFINITIONS)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready status, with the budget and the definitions."""
        def day(value: date | None) -> str | None:
            return value.isoformat() if value is not None else None

        return {
            "budget": self.budget.to_dict(), "period": self.period,
            "period_start": day(self.period_start), "period_end": day(self.period_end),
            "as_of": day(self.as_of),
            "days_elapsed": self.days_elapsed, "days_remaining": self.days_remaining,
            "actual": self.actual, "forecast": self.forecast,
            "forecast_method": self.forecast_method, "variance": self.variance,
            "variance_ratio": self.variance_ratio, "consumed": self.consumed,
            "forecast_consumed": self.forecast_consumed,
            "thresholds": [t.to_dict() for t in self.thresholds], "state": self.state,
            "currency": self.currency, "problem": self.problem,
            **(self.freshness or Freshness(None, None)).to_dict(),
            "definitions": self.definitions,
            "sources": [s.to_dict() for s in self.sources],
        }


def daily_cost(data: ReportData, session: Session, scope: Scope, basis: BudgetBasis,
               start: date, end: date) -> pd.Series:
    """Cost per day of ``[start, end)`` in ``scope`` on ``basis``, every day present (0 if none)."""
    query = ReportQuery(start=start, end=end, granularity=Granularity.DAY,
                        group_by=Dimension.NONE, scope=scope)
    if basis is BudgetBasis.AMORTIZED:
        return dense.daily_amortized(data, session, query,
                                     np.arange(np.datetime64(start, "D"), np.datetime64(end, "D")))
    return _daily_cost_frames(data, session, query, basis, start, end)


def _daily_cost_frames(data: ReportData, session: Session, query: ReportQuery,
                       basis: BudgetBasis, start: date, end: date) -> pd.Series:
    """``daily_cost`` frame by frame (cash basis; the dense path's reference for amortized)."""
    if basis is BudgetBasis.AMORTIZED:
        figures = ("on_demand_cost", "commitment_used_cost", "commitment_unused_cost")
        rows = key_rows(data, session, query, figures)
        parts = [pd.Series(rows[list(figures)].sum(axis=1).to_numpy(),
                           index=rows["period_key"].to_numpy())]
        extra = unallocated_rows(data, query, column="cost")
        parts.append(pd.Series(extra["cost"].to_numpy(dtype=np.float64),
                               index=extra["period_key"].to_numpy()))
    else:
        rows = key_rows(data, session, query, ("on_demand_cost",))
        parts = [pd.Series(rows["on_demand_cost"].to_numpy(), index=rows["period_key"])]
        parts.append(_cash_commitments(data, session, query))
    index = np.arange(np.datetime64(start, "D"), np.datetime64(end, "D"))
    kept = [p for p in parts if len(p)]
    total = pd.concat(kept).groupby(level=0).sum() if kept else pd.Series(dtype=np.float64)
    return total.reindex(index, fill_value=0.0).astype(np.float64)


def _cash_commitments(data: ReportData, session: Session, query: ReportQuery) -> pd.Series:
    """Commitment fees per day; in a narrowed scope, by the scope's share of each one's cost."""
    cash = commitment_cash_days(data, query)
    cash = cash.assign(fees=cash["recurring_paid"] + cash["upfront_paid"])
    if not query.scope.narrowed:
        return cash.groupby("day")["fees"].sum()
    allocations = data.allocations(session)
    allocations = allocations.assign(cost=allocations["used_cost"] + allocations["unused_cost"],
                                     label=allocations["ref"])
    # Grouped "by commitment" with the commitment's ref as its label: the scope's part of each.
    per_commitment = ReportQuery(start=query.start, end=query.end, granularity=Granularity.DAY,
                                 group_by=Dimension.COMMITMENT, scope=query.scope)
    scoped = key_rows(data, session, per_commitment, ("cost",), frame=allocations)
    share_of = scoped.groupby(["period_key", "group"])["cost"].sum()
    total = cash.groupby(["day", "ref"])["commitment_amortized_cost"].sum()
    share = (share_of.rename_axis(["day", "ref"]) / total).dropna()
    keyed = cash.set_index(["day", "ref"])["fees"]
    attributed = keyed.mul(share.reindex(keyed.index).fillna(0.0))
    return attributed.groupby(level=0).sum()


def budget_status(session: Session, budget: Budget | int, *, as_of: date | None = None,
                  forecaster: SpendForecaster | None = None) -> BudgetStatus | None:
    """The budget's status in the period containing the day before ``as_of``.

    ``as_of`` (exclusive) defaults to the end of the reporting data and is held
    within it. Returns None when the budget id does not exist.
    """
    if isinstance(budget, int):
        found = get_budget(session, budget)
        if found is None:
            return None
        budget = found
    spec = budget.spec
    forecaster = forecaster or RunRate()
    data = load_report_data(session, spec.scope.provider)
    key = ("budget_status", budget.id, spec, as_of, forecaster.name)
    status = data.memo(key, lambda: _status(data, session, budget, as_of, forecaster))
    return replace(status, freshness=freshness(session, data.sources))


def _status(data: ReportData, session: Session, budget: Budget, as_of: date | None,
            forecaster: SpendForecaster) -> BudgetStatus:
    spec = budget.spec
    if data.currency != spec.currency:
        raise InvalidInput(f"the budget is in {spec.currency}, the data in {data.currency}",
                           column="currency")
    first, last = data_days(data)
    as_of = min(max(as_of or last, first + timedelta(days=1)), last)
    granularity = Granularity(spec.period.value)
    period_start, period_end = period_of(as_of - timedelta(days=1), granularity)
    history_start = max(first, min(period_start, as_of - timedelta(days=366)))
    daily = daily_cost(data, session, spec.scope, spec.basis, history_start, as_of)
    in_period = daily[daily.index >= np.datetime64(period_start, "D")]
    actual = float(in_period.sum())
    days_remaining = (period_end - as_of).days
    projected = forecaster.project(daily, days_remaining)
    forecast = actual + projected
    amount = spec.amount
    cents = {name: round_cents(value) / 100 for name, value in
             (("actual", actual), ("forecast", forecast), ("variance", forecast - amount))}

    def share(value: float) -> float | None:
        return value / amount if amount else None

    thresholds = tuple(
        ThresholdState(t, round_cents(t * amount) / 100, actual >= t * amount,
                       forecast >= t * amount)
        for t in spec.thresholds
    )
    if (amount > 0 and actual >= amount) or (amount == 0 and actual > 0):
        state = "over_budget"
    elif forecast >= amount:
        state = "forecast_over"
    elif any(t.reached or t.forecast_reached for t in thresholds):
        state = "warning"
    else:
        state = "ok"
    return BudgetStatus(
        budget=budget, period=period_label(period_start, granularity),
        period_start=period_start, period_end=period_end, as_of=as_of,
        days_elapsed=(as_of - period_start).days, days_remaining=days_remaining,
        actual=cents["actual"], forecast=cents["forecast"],
        forecast_method=forecaster.name, variance=cents["variance"],
        variance_ratio=share(forecast - amount), consumed=share(actual),
        forecast_consumed=share(forecast), thresholds=thresholds, state=state,
        currency=data.currency, sources=data.sources,
    )


def budget_statuses(session: Session, *, provider: str | None = None,
                    as_of: date | None = None) -> list[BudgetStatus]:
    """The status of every budget (of one provider, or all), by name."""
    statuses = []
    for budget in list_budgets(session, provider=provider, limit=10_000):
        # One budget that cannot be reported on (no data for its provider, another
        # currency) is told as such; it never takes the others' statuses down with it.
        try:
            status = budget_status(session, budget, as_of=as_of)
        except (InvalidInput, NotFound) as exc:
            status = BudgetStatus.unavailable(budget, str(exc))
        if status is not None:
            statuses.append(status)
    return statuses


__all__ = [
    "STATUS_DEFINITIONS",
    "Budget",
    "BudgetBasis",
    "BudgetPeriod",
    "BudgetSpec",
    "BudgetStatus",
    "RunRate",
    "SpendForecaster",
    "ThresholdState",
    "budget_status",
    "budget_statuses",
    "count_budgets",
    "create_budget",
    "daily_cost",
    "delete_budget",
    "get_budget",
    "list_budgets",
    "update_budget",
]
