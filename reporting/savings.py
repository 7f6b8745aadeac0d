"""Realised savings and the Effective Savings Rate, per period and dimension.

Two ESRs, each labelled: ``esr_billing`` from the billing engine (realised
savings ÷ on-demand equivalent, DESIGN.md "Money"), and ``esr_focus`` as the
FOCUS data states it, (ContractedCost − EffectiveCost) ÷ ContractedCost.

Grouped by a key dimension (provider, account, service, region, usage key) or a
tag, each row is charged its used commitment and its share of unused
commitment (``definitions.UNUSED_RULE``); unused cost with no eligible usage is
an ``(unallocated)`` row, so the rows of a period add up to the period's bill.
Grouped by commitment, each row is the usage the commitment covered:
on-demand equivalent = covered usage, cost = the commitment's amortized cost.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from reporting import dense
from reporting.common import Dimension, Report, ReportQuery, ratio
from reporting.definitions import UNTAGGED, UNUSED_RULE
from reporting.freshness import with_freshness
from reporting.selection import (
    ALL,
    concat,
    finish,
    in_window,
    key_rows,
    period_keys,
    scope_mask,
    summed,
    unallocated_rows,
    window,
)
from reporting.snapshot import ReportData, load_report_data

SAVINGS_COLUMNS = (
    "period", "period_start", "period_end", "group", "hours", "on_demand_equivalent",
    "on_demand_cost", "commitment_cost", "amortized_cost", "realised_savings", "esr_billing",
    "focus_billed_cost", "focus_contracted_cost", "focus_effective_cost", "esr_focus",
)
SAVINGS_MONEY = (
    "on_demand_equivalent", "on_demand_cost", "commitment_cost", "amortized_cost",
    "realised_savings", "focus_billed_cost", "focus_contracted_cost", "focus_effective_cost",
)
_FOCUS = ("focus_billed_cost", "focus_contracted_cost", "focus_effective_cost")


def savings(session: Session, query: ReportQuery | None = None) -> Report:
    """Realised savings and both ESRs per period and ``query.group_by``."""
    query = query or ReportQuery()
    data = load_report_data(session, query.scope.provider)

    def build() -> Report:
        fast = dense_savings(data, session, query)
        return fast if fast is not None else savings_report(data, session, query)

    return with_freshness(data.memo(("savings", query), build).copy(), session)


def savings_report(data: ReportData, session: Session, query: ReportQuery) -> Report:
    """The savings report built frame by frame (every grouping; the dense path's reference)."""
    return finish("savings", savings_frame(data, session, query), SAVINGS_COLUMNS,
                  money=SAVINGS_MONEY, data=data, query=query, notes=(UNUSED_RULE,))


def dense_savings(data: ReportData, session: Session, query: ReportQuery) -> Report | None:
    """The savings report from the dense cubes (``reporting.dense``), figures as
    ``savings_report``'s; None for what it does not cover (a commitment or tag grouping, a tag
    scope, no rows)."""
    if not dense.supports(query, tags=False):
        return None
    figures = ("on_demand_equivalent", "on_demand_cost", "commitment_used_cost",
               "commitment_unused_cost", *_FOCUS, *_KNOWN)
    found = dense.key_cells(data, session, query, figures)
    values = found.values
    values["commitment_cost"] = values["commitment_used_cost"] + values["commitment_unused_cost"]
    found = dense.add_unallocated(found, dense.unallocated_cells(data, query),
                                  "commitment_cost")
    values = found.values
    values["amortized_cost"] = values["on_demand_cost"] + values["commitment_cost"]
    values["realised_savings"] = values["on_demand_equivalent"] - values["amortized_cost"]
    values["esr_billing"] = dense.ratio(values["realised_savings"],
                                        values["on_demand_equivalent"])
    for cost, known in zip(_FOCUS, _KNOWN, strict=True):
        values[cost] = np.where(values[known] > 0, values[cost], np.nan)
    values["esr_focus"] = dense.ratio(values["focus_contracted_cost"]
                                      - values["focus_effective_cost"],
                                      values["focus_contracted_cost"])
    return dense.dense_finish("savings", found, SAVINGS_COLUMNS, money=SAVINGS_MONEY,
                              data=data, query=query, notes=(UNUSED_RULE,))


_KNOWN = ("focus_billed_known", "focus_contracted_known", "focus_effective_known")


def savings_frame(data: ReportData, session: Session, query: ReportQuery) -> pd.DataFrame:
    """Unrounded savings figures per (period_key, group), FOCUS figures included."""
    # FOCUS figures ride on the key-day cube unless a tag splits them: lines carry tags exactly.
    inline_focus = query.group_by is not Dimension.COMMITMENT and query.scope.tag_key is None
    if query.group_by is Dimension.COMMITMENT:
        billing = _by_commitment(data, session, query)
    else:
        figures = ("on_demand_equivalent", "on_demand_cost", "commitment_used_cost",
                   "commitment_unused_cost", *((*_FOCUS, *_KNOWN) if inline_focus else ()))
        rows = key_rows(data, session, query, figures)
        rows["commitment_cost"] = rows["commitment_used_cost"] + rows["commitment_unused_cost"]
        extra = unallocated_rows(data, query, column="commitment_cost")
        both = concat([rows.drop(columns=["commitment_used_cost", "commitment_unused_cost"]),
                       extra]).fillna(0.0) if len(extra) else rows
        billing = summed(both, ["on_demand_equivalent", "on_demand_cost", "commitment_cost",
                                *((*_FOCUS, *_KNOWN) if inline_focus else ())],
                         unique=not len(extra))
    billing["amortized_cost"] = billing["on_demand_cost"] + billing["commitment_cost"]
    billing["realised_savings"] = billing["on_demand_equivalent"] - billing["amortized_cost"]
    billing["esr_billing"] = ratio(billing["realised_savings"],
                                   billing["on_demand_equivalent"])
    if inline_focus:
        merged = billing
        for cost, known in (("focus_billed_cost", "focus_billed_known"),
                            ("focus_contracted_cost", "focus_contracted_known"),
                            ("focus_effective_cost", "focus_effective_known")):
            merged[cost] = merged[cost].where(merged[known] > 0)
    else:
        focus = focus_frame(data, session, query)
        merged = billing.merge(focus, on=["period_key", "group"], how="outer")
    for column in ("on_demand_equivalent", "on_demand_cost", "commitment_cost",
                   "amortized_cost", "realised_savings"):
        merged[column] = merged[column].fillna(0.0)
    merged["esr_focus"] = ratio(merged["focus_contracted_cost"]
                                - merged["focus_effective_cost"],
                                merged["focus_contracted_cost"])
    for column in _FOCUS:
        # Rounded as money below; unknown FOCUS costs stay NaN (null in JSON).
        merged[column] = merged[column].astype(np.float64)
    return merged


def _by_commitment(data: ReportData, session: Session, query: ReportQuery) -> pd.DataFrame:
    allocations = data.allocations(session).copy()
    labels = data.commitments.set_index("ref")["label"]
    allocations["label"] = allocations["ref"].map(labels)
    rows = key_rows(data, session, query, ("covered_on_demand", "used_cost", "unused_cost"),
                    frame=allocations)
    rows = rows.rename(columns={"covered_on_demand": "on_demand_equivalent"})
    rows["commitment_cost"] = rows["used_cost"] + rows["unused_cost"]
    rows["on_demand_cost"] = 0.0
    extra = unallocated_rows(data, query, column="commitment_cost")
    both = concat([rows.drop(columns=["used_cost", "unused_cost"]), extra]).fillna(0.0)
    return summed(both, ["on_demand_equivalent", "on_demand_cost", "commitment_cost"])


def focus_frame(data: ReportData, session: Session, query: ReportQuery) -> pd.DataFrame:
    """Σ FOCUS billed, contracted and effective cost per (period_key, group)."""
    lines = data.cost_lines(session)
    empty = pd.DataFrame(columns=["period_key", "group", *_FOCUS])
    if lines.empty:
        return empty
    bounds = window(data, query)
    scope = query.scope
    mask = in_window(lines["day"].to_numpy(), bounds) & scope_mask(lines, scope)
    rows = lines.loc[mask]
    if scope.tag_key is not None:
        values = {raw: json.loads(raw).get(scope.tag_key) or UNTAGGED
                  for raw in rows["tags"].unique()}
        rows = rows.assign(tag=rows["tags"].map(values))
        if scope.tag_value is not None:
            rows = rows[rows["tag"] == scope.tag_value]
    if query.group_by is Dimension.COMMITMENT:
        rows = rows[rows["commitment_discount_id"].notna()]
        group = rows["commitment_discount_id"].astype(object).to_numpy()
    elif query.group_by is Dimension.NONE:
        group = np.full(len(rows), ALL, dtype=object)
    elif query.group_by is Dimension.TAG:
        group = rows["tag"].to_numpy(dtype=object)
    else:
        group = rows[query.group_by.value].astype(object).to_numpy()
    frame = pd.DataFrame({
        "period_key": period_keys(rows["day"].to_numpy(), query.granularity, bounds),
        "group": group,
        "focus_billed_cost": rows["billed_cost"].to_numpy(dtype=np.float64),
        "focus_contracted_cost": rows["contracted_cost"].to_numpy(dtype=np.float64),
        "focus_effective_cost": rows["effective_cost"].to_numpy(dtype=np.float64),
    })
    if frame.empty:
        return empty
    return (frame.groupby(["period_key", "group"], sort=True)[list(_FOCUS)]
            .sum(min_count=1).reset_index())


__all__ = ["SAVINGS_COLUMNS", "SAVINGS_MONEY", "dense_savings", "focus_frame", "savings",
           "savings_frame", "savings_report"]
