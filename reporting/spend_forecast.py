"""Spend forecasts on the whole bill: to the end of the month, quarter and fiscal year.

For a scope of the bill (``SpendScope``) and optionally one series per group (provider,
account, service, tag…), the daily spend up to ``as_of`` (exclusive; default: the end of
the bill) is forecast by ``forecasting.spend`` to the end of the period containing
``as_of``: the calendar month, the calendar quarter or the fiscal year (starting in
``fiscal_year_start_month``, a setting). A row's ``forecast`` is the period's actual spend
to date plus the forecast median of the days left; its intervals are the 80 % and 95 %
intervals of the period's total (quantiles of the sum of the sample paths).

**Known spend**: on a scope no narrower than a provider (and its currency), the stored
commitments' cost over the days left is known, not forecast: their amortized cost
(quantity × (upfront ÷ term + hourly) per active hour) on the amortized basis, their
recurring fees per active hour plus an upfront fee on the day one starts on the cash
basis. It is taken out of the history (the same commitments' cost on past days) before
the fit and added back with no uncertainty. A narrower scope forecasts everything.

Each figure is rounded to the cent on its own (quantiles of different rows do not add up).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, timedelta
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from core.db.repository import list_commitments
from core.errors import InvalidInput
from forecasting.spend import DailySpendForecaster, SpendForecast, forecast_spend
from reporting.common import Granularity, Report, frozen, period_label, period_of
from reporting.money import cents
from reporting.spend import (
    BillLines,
    SpendBasis,
    SpendDimension,
    SpendScope,
    basis_cost,
    group_values,
    load_lines,
    select_lines,
)
from reporting.spend import SpendQuery as _SpendQuery

MAX_GROUPS = 50
HISTORY_DAYS = 365


class ForecastHorizon(StrEnum):
    """The period a spend forecast runs to the end of."""

    MONTH = "month"
    QUARTER = "quarter"
    FISCAL_YEAR = "fiscal_year"


def horizon_period(day: date, horizon: ForecastHorizon,
                   fiscal_year_start_month: int = 1) -> tuple[date, date, str]:
    """The period of ``horizon`` containing ``day``: start, end (exclusive), label.

    A fiscal year starting in month m is labelled by the calendar year it ends in
    (``FY2025`` runs from 2024-04-01 with m = 4); with m = 1 it is the calendar year.
    """
    if horizon is not ForecastHorizon.FISCAL_YEAR:
        granularity = Granularity(horizon.value)
        start, end = period_of(day, granularity)
        return start, end, period_label(start, granularity)
    if not 1 <= fiscal_year_start_month <= 12:
        raise InvalidInput("the fiscal year's start month must be 1 to 12",
                           column="fiscal_year_start_month")
    year = day.year if day.month >= fiscal_year_start_month else day.year - 1
    start = date(year, fiscal_year_start_month, 1)
    end = date(year + 1, fiscal_year_start_month, 1)
    label = f"FY{end.year:04d}" if fiscal_year_start_month > 1 else f"{start.year:04d}"
    return start, end, label


@dataclass(frozen=True, slots=True)
class SpendForecastQuery:
    """A spend forecast's parameters: scope and basis, the horizons, ``as_of`` (first day
    forecast; default: the end of the bill), grouping and the fiscal year's start month."""

    scope: SpendScope = field(default_factory=SpendScope)
    basis: SpendBasis = SpendBasis.AMORTIZED
    horizons: tuple[ForecastHorizon, ...] = (ForecastHorizon.MONTH, ForecastHorizon.QUARTER,
                                             ForecastHorizon.FISCAL_YEAR)
    as_of: date | None = None
    group_by: SpendDimension = SpendDimension.NONE
    fiscal_year_start_month: int = 1
    known_commitments: bool = True

    def __post_init__(self) -> None:
        checked = _SpendQuery(basis=self.basis, group_by=self.group_by, scope=self.scope)
        object.__setattr__(self, "basis", checked.basis)
        object.__setattr__(self, "group_by", checked.group_by)
        try:
            object.__setattr__(self, "horizons", tuple(dict.fromkeys(
                ForecastHorizon(h) for h in self.horizons)))
        except ValueError:
            raise InvalidInput("horizon must be month, quarter or fiscal_year",
                               column="horizon") from None
        if not self.horizons:
            raise InvalidInput("name at least one horizon", column="horizon")
        if not 1 <= int(self.fiscal_year_start_month) <= 12:
            raise InvalidInput("fiscal_year_start_month must be 1 to 12",
                               column="fiscal_year_start_month")

    def to_dict(self) -> dict[str, Any]:
        """The parameters as understood, for a response."""
        return {"basis": self.basis.value, "horizons": [h.value for h in self.horizons],
                "as_of": self.as_of.isoformat() if self.as_of else None,
                "group_by": self.group_by.value,
                "fiscal_year_start_month": self.fiscal_year_start_month,
                "known_commitments": self.known_commitments, **self.scope.to_dict()}


def _narrowed(scope: SpendScope) -> bool:
    """Whether the scope is narrower than whole providers (and a currency)."""
    return any(value is not None for name, value in scope.to_dict().items()
               if name not in ("provider", "currency"))


def commitment_spend(session: Session, providers: list[str], basis: SpendBasis,
                     start: date, end: date) -> pd.Series:
    """The stored commitments' cost per day of ``[start, end)`` on ``basis`` (module
    docstring), every day present."""
    days = np.arange(np.datetime64(start, "D"), np.datetime64(end, "D"))
    total = np.zeros(len(days))
    day_starts = days.astype("datetime64[s]").astype(np.int64)
    for provider in providers:
        for commitment in list_commitments(session, provider):
            begin = int(commitment.start.astimezone(UTC).timestamp())
            finish = int(commitment.end.astimezone(UTC).timestamp())
            hours = np.clip(np.minimum(day_starts + 86400, finish)
                            - np.maximum(day_starts, begin), 0, None) / 3600.0
            offering = commitment.offering
            if basis is SpendBasis.AMORTIZED:
                total += commitment.quantity * offering.amortized_hourly * hours
            else:
                total += commitment.quantity * offering.hourly * hours
                on_start = (day_starts <= begin) & (begin < day_starts + 86400)
                total += np.where(on_start, commitment.quantity * offering.upfront, 0.0)
    return pd.Series(total, index=days, dtype=np.float64)


@dataclass(frozen=True, slots=True)
class GroupForecast:
    """One group's forecast to the end of the longest horizon, with its known spend."""

    group: str
    history: pd.Series
    known: pd.Series
    forecast: SpendForecast


def _group_series(lines: pd.DataFrame, query: SpendForecastQuery, start: date,
                  as_of: date) -> dict[str, pd.Series]:
    """Daily spend of each group from ``start`` to ``as_of`` (the largest first)."""
    index = np.arange(np.datetime64(start, "D"), np.datetime64(as_of, "D"))
    kept = lines[(lines["day"].to_numpy() >= index[0]) & (lines["day"].to_numpy() < index[-1]
                                                           + 1)] if len(index) else lines[:0]
    frame = pd.DataFrame({"day": kept["day"].to_numpy(), "cost": basis_cost(kept, query.basis),
                          "group": group_values(kept, query.group_by, query.scope.tag_key)})
    totals = frame.groupby("group")["cost"].sum().abs().sort_values(ascending=False)
    groups = list(totals.index[:MAX_GROUPS])
    if not groups and query.group_by is SpendDimension.NONE:
        groups = ["all"]  # no spend in the scope yet: a forecast of nothing, not no forecast
    return {str(group): frame[frame["group"] == group].groupby("day")["cost"].sum()
            .reindex(index, fill_value=0.0).astype(np.float64) for group in groups}


def group_forecasts(session: Session, bill: BillLines, query: SpendForecastQuery,
                    ) -> tuple[list[GroupForecast], date, date, str]:
    """Each group's forecast from ``as_of`` to the end of the query's longest horizon, the
    first day of history, ``as_of`` and the currency."""
    lines, currency, window = select_lines(bill, _SpendQuery(scope=query.scope))
    data_end = window[1]
    as_of = query.as_of or data_end
    if as_of > data_end:
        raise InvalidInput(f"as_of ({as_of}) is after the end of the bill ({data_end}): "
                           "a forecast starts where the data ends", column="as_of")
    if as_of <= window[0]:
        raise InvalidInput(f"as_of ({as_of}) leaves no history before it (the bill starts "
                           f"{window[0]})", column="as_of")
    start = max(window[0], as_of - timedelta(days=HISTORY_DAYS))
    end = max(horizon_period(as_of, h, query.fiscal_year_start_month)[1]
              for h in query.horizons)
    known_on = query.known_commitments and not _narrowed(query.scope) and \
        query.group_by in (SpendDimension.NONE, SpendDimension.PROVIDER)
    out = []
    for group, history in _group_series(lines, query, start, as_of).items():
        providers = [s.provider for s in bill.sources] if query.group_by is \
            SpendDimension.NONE else [group]
        if query.scope.provider is not None:
            providers = [query.scope.provider]
        known = commitment_spend(session, providers, query.basis, start, end) if known_on \
            else pd.Series(0.0, index=np.arange(np.datetime64(start, "D"),
                                                np.datetime64(end, "D")))
        forecast = forecast_spend(history, (end - as_of).days, known=known,
                                  model=DailySpendForecaster())
        out.append(GroupForecast(group, history, known, forecast))
    return out, start, as_of, currency


SUMMARY_COLUMNS = ("group", "horizon", "period", "period_start", "period_end", "as_of",
                   "currency", "days_elapsed", "days_remaining", "actual", "known_spend",
                   "forecast", "forecast_mean", "forecast_low_95", "forecast_low_80",
                   "forecast_high_80", "forecast_high_95")
SUMMARY_MONEY = ("actual", "known_spend", "forecast", "forecast_mean", "forecast_low_95",
                 "forecast_low_80", "forecast_high_80", "forecast_high_95")
DAILY_COLUMNS = ("group", "day", "currency", "known_spend", "forecast", "forecast_mean",
                 "forecast_low_95", "forecast_low_80", "forecast_high_80", "forecast_high_95")
DAILY_MONEY = ("known_spend", "forecast", "forecast_mean", "forecast_low_95",
               "forecast_low_80", "forecast_high_80", "forecast_high_95")
_QUANTILES = {"forecast": "q0.5", "forecast_mean": "mean", "forecast_low_95": "q0.025",
              "forecast_low_80": "q0.1", "forecast_high_80": "q0.9", "forecast_high_95": "q0.975"}


def _period_total(item: GroupForecast, as_of: date, period_end: date) -> dict[str, float]:
    """The mean and quantiles of the paths' sum over ``[as_of, period_end)``."""
    days = (period_end - as_of).days
    if days <= 0:
        return {column: 0.0 for column in _QUANTILES}
    sums = item.forecast.paths[:, :days].sum(axis=1)
    return {column: float(sums.mean() if q == "mean" else np.quantile(sums, float(q[1:])))
            for column, q in _QUANTILES.items()}


def _rounded(frame: pd.DataFrame, money: tuple[str, ...]) -> pd.DataFrame:
    for column in money:
        frame[column] = cents(frame[column].to_numpy(dtype=np.float64)) / 100.0
    return frame


NOTES = (
    "forecast = actual to date + the median of the days left; intervals are those of the "
    "period's total (the sum of sample paths), 80 % and 95 %.",
    "Known spend: the stored commitments' cost over the days left (on scopes no narrower "
    "than a provider), counted as known, not forecast.",
    "Each figure is rounded to the cent on its own: quantiles of rows do not add up.",
)


def spend_forecast(session: Session, query: SpendForecastQuery | None = None) -> Report:
    """Per group and horizon: actual to date, the forecast to the period's end and its 80 %
    and 95 % intervals (module docstring)."""
    query = query or SpendForecastQuery()
    bill = load_lines(session, query.scope.provider)
    forecasts, _start, as_of, currency = group_forecasts(session, bill, query)
    rows = []
    for item in forecasts:
        for horizon in query.horizons:
            start, end, label = horizon_period(as_of, horizon, query.fiscal_year_start_month)
            actual = float(item.history[item.history.index >= np.datetime64(start, "D")].sum())
            known = item.known[(item.known.index >= np.datetime64(as_of, "D"))
                               & (item.known.index < np.datetime64(end, "D"))]
            totals = _period_total(item, as_of, end)
            rows.append({"group": item.group, "horizon": horizon.value, "period": label,
                         "period_start": start, "period_end": end, "as_of": as_of,
                         "currency": currency, "days_elapsed": (as_of - start).days,
                         "days_remaining": (end - as_of).days, "actual": actual,
                         "known_spend": float(known.sum()),
                         **{c: actual + v for c, v in totals.items()}})
    frame = _rounded(pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS)), SUMMARY_MONEY)
    return Report(name="spend_forecast", columns=SUMMARY_COLUMNS, frame=frame,
                  parameters=frozen(query.to_dict()), currency=currency,
                  notes=(*NOTES, *(s.describe() for s in bill.sources)),
                  money=SUMMARY_MONEY, freshness=bill.freshness())


def daily_spend_forecast(session: Session, query: SpendForecastQuery | None = None) -> Report:
    """Per group and day from ``as_of`` to the end of the longest horizon: the forecast
    median, mean, intervals and known spend of each day."""
    query = query or SpendForecastQuery()
    bill = load_lines(session, query.scope.provider)
    forecasts, _start, as_of, currency = group_forecasts(session, bill, query)
    parts = []
    for item in forecasts:
        daily = item.forecast.daily
        known = item.known.reindex(daily["day"].to_numpy(), fill_value=0.0).to_numpy()
        part = pd.DataFrame({"group": item.group,
                             "day": [pd.Timestamp(d).date() for d in daily["day"]],
                             "currency": currency, "known_spend": known})
        for column, quantile in _QUANTILES.items():
            part[column] = daily[quantile].to_numpy()
        parts.append(part)
    frame = _rounded(pd.concat(parts, ignore_index=True), DAILY_MONEY)
    return Report(name="spend_forecast_daily", columns=DAILY_COLUMNS, frame=frame,
                  parameters=frozen({**query.to_dict(), "as_of": as_of.isoformat()}),
                  currency=currency, notes=(*NOTES[1:], *(s.describe() for s in bill.sources)),
                  money=DAILY_MONEY, freshness=bill.freshness())


__all__ = [
    "DAILY_COLUMNS",
    "SUMMARY_COLUMNS",
    "ForecastHorizon",
    "GroupForecast",
    "SpendForecastQuery",
    "commitment_spend",
    "daily_spend_forecast",
    "group_forecasts",
    "horizon_period",
    "spend_forecast",
]
