"""Routes of ``/v1/reports``: savings and ESR, coverage, utilisation, waste, amortization,
payment schedule, chargeback, showback, expirations, calendar, budgets.

Every report answers JSON (rows paginated with ``limit``/``offset``) or, with
``format=csv`` or ``Accept: text/csv``, a CSV download of every row.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.orm import Session

from api.budgets.schemas import BudgetStatusRead
from api.budgets.service import budget_statuses
from api.deps import FinanceReader, Reader, SessionDep
from api.errors import problem_doc
from api.params import (
    MAX_OFFSET,
    Filter,
    IsoDate,
    Page,
    PageDep,
    PeriodDep,
    ProviderFilter,
    ShortFilter,
)
from api.reports import service
from api.reports.schemas import ChargeGroup, CommitmentGroup, ReportFormat, ReportRead, UsageGroup
from api.reports.service import ExpiryWindow, Rendering
from reporting import DEFINITIONS, Dimension, Granularity, Scope

router = APIRouter(prefix="/reports", tags=["reports"])

DEFAULT_ROWS = 100
MAX_ROWS = 10_000

REPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The report as JSON, or as CSV (`format=csv` or `Accept: text/csv`).",
          "content": {"text/csv": {"schema": {"type": "string"}}}},
    404: problem_doc("No reporting data yet for the provider: ingest usage and refresh the "
                     "reporting facts (`ladder run` does both)."),
}


def _describe(summary: str, columns: tuple[str, ...]) -> str:
    lines = [summary, "", "Columns:", ""]
    lines += [f"- `{column}`: {DEFINITIONS[column]}" for column in columns
              if column in DEFINITIONS]
    return "\n".join(lines)


async def rendering(
    request: Request,
    format_: Annotated[ReportFormat | None, Query(
        alias="format", description="json (default) or csv; `Accept: text/csv` also asks "
        "for CSV.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_ROWS, description="Rows per page (JSON).")] = (
        DEFAULT_ROWS),
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Rows to skip (JSON).")] = 0,
) -> Rendering:
    """How to send the report: ``format``, else the Accept header; JSON rows paginated."""
    chosen = format_
    if chosen is None:
        accept = request.headers.get("accept", "")
        chosen = ReportFormat.CSV if "text/csv" in accept else ReportFormat.JSON
    return Rendering(format=chosen, limit=limit, offset=offset)


RenderingDep = Annotated[Rendering, Depends(rendering)]

ProviderQuery = Annotated[ProviderFilter | None, Query(
    description="Only this provider (aws, sample, …).")]


async def usage_scope(
    provider: ProviderQuery = None,
    account: Annotated[ShortFilter | None, Query(
        description="Only this billing scope (AWS account, Azure subscription, GCP project).")
    ] = None,
    service: Annotated[Filter | None, Query(description="Only this service.")] = None,
    usage_key: Annotated[Filter | None, Query(description="Only this usage key.")] = None,
    tag_key: Annotated[ShortFilter | None, Query(
        description="A FOCUS tag: group_by=tag groups by its values; with tag_value, only "
        "usage carrying it.")] = None,
    tag_value: Annotated[Filter | None, Query(
        description="Only usage whose tag_key has this value (needs tag_key).")] = None,
) -> Scope:
    """The usage a report covers (InvalidInput names a bad field)."""
    return Scope(provider=provider, account=account, service=service, usage_key=usage_key,
                 tag_key=tag_key, tag_value=tag_value)


async def provider_scope(provider: ProviderQuery = None) -> Scope:
    """The provider a commitment report covers."""
    return Scope(provider=provider)


UsageScope = Annotated[Scope, Depends(usage_scope)]
ProviderScope = Annotated[Scope, Depends(provider_scope)]
GranularityQuery = Annotated[Granularity, Query(
    description="Period length: day, month, quarter, year, or total (the whole window).")]
AsOfQuery = Annotated[IsoDate | None, Query(
    description="Day from which to look ahead (UTC; default: the end of the reporting data).")]
MonthsQuery = Annotated[int | None, Query(ge=1, le=600,
                                          description="Only expirations within this many "
                                          "months.")]
WindowQuery = Annotated[int, Query(ge=1, le=366, description="Days of recent usage that "
                                   "measure the on-demand exposure.")]


async def expiry_window(provider: ProviderQuery = None, as_of: AsOfQuery = None,
                        months: MonthsQuery = None, window_days: WindowQuery = 30,
                        ) -> ExpiryWindow:
    """The commitment ends the expiry reports (expirations, calendar) look at."""
    return ExpiryWindow(provider=provider, as_of=as_of, months=months, window_days=window_days)


ExpiryWindowDep = Annotated[ExpiryWindow, Depends(expiry_window)]


def _period_report(session: Session, name: str, period: PeriodDep, granularity: Granularity,
                   group_by: str, where: Scope, how: Rendering) -> Response:
    query = service.query(period, granularity, group_by, where)
    return service.render(service.period_report(session, name, query), how)


@router.get("/savings", response_model=ReportRead, responses=REPORT_RESPONSES,
            summary="Realised savings and ESR",
            description=_describe("Realised savings and the Effective Savings Rate, from the "
                                  "billing engine and from FOCUS, per period and group.",
                                  ("on_demand_equivalent", "amortized_cost", "realised_savings",
                                   "esr_billing", "esr_focus")))
def savings(session: SessionDep, _caller: Reader, period: PeriodDep, where: UsageScope,
            how: RenderingDep, granularity: GranularityQuery = Granularity.MONTH,
            group_by: Dimension = Dimension.NONE) -> Response:
    """Realised savings and ESR."""
    return _period_report(session, "savings", period, granularity, group_by, where, how)


@router.get("/coverage", response_model=ReportRead, responses=REPORT_RESPONSES,
            summary="Coverage",
            description=_describe("Usage covered by commitments over eligible usage, in "
                                  "on-demand dollars, per period and group.",
                                  ("covered_on_demand", "on_demand_equivalent", "coverage")))
def coverage(session: SessionDep, _caller: Reader, period: PeriodDep, where: UsageScope,
             how: RenderingDep, granularity: GranularityQuery = Granularity.MONTH,
             group_by: UsageGroup = UsageGroup.NONE) -> Response:
    """Coverage."""
    return _period_report(session, "coverage", period, granularity, group_by, where, how)


@router.get("/utilisation", response_model=ReportRead, responses=REPORT_RESPONSES,
            summary="Utilisation",
            description=_describe("Commitment used over commitment paid for, per period.",
                                  ("commitment_cost", "used_cost", "unused_cost",
                                   "utilisation")))
def utilisation(session: SessionDep, _caller: Reader, period: PeriodDep, where: ProviderScope,
                how: RenderingDep, granularity: GranularityQuery = Granularity.MONTH,
                group_by: CommitmentGroup = CommitmentGroup.NONE) -> Response:
    """Utilisation."""
    return _period_report(session, "utilisation", period, granularity, group_by, where, how)


@router.get("/waste", response_model=ReportRead, responses=REPORT_RESPONSES,
            summary="Unused commitment per commitment",
            description=_describe("What each commitment cost and did not cover (waste).",
                                  ("unused_cost", "unallocated_cost", "utilisation")))
def waste(session: SessionDep, _caller: Reader, period: PeriodDep, where: ProviderScope,
          how: RenderingDep,
          granularity: GranularityQuery = Granularity.TOTAL) -> Response:
    """Unused commitment per commitment."""
    return _period_report(session, "waste", period, granularity, "commitment", where, how)


AMORTIZATION_ROUTE: dict[str, Any] = dict(
    response_model=ReportRead, responses=REPORT_RESPONSES,
    summary="Amortized against cash cost",
    description=_describe("Cost on the amortized basis against the cash basis "
                          "(upfront and recurring fees when billed), per period.",
                          ("amortized_cost", "cash_cost", "cash_minus_amortized")))


@router.get("/amortization", **AMORTIZATION_ROUTE)
def amortization(session: SessionDep, _caller: FinanceReader, period: PeriodDep,
                 where: ProviderScope, how: RenderingDep,
                 granularity: GranularityQuery = Granularity.MONTH,
                 group_by: CommitmentGroup = CommitmentGroup.NONE) -> Response:
    """Amortized against cash cost."""
    return _period_report(session, "amortization", period, granularity, group_by, where, how)


router.add_api_route("/amortisation", amortization, methods=["GET"], deprecated=True,
                     operation_id="amortisation_deprecated",
                     **{**AMORTIZATION_ROUTE,
                        "summary": "Amortized against cash cost (deprecated spelling)",
                        "description": "Deprecated: the same report as `/v1/reports/"
                        "amortization`, under its former spelling."})


@router.get("/chargeback", response_model=ReportRead, responses=REPORT_RESPONSES,
            summary="Chargeback",
            description=_describe("The amortized bill charged to who used it: commitments' "
                                  "cost and benefit allocated in proportion to the benefit "
                                  "each group received; totals reconcile to the bill.",
                                  ("amortized_cost", "commitment_used_cost",
                                   "commitment_unused_cost", "benefit")))
def chargeback(session: SessionDep, _caller: FinanceReader, period: PeriodDep,
               where: UsageScope, how: RenderingDep,
               granularity: GranularityQuery = Granularity.MONTH,
               group_by: ChargeGroup = ChargeGroup.ACCOUNT) -> Response:
    """Chargeback."""
    return _period_report(session, "chargeback", period, granularity, group_by, where, how)


@router.get("/showback", response_model=ReportRead, responses=REPORT_RESPONSES,
            summary="Showback per commitment",
            description=_describe("Each commitment's cost and benefit split over the groups "
                                  "whose usage it covered.",
                                  ("commitment_cost", "benefit")))
def showback(session: SessionDep, _caller: FinanceReader, period: PeriodDep, where: UsageScope,
             how: RenderingDep, granularity: GranularityQuery = Granularity.MONTH,
             group_by: ChargeGroup = ChargeGroup.ACCOUNT) -> Response:
    """Showback per commitment."""
    return _period_report(session, "showback", period, granularity, group_by, where, how)


@router.get("/payment-schedule", response_model=ReportRead, responses=REPORT_RESPONSES,
            summary="Future commitment payments",
            description=_describe("Cash due per month and commitment until every commitment "
                                  "ends, against its amortized cost.",
                                  ("upfront_due", "recurring_due", "cash_due",
                                   "amortized_due")))
def payment_schedule(session: SessionDep, _caller: FinanceReader, how: RenderingDep,
                     provider: ProviderQuery = None,
                     as_of: AsOfQuery = None) -> Response:
    """Future commitment payments."""
    return service.render(service.payment_schedule(session, provider=provider, as_of=as_of),
                          how)


@router.get("/expirations", response_model=ReportRead, responses=REPORT_RESPONSES,
            summary="Commitments expiring",
            description=_describe("Each commitment that expires, and the on-demand exposure "
                                  "its end adds.",
                                  ("on_demand_exposure_monthly", "commitment_cost_monthly",
                                   "net_increase_monthly")))
def expirations(session: SessionDep, _caller: Reader, how: RenderingDep,
                window: ExpiryWindowDep) -> Response:
    """Commitments expiring."""
    return service.render(service.expirations(session, window), how)


@router.get("/calendar", response_model=ReportRead, responses=REPORT_RESPONSES,
            summary="Commitment calendar",
            description=_describe("Expirations per month, and the on-demand exposure each "
                                  "month's expirations add.",
                                  ("commitments", "on_demand_exposure_monthly",
                                   "net_increase_monthly")))
def calendar(session: SessionDep, _caller: Reader, how: RenderingDep,
             window: ExpiryWindowDep) -> Response:
    """Commitment calendar."""
    return service.render(service.calendar(session, window), how)


@router.get("/budgets", responses={404: REPORT_RESPONSES[404]}, summary="Status of every budget")
def budgets(session: SessionDep, _caller: FinanceReader, page: PageDep,
            provider: ProviderQuery = None,
            as_of: Annotated[IsoDate | None, Query(
                description="Day (exclusive) up to which actual cost counts (UTC; default: "
                "the end of the reporting data).")] = None) -> Page[BudgetStatusRead]:
    """Every budget's actual, forecast and variance in its current period, by name."""
    return page.slice(budget_statuses(session, provider=provider, as_of=as_of))
