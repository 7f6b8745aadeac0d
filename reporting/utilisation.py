"""Coverage and utilisation over time, and unused commitment (waste) per commitment.

* coverage = covered on-demand dollars ÷ on-demand equivalent, per period and key
  dimension or tag (DESIGN.md, Money);
* utilisation = used ÷ paid commitment dollars (amortized), per period, overall,
  per provider or per commitment; waste = the unused dollars.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from core.errors import InvalidInput
from reporting import dense
from reporting.common import Dimension, Granularity, Report, ReportQuery, ratio
from reporting.freshness import with_freshness
from reporting.selection import (
    ALL,
    finish,
    in_window,
    key_rows,
    period_keys,
    summed,
    window,
)
from reporting.snapshot import ReportData, load_report_data

COVERAGE_COLUMNS = (
    "period", "period_start", "period_end", "group", "hours", "units", "on_demand_equivalent",
    "covered_on_demand", "on_demand_cost", "coverage",
)
COVERAGE_MONEY = ("on_demand_equivalent", "covered_on_demand", "on_demand_cost")

UTILISATION_COLUMNS = (
    "period", "period_start", "period_end", "group", "hours", "commitments", "quantity_hours",
    "used_quantity_hours", "commitment_cost", "used_cost", "unused_cost", "unallocated_cost",
    "utilisation",
)
UTILISATION_MONEY = ("commitment_cost", "used_cost", "unused_cost", "unallocated_cost")

WASTE_COLUMNS = (
    "period", "period_start", "period_end", "group", "provider", "commitment_id",
    "offering_id", "shape", "quantity", "start_at", "expires_at", "hours", "quantity_hours",
    "used_quantity_hours", "commitment_cost", "used_cost", "unused_cost", "unallocated_cost",
    "utilisation",
)


def coverage(session: Session, query: ReportQuery | None = None) -> Report:
    """Coverage per period and ``query.group_by`` (a key dimension, a tag, or none)."""
    query = query or ReportQuery()
    if query.group_by is Dimension.COMMITMENT:
        raise InvalidInput("coverage is a property of usage: group it by provider, account, "
                           "service, region, usage_key or tag", column="group_by")
    data = load_report_data(session, query.scope.provider)

    def build() -> Report:
        fast = dense_coverage(data, session, query)
        return fast if fast is not None else coverage_report(data, session, query)

    return with_freshness(data.memo(("coverage", query), build).copy(), session)


_COVERAGE_FIGURES = ("units", "on_demand_equivalent", "covered_on_demand", "on_demand_cost")


def coverage_report(data: ReportData, session: Session, query: ReportQuery) -> Report:
    """The coverage report built frame by frame (the dense path's reference)."""
    figures = _COVERAGE_FIGURES
    frame = summed(key_rows(data, session, query, figures), figures, unique=True)
    frame["coverage"] = ratio(frame["covered_on_demand"], frame["on_demand_equivalent"])
    return finish("coverage", frame, COVERAGE_COLUMNS, money=COVERAGE_MONEY, data=data,
                  query=query)


def dense_coverage(data: ReportData, session: Session, query: ReportQuery) -> Report | None:
    """The coverage report from the dense cubes, figures as ``coverage_report``'s (None: no
    rows)."""
    found = dense.key_cells(data, session, query, _COVERAGE_FIGURES)
    values = found.values
    values["coverage"] = dense.ratio(values["covered_on_demand"], values["on_demand_equivalent"])
    return dense.dense_finish("coverage", found, COVERAGE_COLUMNS, money=COVERAGE_MONEY,
                              data=data, query=query)


def _commitment_rows(data: ReportData, query: ReportQuery) -> pd.DataFrame:
    scope = query.scope
    if scope.narrowed or scope.tag_key is not None:
        raise InvalidInput("utilisation is a property of commitments: narrow it by provider "
                           "only", column="scope")
    if query.group_by not in (Dimension.NONE, Dimension.PROVIDER, Dimension.COMMITMENT):
        raise InvalidInput("utilisation groups by none, provider or commitment",
                           column="group_by")
    days = data.commitment_days
    bounds = window(data, query)
    mask = in_window(days["day"].to_numpy(), bounds)
    if scope.provider is not None:
        mask &= (days["provider"] == scope.provider).to_numpy()
    rows = days.loc[mask]
    period = period_keys(rows["day"].to_numpy(), query.granularity, bounds)
    if query.group_by is Dimension.NONE:
        group = np.full(len(rows), ALL, dtype=object)
    elif query.group_by is Dimension.PROVIDER:
        group = rows["provider"].astype(object).to_numpy()
    else:
        group = rows["label"].astype(object).to_numpy()
    figures = ["quantity_hours", "used_quantity_hours", "commitment_cost", "used_cost",
               "unallocated_cost"]
    frame = pd.DataFrame({"period_key": period, "group": group, "ref": rows["ref"].to_numpy()})
    for column in figures:
        frame[column] = rows[column].to_numpy(dtype=np.float64)
    return frame


def _utilisation_frame(data: ReportData, query: ReportQuery) -> pd.DataFrame:
    rows = _commitment_rows(data, query)
    figures = ["quantity_hours", "used_quantity_hours", "commitment_cost", "used_cost",
               "unallocated_cost"]
    frame = summed(rows, figures)
    counts = (rows.groupby(["period_key", "group"])["ref"].nunique().rename("commitments")
              .reset_index()) if len(rows) else pd.DataFrame(
        columns=["period_key", "group", "commitments"])
    frame = frame.merge(counts, on=["period_key", "group"], how="left")
    frame["unused_cost"] = (frame["commitment_cost"] - frame["used_cost"]).clip(lower=0.0)
    frame["utilisation"] = ratio(frame["used_cost"], frame["commitment_cost"], empty=1.0)
    return frame


def utilisation(session: Session, query: ReportQuery | None = None) -> Report:
    """Utilisation and unused commitment per period, overall, per provider or per commitment."""
    query = query or ReportQuery()
    data = load_report_data(session, query.scope.provider)
    return with_freshness(data.memo(("utilisation", query), lambda: finish(
        "utilisation", _utilisation_frame(data, query), UTILISATION_COLUMNS,
        money=UTILISATION_MONEY, data=data, query=query)).copy(), session)


def waste(session: Session, query: ReportQuery | None = None) -> Report:
    """Unused commitment (waste) per commitment and period, with what each commitment is.

    ``query.group_by`` is ignored (always per commitment); ``granularity`` ``total``
    gives one row per commitment over the window.
    """
    query = query or ReportQuery(granularity=Granularity.TOTAL)
    query = ReportQuery(start=query.start, end=query.end, granularity=query.granularity,
                        group_by=Dimension.COMMITMENT, scope=query.scope)
    data = load_report_data(session, query.scope.provider)
    return with_freshness(data.memo(("waste", query), lambda: _waste(data, query)).copy(),
                          session)


def _waste(data: ReportData, query: ReportQuery) -> Report:
    frame = _utilisation_frame(data, query)
    attributes = data.commitments.drop_duplicates("label").set_index("label")
    frame["provider"] = frame["group"].map(attributes["provider"])
    frame["commitment_id"] = frame["group"].map(attributes["commitment_id"])
    frame["offering_id"] = frame["group"].map(attributes["offering_id"])
    frame["shape"] = frame["group"].map(attributes["shape"])
    frame["quantity"] = frame["group"].map(attributes["quantity"])
    frame["start_at"] = frame["group"].map(attributes["start_at"])
    frame["expires_at"] = frame["group"].map(attributes["end_at"])
    return finish("waste", frame, WASTE_COLUMNS, money=UTILISATION_MONEY, data=data,
                  query=query)


__all__ = ["COVERAGE_COLUMNS", "UTILISATION_COLUMNS", "WASTE_COLUMNS", "coverage",
           "coverage_report", "dense_coverage", "utilisation", "waste"]
