"""The whole bill's reports as the API sends them: the request mapped to ``reporting``'s
queries; JSON or CSV by ``api.reports.service.render``. Nothing here computes a figure."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from sqlalchemy.orm import Session

from api.params import Period
from api.reports.service import render
from api.spend_budgets.schemas import SpendBudgetStatusRead
from reporting.common import Report
from reporting.spend import SpendBasis, SpendDimension, SpendGranularity, SpendQuery, SpendScope
from reporting.spend import spend as spend_report
from reporting.spend_budgets import VarianceQuery, spend_variance
from reporting.spend_budgets import spend_budget_statuses as _statuses
from reporting.spend_forecast import (
    ForecastHorizon,
    SpendForecastQuery,
    daily_spend_forecast,
)
from reporting.spend_forecast import spend_forecast as forecast_report
from reporting.unit_cost import UnitCostQuery
from reporting.unit_cost import unit_cost as unit_cost_report


class ForecastDetail(StrEnum):
    """A spend forecast as one row per group and horizon, or per group and day."""

    SUMMARY = "summary"
    DAILY = "daily"


def spend(session: Session, *, period: Period, granularity: SpendGranularity,
          group_by: SpendDimension, basis: SpendBasis, scope: SpendScope) -> Report:
    """Spend on the whole bill."""
    return spend_report(session, SpendQuery(start=period.start, end=period.end,
                                            granularity=granularity, group_by=group_by,
                                            basis=basis, scope=scope))


def spend_forecast(session: Session, *, scope: SpendScope, basis: SpendBasis,
                   horizon: ForecastHorizon | None, as_of: date | None,
                   group_by: SpendDimension, detail: ForecastDetail,
                   fiscal_year_start_month: int) -> Report:
    """The spend forecast, summary or daily."""
    horizons = (horizon,) if horizon is not None else tuple(ForecastHorizon)
    query = SpendForecastQuery(scope=scope, basis=basis, horizons=horizons, as_of=as_of,
                               group_by=group_by,
                               fiscal_year_start_month=fiscal_year_start_month)
    if detail is ForecastDetail.DAILY:
        return daily_spend_forecast(session, query)
    return forecast_report(session, query)


def variance(session: Session, *, scope: SpendScope, basis: SpendBasis,
             group_by: SpendDimension, top: int, as_of: date | None) -> Report:
    """The monthly variance report."""
    return spend_variance(session, VarianceQuery(scope=scope, basis=basis, group_by=group_by,
                                                 top=top, as_of=as_of))


def unit_cost(session: Session, *, metric: str, scope: str, period: Period,
              granularity: SpendGranularity, per: float, basis: SpendBasis,
              currency: str | None) -> Report:
    """Cost per unit of a business metric."""
    return unit_cost_report(session, UnitCostQuery(
        metric=metric, scope=scope, start=period.start, end=period.end,
        granularity=granularity, basis=basis, per=per, currency=currency))


def spend_budget_statuses(session: Session, *, as_of: date | None,
                          fiscal_year_start_month: int) -> list[SpendBudgetStatusRead]:
    """Every spend budget's status."""
    return [SpendBudgetStatusRead.model_validate(status.to_dict()) for status in _statuses(
        session, as_of=as_of, fiscal_year_start_month=fiscal_year_start_month)]


__all__ = ["ForecastDetail", "render", "spend", "spend_budget_statuses", "spend_forecast",
           "unit_cost", "variance"]
