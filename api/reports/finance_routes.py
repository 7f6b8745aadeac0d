"""Routes of the whole bill's reports: ``/v1/reports/spend``, ``/spend-forecast``,
``/variance``, ``/unit-cost`` and ``/spend-budgets`` (finance and admin).

Each answers JSON (rows paginated with ``limit``/``offset``) or CSV (``format=csv`` or
``Accept: text/csv``), as the other reports; the figures are ``reporting``'s.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from api.deps import FinanceReader, SessionDep, SettingsDep
from api.params import Filter, IsoDate, Page, PageDep, PeriodDep, ProviderFilter, ShortFilter
from api.reports import finance_service as service
from api.reports.routes import REPORT_RESPONSES, RenderingDep, _describe
from api.reports.schemas import ReportRead
from api.spend_budgets.schemas import SpendBudgetStatusRead
from reporting.spend import SpendBasis, SpendDimension, SpendGranularity, SpendScope
from reporting.spend_budgets import MOVER_DIMENSIONS
from reporting.spend_forecast import ForecastHorizon
from reporting.unit_cost import METRIC_SCOPE_PATTERN

router = APIRouter(prefix="/reports", tags=["reports"])


MoverDimension = StrEnum("MoverDimension",  # type: ignore[misc]
                         {dimension.name: dimension.value for dimension in MOVER_DIMENSIONS})
"""What a variance report's movers are told by (``reporting.spend_budgets``' rule)."""
DEFAULT_MOVER = MoverDimension(SpendDimension.SERVICE)

BILL_RESPONSES = {**REPORT_RESPONSES, 404: {
    "description": "No bill stored yet (ingest a FOCUS bill: `ladder ingest PATH`), or no "
                   "values of the metric asked for.",
    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
}}


async def spend_scope(
    provider: Annotated[ProviderFilter | None, Query(
        description="Only this provider's bill (aws, sample, …).")] = None,
    billing_account: Annotated[Filter | None, Query(
        description="Only this FOCUS BillingAccountId.")] = None,
    account: Annotated[Filter | None, Query(
        description="Only this FOCUS SubAccountId (AWS account, Azure subscription, GCP "
        "project).")] = None,
    service_category: Annotated[ShortFilter | None, Query(
        description="Only this FOCUS ServiceCategory (Compute, Storage, Databases, …).")
    ] = None,
    service: Annotated[Filter | None, Query(description="Only this FOCUS ServiceName.")] = None,
    region: Annotated[ShortFilter | None, Query(description="Only this FOCUS RegionId.")
                      ] = None,
    charge_category: Annotated[ShortFilter | None, Query(
        description="Only this FOCUS ChargeCategory (Usage, Purchase, Tax, Credit, "
        "Adjustment).")] = None,
    tag_key: Annotated[ShortFilter | None, Query(
        description="A FOCUS tag: group_by=tag groups by its values; with tag_value, only "
        "lines carrying it.")] = None,
    tag_value: Annotated[Filter | None, Query(
        description="Only lines whose tag_key has this value (needs tag_key).")] = None,
    currency: Annotated[ShortFilter | None, Query(
        description="Only lines billed in this currency (needed when the bill has several).")
    ] = None,
) -> SpendScope:
    """The part of the bill a report covers (InvalidInput names a bad field)."""
    return SpendScope(provider=provider, billing_account=billing_account, account=account,
                      service_category=service_category, service=service, region=region,
                      charge_category=charge_category, tag_key=tag_key, tag_value=tag_value,
                      currency=currency)


SpendScopeDep = Annotated[SpendScope, Depends(spend_scope)]
BasisQuery = Annotated[SpendBasis, Query(
    description="cash: Σ FOCUS BilledCost (purchases when billed); amortized: Σ FOCUS "
    "EffectiveCost (purchases 0, their cost spread over the usage they cover). A "
    "commitment's purchase and its amortization are never both counted.")]
AsOfQuery = Annotated[IsoDate | None, Query(
    description="First day forecast (UTC; default: the end of the bill).")]


@router.get("/spend", response_model=ReportRead, responses=BILL_RESPONSES,
            summary="Spend on the whole bill",
            description=_describe(
                "Every FOCUS row of the bill (compute, storage, database, network, support, "
                "purchases, credits, taxes) per period and group. Cash basis = Σ BilledCost, "
                "amortized basis = Σ EffectiveCost: a commitment's purchase counts on the "
                "cash basis only, its amortization on the amortized basis only.",
                ("cost", "billed_cost", "effective_cost", "list_cost")))
def spend(session: SessionDep, _caller: FinanceReader, period: PeriodDep,
          where: SpendScopeDep, how: RenderingDep,
          granularity: Annotated[SpendGranularity, Query(
              description="day, week (ISO, Monday first), month, quarter, year or total."
          )] = SpendGranularity.MONTH,
          group_by: SpendDimension = SpendDimension.NONE,
          basis: BasisQuery = SpendBasis.AMORTIZED) -> Response:
    """Spend on the whole bill."""
    return service.render(service.spend(session, period=period, granularity=granularity,
                                        group_by=group_by, basis=basis, scope=where), how)


@router.get("/spend-forecast", response_model=ReportRead, responses=BILL_RESPONSES,
            summary="Spend forecast",
            description=_describe(
                "Actual spend to date and the forecast to the end of the month, quarter and "
                "fiscal year (LADDER_FISCAL_YEAR_START_MONTH), with 80 % and 95 % intervals; "
                "detail=daily gives each day's forecast. Known committed spend is counted as "
                "known on provider-wide scopes.",
                ("actual", "known_spend", "forecast", "forecast_low_95", "forecast_low_80",
                 "forecast_high_80", "forecast_high_95")))
def spend_forecast(session: SessionDep, _caller: FinanceReader, settings: SettingsDep,
                   where: SpendScopeDep, how: RenderingDep,
                   horizon: Annotated[ForecastHorizon | None, Query(
                       description="Only this horizon (default: month, quarter and "
                       "fiscal_year).")] = None,
                   as_of: AsOfQuery = None,
                   group_by: SpendDimension = SpendDimension.NONE,
                   basis: BasisQuery = SpendBasis.AMORTIZED,
                   detail: Annotated[service.ForecastDetail, Query(
                       description="summary (a row per group and horizon) or daily (a row "
                       "per group and day).")] = service.ForecastDetail.SUMMARY) -> Response:
    """Spend forecast to the end of month, quarter and fiscal year."""
    return service.render(service.spend_forecast(
        session, scope=where, basis=basis, horizon=horizon, as_of=as_of, group_by=group_by,
        detail=detail, fiscal_year_start_month=settings.fiscal_year_start_month), how)


@router.get("/variance", response_model=ReportRead, responses=BILL_RESPONSES,
            summary="Monthly variance",
            description=_describe(
                "For the month containing as_of: each monthly spend budget's budget, actual, "
                "forecast and variance; the total against the previous month; the top "
                "movers that explain the change.",
                ("budget", "previous", "actual", "forecast", "variance", "change",
                 "share_of_change")))
def variance(session: SessionDep, _caller: FinanceReader, where: SpendScopeDep,
             how: RenderingDep, as_of: AsOfQuery = None,
             group_by: Annotated[MoverDimension, Query(
                 description="What the movers are told by.")
             ] = DEFAULT_MOVER,
             top: Annotated[int, Query(ge=1, le=100, description="Movers shown; the rest "
                                       "are summed in (other).")] = 10,
             basis: BasisQuery = SpendBasis.AMORTIZED) -> Response:
    """Monthly variance with the top movers."""
    return service.render(service.variance(session, scope=where, basis=basis,
                                           group_by=SpendDimension(group_by.value), top=top,
                                           as_of=as_of), how)


@router.get("/unit-cost", response_model=ReportRead, responses=BILL_RESPONSES,
            summary="Cost per unit of a business metric",
            description=_describe(
                "The scope's cost on the days with a value of the metric ÷ the metric × per, "
                "per period; its change; and the share commitments saved.",
                ("metric_value", "cost", "unit_cost", "unit_cost_change",
                 "commitment_savings", "commitment_savings_share")))
def unit_cost(session: SessionDep, _caller: FinanceReader, period: PeriodDep,
              how: RenderingDep,
              metric: Annotated[ShortFilter, Query(description="The metric's name.")],
              scope: Annotated[str, Query(
                  max_length=512, pattern=METRIC_SCOPE_PATTERN,
                  description="The metric's scope as stored: empty (the whole bill), KEY=VALUE "
                  "(provider, billing_account, account, service_category, service, region) "
                  "or tag:KEY=VALUE.")] = "",
              granularity: Annotated[SpendGranularity, Query(
                  description="day, week, month, quarter, year or total.")
              ] = SpendGranularity.MONTH,
              per: Annotated[float, Query(gt=0, le=1e12, allow_inf_nan=False,
                                          description="Units the cost is per (1000: per "
                                          "1,000 requests).")] = 1.0,
              basis: BasisQuery = SpendBasis.AMORTIZED,
              currency: Annotated[ShortFilter | None, Query(
                  description="The currency of the lines (when the bill has several).")
              ] = None) -> Response:
    """Cost per unit of a business metric."""
    return service.render(service.unit_cost(
        session, metric=metric, scope=scope, period=period, granularity=granularity,
        per=per, basis=basis, currency=currency), how)


@router.get("/spend-budgets", responses={404: REPORT_RESPONSES[404]},
            summary="Status of every spend budget")
def spend_budgets(session: SessionDep, _caller: FinanceReader, settings: SettingsDep,
                  page: PageDep, as_of: AsOfQuery = None) -> Page[SpendBudgetStatusRead]:
    """Every spend budget's actual, forecast with interval, burn and run-out date, by name."""
    return page.slice(service.spend_budget_statuses(
        session, as_of=as_of, fiscal_year_start_month=settings.fiscal_year_start_month))
