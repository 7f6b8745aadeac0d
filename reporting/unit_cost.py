"""Unit economics: business metrics the user supplies, and the cost of the bill per unit.

A **business metric** is a daily value (requests, active customers, GB processed) for the
whole bill or one part of it. Its ``scope`` is written as text: empty for the whole bill,
``provider=aws``, ``billing_account=…``, ``account=…`` (FOCUS SubAccountId),
``service=…``, ``service_category=…``, ``region=…``, or ``tag:KEY=VALUE`` (a FOCUS tag).
One value per (metric, scope, day): storing one again replaces it.

The **unit cost** of a period is the spend of the metric's scope on the days of the period
that have a value of the metric (so a period half covered by the metric is not charged for
the other half), divided by the metric's sum over those days, times ``per`` (1,000 for a
cost per 1,000 requests). Its trend is the change from the previous period. The share
saved by commitments is FOCUS's: Σ (ContractedCost − EffectiveCost) ÷ Σ ContractedCost
over the lines that carry both, the part of the unit cost commitment discounts took off.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import delete, func, select, tuple_
from sqlalchemy.orm import Session

from core.db.reporting_models import METRIC_NAME_MAX, METRIC_SCOPE_MAX, BusinessMetricRow
from core.errors import InvalidInput, NotFound
from reporting.common import Report, frozen
from reporting.money import ROUNDING_RULE, round_frame
from reporting.spend import (
    SpendBasis,
    SpendGranularity,
    SpendScope,
    basis_cost,
    load_lines,
    select_lines,
    spend_period_end,
    spend_period_label,
    spend_period_starts,
)
from reporting.spend import SpendQuery as _SpendQuery

SCOPE_KEYS = ("provider", "billing_account", "account", "service_category", "service",
              "region")
"""The dimensions a metric's scope may name (beside ``tag:KEY``)."""
MAX_METRIC_VALUE = 1e15
MAX_ERRORS = 10
METRIC_SCOPE_PATTERN = (r"^$|^(provider|billing_account|account|service_category|service|region)"
                        r"=[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*$"
                        r"|^tag:[^=\s\x00-\x1f\x7f][^=\x00-\x1f\x7f]*=[^\s\x00-\x1f\x7f]"
                        r"[^\x00-\x1f\x7f]*$")
"""What a metric's scope text looks like (for the API's schema; ``parse_scope`` decides)."""
METRIC_COLUMNS = ("date", "metric", "value")
"""The columns a metrics file must have (``scope`` is optional)."""


# --- scopes ---------------------------------------------------------------------------------


def parse_scope(text: str | None) -> SpendScope:
    """The spend scope a metric's scope text names (ValueError saying what is wrong)."""
    text = (text or "").strip()
    if not text:
        return SpendScope()
    key, sep, value = text.partition("=")
    key, value = key.strip(), value.strip()
    if key.startswith("tag:"):
        tag = key[4:].strip()
        if not sep or not tag or not value:
            raise ValueError(f"a tag scope is tag:KEY=VALUE, got {text!r}")
        return SpendScope(tag_key=tag, tag_value=value)
    if not sep or key not in SCOPE_KEYS or not value:
        raise ValueError(f"a scope is empty (the whole bill), KEY=VALUE with KEY one of "
                         f"{', '.join(SCOPE_KEYS)}, or tag:KEY=VALUE; got {text!r}")
    return SpendScope(**{key: value})


def canonical_scope(text: str | None) -> str:
    """The scope text as stored: ``key=value`` or ``tag:key=value`` with no spaces around."""
    scope = parse_scope(text)
    if scope.tag_key is not None:
        return f"tag:{scope.tag_key}={scope.tag_value}"
    for key in SCOPE_KEYS:
        value = getattr(scope, key)
        if value is not None:
            return f"{key}={value}"
    return ""


# --- points ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MetricPoint:
    """One value of a business metric on one UTC day for one scope (validated)."""

    day: date
    metric: str
    value: float
    scope: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {"date": self.day.isoformat(), "metric": self.metric, "value": self.value,
                "scope": self.scope}


def metric_point(day: object, metric: object, value: object, scope: object = "",
                 ) -> MetricPoint:
    """A validated point; ValueError with the column's name first (``column: problem``)."""
    if isinstance(day, date):
        parsed_day = day
    else:
        try:
            parsed_day = date.fromisoformat(str(day).strip())
        except ValueError:
            raise ValueError(f"date: must be a day, YYYY-MM-DD, got {day!r}") from None
    name = str(metric).strip() if metric is not None else ""
    if not name or len(name) > METRIC_NAME_MAX or any(ord(c) < 32 or ord(c) == 127
                                                      for c in name):
        raise ValueError(f"metric: must be a name of 1 to {METRIC_NAME_MAX} characters, "
                         f"got {metric!r}")
    try:
        number = float(str(value).strip()) if not isinstance(value, int | float) else float(
            value)
    except ValueError:
        raise ValueError(f"value: must be a number, got {value!r}") from None
    if not math.isfinite(number) or number < 0 or number > MAX_METRIC_VALUE:
        raise ValueError(f"value: must be a finite number from 0 to {MAX_METRIC_VALUE:g}, "
                         f"got {value!r}")
    text = "" if scope is None else str(scope)
    if len(text) > METRIC_SCOPE_MAX:
        raise ValueError(f"scope: at most {METRIC_SCOPE_MAX} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise ValueError("scope: must not hold control characters")
    try:
        canonical = canonical_scope(text)
    except (ValueError, InvalidInput) as exc:
        raise ValueError(f"scope: {exc}") from None
    return MetricPoint(parsed_day, name, number, canonical)


def _duplicates(points: Sequence[MetricPoint], rows: Sequence[int]) -> list[str]:
    seen: dict[tuple[str, str, date], int] = {}
    problems = []
    for point, row in zip(points, rows, strict=True):
        key = (point.metric, point.scope, point.day)
        if key in seen:
            problems.append(f"row {row}: metric {point.metric!r}, scope {point.scope!r} on "
                            f"{point.day} is already on row {seen[key]}")
        else:
            seen[key] = row
    return problems


def _located(message: str, source: str, row: int | None, column: str | None) -> InvalidInput:
    """An error naming the file in its message and the (first) row and column as fields; the
    message itself says each row and column, so they are not repeated before it."""
    error = InvalidInput(message, source=source)
    error.row, error.column = row, column
    return error


def read_metrics_csv(path: str | Path) -> list[MetricPoint]:
    """The points of a metrics CSV (``date,metric,value[,scope]``), all validated.

    Every bad row is told (up to ten), each with its row number (the header is row 1)
    and the column at fault; one bad row refuses the whole file.
    """
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read the metrics file ({exc})", source=source) from None
    reader = csv.DictReader(io.StringIO(text))
    header = [c.strip().lower() for c in reader.fieldnames or []]
    missing = [c for c in METRIC_COLUMNS if c not in header]
    if missing:
        raise _located(f"row 1: the header has no {missing[0]!r} column (a metrics file has "
                       "date, metric, value and optionally scope)", source, 1, missing[0])
    reader.fieldnames = header
    points, rows, problems = [], [], []
    first_row: int | None = None
    first_column: str | None = None
    for number, record in enumerate(reader, start=2):
        try:
            if None in record:
                raise ValueError("scope: the row has more fields than the header")
            points.append(metric_point(record.get("date"), record.get("metric"),
                                       record.get("value"), record.get("scope") or ""))
            rows.append(number)
        except ValueError as exc:
            column, _, problem = str(exc).partition(": ")
            problems.append(f"row {number}, column {column!r}: {problem}")
            if first_row is None:
                first_row, first_column = number, column
    duplicated = _duplicates(points, rows)
    if duplicated and first_row is None:
        first_row, first_column = int(duplicated[0].split()[1].rstrip(":")), "date"
    problems += duplicated
    if problems:
        shown = "; ".join(problems[:MAX_ERRORS])
        more = f" (and {len(problems) - MAX_ERRORS} more)" if len(problems) > MAX_ERRORS else ""
        raise _located(f"{shown}{more}; nothing was stored", source, first_row, first_column)
    if not points:
        raise _located("row 2: the metrics file has no rows", source, 2, None)
    return points


def validate_points(points: Iterable[MetricPoint]) -> list[MetricPoint]:
    """The points, refused as a whole (InvalidInput naming the first duplicate) when one
    (metric, scope, day) appears twice."""
    listed = list(points)
    duplicated = _duplicates(listed, list(range(len(listed))))
    if duplicated:
        raise InvalidInput(f"points: {duplicated[0].replace('row', 'point', 2)}",
                           column="points")
    return listed


def store_metrics(session: Session, points: Sequence[MetricPoint], *, source: str) -> int:
    """Store the points (a point already stored for its metric, scope and day is replaced);
    return how many. Flushes, never commits: a failure stores nothing."""
    points = validate_points(points)
    if not points:
        return 0
    keys = [(p.metric, p.scope, p.day) for p in points]
    for start in range(0, len(keys), 500):
        chunk = keys[start:start + 500]
        session.execute(delete(BusinessMetricRow).where(
            tuple_(BusinessMetricRow.metric, BusinessMetricRow.scope,
                   BusinessMetricRow.day).in_(chunk)))
    session.add_all([BusinessMetricRow(day=p.day, metric=p.metric, scope=p.scope,
                                       value=p.value, source=source[:512]) for p in points])
    session.flush()
    return len(points)


@dataclass(frozen=True, slots=True)
class MetricSeries:
    """One stored metric for one scope: how many days, from when to when."""

    metric: str
    scope: str
    points: int
    first_day: date
    last_day: date
    total: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {"metric": self.metric, "scope": self.scope, "points": self.points,
                "first_day": self.first_day.isoformat(), "last_day": self.last_day.isoformat(),
                "total": self.total}


def list_metrics(session: Session) -> list[MetricSeries]:
    """Every stored metric and scope, by name."""
    rows = session.execute(
        select(BusinessMetricRow.metric, BusinessMetricRow.scope, func.count(),
               func.min(BusinessMetricRow.day), func.max(BusinessMetricRow.day),
               func.sum(BusinessMetricRow.value))
        .group_by(BusinessMetricRow.metric, BusinessMetricRow.scope)
        .order_by(BusinessMetricRow.metric, BusinessMetricRow.scope)).all()
    return [MetricSeries(m, s, int(n), first, last, float(total))
            for m, s, n, first, last, total in rows]


def load_metric(session: Session, metric: str, scope: str) -> pd.Series:
    """The metric's daily values for the scope, indexed by ``datetime64[D]`` (oldest first)."""
    rows = session.execute(
        select(BusinessMetricRow.day, BusinessMetricRow.value)
        .where(BusinessMetricRow.metric == metric, BusinessMetricRow.scope == scope)
        .order_by(BusinessMetricRow.day)).all()
    days = np.array([np.datetime64(day, "D") for day, _ in rows], dtype="datetime64[D]")
    return pd.Series([float(v) for _, v in rows], index=days, dtype=np.float64)


# --- the report -----------------------------------------------------------------------------


UNIT_COST_COLUMNS = ("period", "period_start", "period_end", "metric", "scope", "currency",
                     "metric_days", "metric_value", "cost", "unit_cost", "unit_cost_change",
                     "commitment_savings", "unit_savings", "commitment_savings_share")
UNIT_COST_MONEY = ("cost", "commitment_savings")


@dataclass(frozen=True, slots=True)
class UnitCostQuery:
    """What unit cost to report: the metric and its scope (as stored), the window, the
    periods, the basis and ``per`` (units the cost is per: 1000 for per 1,000 requests)."""

    metric: str
    scope: str = ""
    start: date | None = None
    end: date | None = None
    granularity: SpendGranularity = SpendGranularity.MONTH
    basis: SpendBasis = SpendBasis.AMORTIZED
    per: float = 1.0
    currency: str | None = None
    _spend: _SpendQuery = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "scope", canonical_scope(self.scope))
        except ValueError as exc:
            raise InvalidInput(str(exc), column="scope") from None
        if not isinstance(self.metric, str) or not self.metric.strip():
            raise InvalidInput("metric must be named", column="metric")
        object.__setattr__(self, "metric", self.metric.strip())
        if not math.isfinite(float(self.per)) or not 0 < float(self.per) <= 1e12:
            raise InvalidInput("per must be a number in (0, 1e12]", column="per")
        scope = parse_scope(self.scope)
        if self.currency is not None:
            scope = SpendScope(**{**scope.to_dict(), "currency": self.currency})
        object.__setattr__(self, "_spend", _SpendQuery(
            start=self.start, end=self.end, granularity=self.granularity, basis=self.basis,
            scope=scope))
        object.__setattr__(self, "start", self._spend.start)
        object.__setattr__(self, "end", self._spend.end)
        object.__setattr__(self, "granularity", self._spend.granularity)
        object.__setattr__(self, "basis", self._spend.basis)

    def to_dict(self) -> dict[str, Any]:
        """The parameters as understood, for a response."""
        return {"metric": self.metric, "scope": self.scope,
                "start": self.start.isoformat() if self.start else None,
                "end": self.end.isoformat() if self.end else None,
                "granularity": self.granularity.value, "basis": self.basis.value,
                "per": self.per, "currency": self.currency}


def _daily_frame(lines: pd.DataFrame, basis: SpendBasis) -> pd.DataFrame:
    """Per day: cost on the basis, and commitment savings (contracted − effective, where
    both are known) with the contracted cost they are a share of."""
    contracted = lines["contracted_cost"].to_numpy(dtype=np.float64)
    effective = lines["effective_cost"].to_numpy(dtype=np.float64)
    both = np.isfinite(contracted) & np.isfinite(effective)
    frame = pd.DataFrame({
        "day": lines["day"].to_numpy(),
        "cost": basis_cost(lines, basis),
        "commitment_savings": np.where(both, contracted - effective, 0.0),
        "contracted": np.where(both, contracted, 0.0),
    })
    return frame.groupby("day").sum()


def unit_cost(session: Session, query: UnitCostQuery) -> Report:
    """Cost per unit of a business metric per period, its trend, and the share of it that
    commitments saved (module docstring)."""
    values = load_metric(session, query.metric, query.scope)
    if values.empty:
        raise NotFound(f"no values of metric {query.metric!r} for scope {query.scope!r}: "
                       "`ladder metrics ingest FILE.csv` or POST /v1/metrics")
    spend_query = query._spend
    bill = load_lines(session, spend_query.scope.provider)
    lines, currency, _window = select_lines(bill, spend_query)
    daily = _daily_frame(lines, query.basis)
    days = values.index.to_numpy()
    if query.start is not None:
        values = values[days >= np.datetime64(query.start, "D")]
    if query.end is not None:
        values = values[values.index.to_numpy() < np.datetime64(query.end, "D")]
    joined = daily.reindex(values.index, fill_value=0.0).assign(metric_value=values.to_numpy())
    joined["period_key"] = spend_period_starts(joined.index.to_numpy(), query.granularity)
    grouped = joined.groupby("period_key").agg(
        metric_days=("metric_value", "size"), metric_value=("metric_value", "sum"),
        cost=("cost", "sum"), commitment_savings=("commitment_savings", "sum"),
        contracted=("contracted", "sum")).reset_index()
    with np.errstate(divide="ignore", invalid="ignore"):
        value = grouped["metric_value"].to_numpy()
        grouped["unit_cost"] = np.where(value > 0, grouped["cost"] / value * query.per, np.nan)
        grouped["unit_savings"] = np.where(
            value > 0, grouped["commitment_savings"] / value * query.per, np.nan)
        contracted = grouped["contracted"].to_numpy()
        grouped["commitment_savings_share"] = np.where(
            contracted > 0, grouped["commitment_savings"] / contracted, np.nan)
    grouped["unit_cost_change"] = grouped["unit_cost"] / grouped["unit_cost"].shift(1) - 1.0
    rounded = round_frame(grouped, UNIT_COST_MONEY, groups=("period_key",))
    window_end = (pd.Timestamp(values.index.max()).date() + timedelta(days=1)
                  if len(values) else date.today())
    starts = [pd.Timestamp(k).date() for k in rounded["period_key"]]
    first_metric = pd.Timestamp(values.index.min()).date() if len(values) else window_end
    rounded["period"] = [spend_period_label(d, query.granularity) for d in starts]
    rounded["period_start"] = [max(d, first_metric) for d in starts]
    rounded["period_end"] = [min(spend_period_end(d, query.granularity, window_end), window_end)
                             for d in starts]
    rounded["metric"], rounded["scope"], rounded["currency"] = (query.metric, query.scope,
                                                                currency)
    trend = _trend_note(rounded)
    return Report(name="unit_cost", columns=UNIT_COST_COLUMNS,
                  frame=rounded[list(UNIT_COST_COLUMNS)].reset_index(drop=True),
                  parameters=frozen(query.to_dict()), currency=currency,
                  notes=(f"Unit cost = cost of the scope on the days with a value of "
                         f"{query.metric!r} ÷ the metric's sum over those days × {query.per:g}.",
                         "Commitment savings are FOCUS's: ContractedCost − EffectiveCost of "
                         "the lines that carry both.", *trend, ROUNDING_RULE,
                         *(s.describe() for s in bill.sources)),
                  money=UNIT_COST_MONEY, freshness=bill.freshness())


def _trend_note(frame: pd.DataFrame) -> tuple[str, ...]:
    """The unit cost's change from the first to the last period, in words."""
    known = frame["unit_cost"].dropna()
    if len(known) < 2 or known.iloc[0] == 0:
        return ()
    change = known.iloc[-1] / known.iloc[0] - 1.0
    first, last = frame.loc[known.index[0], "period"], frame.loc[known.index[-1], "period"]
    return (f"Trend: the unit cost changed {change:+.1%} from {first} to {last}.",)


__all__ = [
    "METRIC_COLUMNS",
    "METRIC_SCOPE_PATTERN",
    "SCOPE_KEYS",
    "UNIT_COST_COLUMNS",
    "MetricPoint",
    "MetricSeries",
    "UnitCostQuery",
    "canonical_scope",
    "list_metrics",
    "load_metric",
    "metric_point",
    "parse_scope",
    "read_metrics_csv",
    "store_metrics",
    "unit_cost",
    "validate_points",
]
