"""Chargeback and showback: who the bill's cost and the commitments' benefit belong to.

Every dollar of the amortized bill is charged to the usage it served:

* on-demand cost to the key that ran it;
* each commitment's used cost to the keys it covered, as the engine applied it
  (covered units × the commitment consumed per unit × its amortized rate), so
  each key pays in proportion to the benefit it received from that commitment;
* each commitment's unused cost by ``definitions.UNUSED_RULE`` (eligible usage),
  the rest to ``(unallocated)``;
* keys to accounts, services, … by their attributes, and to tags by
  ``definitions.TAG_RULE``.

The rows of a period add up to the period's bill (amortized cost) to the cent:
amounts are rounded half-up once per period and shared by largest remainder
(``reporting.money``). ``commitment_showback`` splits each commitment alone:
its rows (per group) add up to the commitment's own cost in the period, and the
commitments of a period to the period's total (the same as the other reports').
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy.orm import Session

from core.errors import InvalidInput
from reporting import dense
from reporting.common import Dimension, Report, ReportQuery
from reporting.definitions import TAG_RULE, UNALLOCATED, UNUSED_RULE
from reporting.freshness import with_freshness
from reporting.selection import concat, finish, key_rows, summed, unallocated_rows
from reporting.snapshot import ReportData, load_report_data

CHARGEBACK_COLUMNS = (
    "period", "period_start", "period_end", "group", "on_demand_equivalent", "on_demand_cost",
    "commitment_used_cost", "commitment_unused_cost", "amortized_cost", "benefit",
)
CHARGEBACK_MONEY = CHARGEBACK_COLUMNS[4:]

SHOWBACK_COLUMNS = (
    "period", "period_start", "period_end", "commitment", "group", "covered_units",
    "covered_on_demand", "commitment_used_cost", "commitment_unused_cost", "commitment_cost",
    "benefit",
)
SHOWBACK_MONEY = ("covered_on_demand", "commitment_used_cost", "commitment_unused_cost",
                  "commitment_cost", "benefit")


def _check(query: ReportQuery) -> None:
    if query.group_by in (Dimension.NONE, Dimension.COMMITMENT):
        raise InvalidInput("chargeback groups by provider, account, service, region, "
                           "usage_key or tag", column="group_by")


def chargeback(session: Session, query: ReportQuery | None = None) -> Report:
    """The amortized bill per period charged to ``query.group_by`` (default: account)."""
    query = query or ReportQuery(group_by=Dimension.ACCOUNT)
    _check(query)
    data = load_report_data(session, query.scope.provider)

    def build() -> Report:
        fast = dense_chargeback(data, session, query)
        return fast if fast is not None else chargeback_report(data, session, query)

    return with_freshness(data.memo(("chargeback", query), build).copy(), session)


def dense_chargeback(data: ReportData, session: Session, query: ReportQuery) -> Report | None:
    """The chargeback from the dense cubes, figures as ``chargeback_report``'s (None: no
    rows)."""
    figures = ("on_demand_equivalent", "on_demand_cost", "commitment_used_cost",
               "commitment_unused_cost")
    found = dense.add_unallocated(dense.key_cells(data, session, query, figures),
                                  dense.unallocated_cells(data, query), "commitment_unused_cost")
    values = found.values
    values["amortized_cost"] = (values["on_demand_cost"] + values["commitment_used_cost"]
                                + values["commitment_unused_cost"])
    values["benefit"] = values["on_demand_equivalent"] - values["amortized_cost"]
    return dense.dense_finish("chargeback", found, CHARGEBACK_COLUMNS, money=CHARGEBACK_MONEY,
                              data=data, query=query, notes=(UNUSED_RULE, TAG_RULE))


def chargeback_report(data: ReportData, session: Session, query: ReportQuery) -> Report:
    """The chargeback built frame by frame (the dense path's reference)."""
    figures = ("on_demand_equivalent", "on_demand_cost", "commitment_used_cost",
               "commitment_unused_cost")
    rows = key_rows(data, session, query, figures)
    extra = unallocated_rows(data, query, column="commitment_unused_cost")
    frame = (summed(concat([rows, extra]).fillna(0.0), figures) if len(extra)
             else summed(rows, figures, unique=True))
    frame["amortized_cost"] = (frame["on_demand_cost"] + frame["commitment_used_cost"]
                               + frame["commitment_unused_cost"])
    frame["benefit"] = frame["on_demand_equivalent"] - frame["amortized_cost"]
    return finish("chargeback", frame, CHARGEBACK_COLUMNS, money=CHARGEBACK_MONEY, data=data,
                  query=query, notes=(UNUSED_RULE, TAG_RULE))


def commitment_showback(session: Session, query: ReportQuery | None = None) -> Report:
    """Each commitment's cost and benefit per period split over ``query.group_by``."""
    query = query or ReportQuery(group_by=Dimension.ACCOUNT)
    _check(query)
    data = load_report_data(session, query.scope.provider)
    return with_freshness(
        data.memo(("showback", query), lambda: _showback(data, session, query)).copy(), session)


def _showback(data: ReportData, session: Session, query: ReportQuery) -> Report:
    allocations = data.allocations(session).copy()
    labels = data.commitments.set_index("ref")["label"]
    allocations["commitment"] = allocations["ref"].map(labels)
    figures = ("covered_units", "covered_on_demand", "used_cost", "unused_cost")
    # key_rows groups by the query's dimension; the commitment rides along as part of it.
    parts = []
    for label, part in allocations.groupby("commitment", sort=True, observed=True):
        rows = key_rows(data, session, query, figures, frame=part)
        rows["commitment"] = label
        parts.append(rows)
    rows = concat(parts) if parts else pd.DataFrame(columns=["period_key", "group",
                                                             "commitment", *figures])
    extra = unallocated_rows(data, ReportQuery(
        start=query.start, end=query.end, granularity=query.granularity,
        group_by=Dimension.COMMITMENT, scope=query.scope), column="unused_cost")
    extra = extra.rename(columns={"group": "commitment"}).assign(group=UNALLOCATED)
    both = concat([rows, extra]).fillna(0.0)
    frame = (both.groupby(["period_key", "commitment", "group"], sort=True)[list(figures)]
             .sum().reset_index()) if len(both) else both
    frame = frame.rename(columns={"used_cost": "commitment_used_cost",
                                  "unused_cost": "commitment_unused_cost"})
    frame["commitment_cost"] = frame["commitment_used_cost"] + frame["commitment_unused_cost"]
    frame["benefit"] = frame["covered_on_demand"] - frame["commitment_cost"]
    report = finish("commitment_showback", frame, SHOWBACK_COLUMNS, money=SHOWBACK_MONEY,
                    data=data, query=query, notes=(UNUSED_RULE, TAG_RULE),
                    round_by=("period_key", "commitment"))
    return report


__all__ = ["CHARGEBACK_COLUMNS", "SHOWBACK_COLUMNS", "chargeback", "chargeback_report",
           "commitment_showback", "dense_chargeback"]
