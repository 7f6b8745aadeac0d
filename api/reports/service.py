"""Reports as the API sends them: the request mapped to ``reporting``'s query, the result
to JSON (one page of rows) or CSV (every row).

The figures are ``reporting``'s; nothing here computes one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

import numpy as np
import pandas as pd
from fastapi import Response
from pydantic_core import to_json
from sqlalchemy.orm import Session

import reporting
from api.params import Period
from api.reports.schemas import ReportFormat
from reporting import Dimension, Granularity, Report, ReportQuery, Scope

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"


@dataclass(frozen=True, slots=True)
class Rendering:
    """How to send a report: its format and, for JSON, which rows."""

    format: ReportFormat
    limit: int
    offset: int


def query(period: Period, granularity: Granularity, group_by: str, where: Scope) -> ReportQuery:
    """``reporting``'s query for the request (InvalidInput names a bad field)."""
    return ReportQuery(start=period.start, end=period.end, granularity=granularity,
                       group_by=Dimension(group_by), scope=where)


def as_of_instant(day: date | None) -> datetime | None:
    """UTC midnight of ``day``."""
    return None if day is None else datetime.combine(day, time(), UTC)


def _filename(report: Report) -> str:
    parameters = report.parameters
    span = "_".join(str(parameters[name]) for name in ("start", "end", "as_of")
                    if parameters.get(name))
    return f"{report.name}{'_' + span if span else ''}.csv"


def _fallback(value: object) -> object:
    """JSON for what pydantic's serializer does not know: numpy scalars, NaT."""
    if isinstance(value, np.generic):
        return value.item()
    if value is pd.NaT:
        return None
    return str(value)


def page_rows(report: Report, offset: int, limit: int) -> list[dict[str, Any]]:
    """One page of the report's rows, keyed by column (native Python values).

    Column by column (``Series.tolist`` makes the native values), then zipped into
    rows: a fifth of ``to_dict(orient="records")``'s time, which boxes cell by cell.
    """
    page = report.frame.iloc[offset:offset + limit]
    columns = list(report.columns)
    values = [page[column].tolist() for column in columns]
    return [dict(zip(columns, row, strict=True)) for row in zip(*values, strict=True)]


def render(report: Report, how: Rendering) -> Response:
    """The report as JSON (one page of rows) or as a CSV download (every row).

    The JSON is serialized in one pass by pydantic's (Rust) serializer from the
    page's rows, not validated field by field: a page holds up to 10,000 rows.
    Its shape is ``ReportRead``; NaN and NaT are null, dates ISO 8601.
    """
    if how.format is ReportFormat.CSV:
        fresh = report.fresh_fields()
        # The rows alone cannot say how recent they are: the headers do.
        return Response(report.to_csv(), media_type=CSV_MEDIA_TYPE, headers={
            "Content-Disposition": f'attachment; filename="{_filename(report)}"',
            "Ladder-Data-Through": fresh["data_through"] or "",
            "Ladder-Stale": "true" if fresh["stale"] else "false"})
    body = {
        "report": report.name, "currency": report.currency,
        "parameters": dict(report.parameters), "columns": list(report.columns),
        "definitions": report.definitions, "notes": list(report.notes),
        **report.fresh_fields(), "totals": report.totals(),
        "sources": [source.to_dict() for source in report.sources],
        "rows": page_rows(report, how.offset, how.limit),
        "total_rows": len(report.frame), "limit": how.limit, "offset": how.offset,
    }
    return Response(to_json(body, inf_nan_mode="null", fallback=_fallback),
                    media_type="application/json")


QueryReport = Callable[[Session, ReportQuery], Report]

REPORTS: dict[str, QueryReport] = {
    "savings": reporting.savings,
    "coverage": reporting.coverage,
    "utilisation": reporting.utilisation,
    "waste": reporting.waste,
    "amortization": reporting.amortization,
    "chargeback": reporting.chargeback,
    "showback": reporting.commitment_showback,
}
"""The reports over a period, by their route's name."""


def period_report(session: Session, name: str, report_query: ReportQuery) -> Report:
    """One of the period reports (``REPORTS``)."""
    return REPORTS[name](session, report_query)


def payment_schedule(session: Session, *, provider: str | None, as_of: date | None) -> Report:
    """Future commitment payments per month and commitment."""
    return reporting.payment_schedule(session, provider=provider, as_of=as_of_instant(as_of))


@dataclass(frozen=True, slots=True)
class ExpiryWindow:
    """Which commitment ends an expiry report looks at: of ``provider`` (None: all), from
    ``as_of`` (None: the end of the data) for ``months`` (None: all), their on-demand
    exposure measured on the last ``window_days`` days of usage."""

    provider: str | None = None
    as_of: date | None = None
    months: int | None = None
    window_days: int = 30


def expirations(session: Session, window: ExpiryWindow) -> Report:
    """Each commitment expiring, and the on-demand exposure it adds."""
    return reporting.expirations(session, provider=window.provider,
                                 as_of=as_of_instant(window.as_of), months=window.months,
                                 window_days=window.window_days)


def calendar(session: Session, window: ExpiryWindow) -> Report:
    """Expirations per month and the exposure they add."""
    return reporting.commitment_calendar(session, provider=window.provider,
                                         as_of=as_of_instant(window.as_of),
                                         months=window.months, window_days=window.window_days)
