"""Amortized against cash basis, and the schedule of future commitment payments.

* amortized basis: each commitment costs ``quantity × (upfront ÷ term hours +
  hourly)`` in every active hour, plus the on-demand cost;
* cash basis: the upfront fee when it is paid (the day the commitment starts),
  recurring fees for the hours they are billed, plus the on-demand cost. The
  upfront of a commitment received in an exchange is the exchange's true-up —
  the cash it paid — not the received offering's list upfront (the value of
  what was given up paid the rest, earlier);
* the schedule lists, month by month from ``as_of`` until every commitment has
  ended, what each commitment will still cost in cash and amortized.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from core.db import repository as core_repository
from core.db.models import utc_now
from core.domain import HOUR, Commitment
from core.errors import InvalidInput
from reporting import repository
from reporting.common import (
    Dimension,
    Granularity,
    Report,
    ReportQuery,
    add_period_columns,
    frozen,
    period_end,
)
from reporting.freshness import with_freshness
from reporting.money import round_frame
from reporting.selection import (
    ALL,
    concat,
    finish,
    in_window,
    key_rows,
    period_keys,
    summed,
    window,
)
from reporting.snapshot import ReportData, load_report_data, snapshot_info

ON_DEMAND = "(on-demand)"
"""The group of on-demand cost when amortization is grouped by commitment."""

AMORTIZATION_COLUMNS = (
    "period", "period_start", "period_end", "group", "hours", "on_demand_cost",
    "commitment_amortized_cost", "amortized_cost", "upfront_paid", "recurring_paid",
    "cash_cost", "cash_minus_amortized",
)
AMORTIZATION_MONEY = AMORTIZATION_COLUMNS[5:]

SCHEDULE_COLUMNS = (
    "period", "period_start", "period_end", "provider", "commitment_id", "offering_id",
    "payment_option", "expires_at", "upfront_due", "recurring_due", "cash_due",
    "amortized_due",
)
SCHEDULE_MONEY = ("upfront_due", "recurring_due", "cash_due", "amortized_due")


def commitment_cash_days(data: ReportData, query: ReportQuery) -> pd.DataFrame:
    """Per (day, commitment ``ref``) in the window: amortized, recurring and upfront dollars."""
    bounds = window(data, query)
    days = data.commitment_days
    mask = in_window(days["day"].to_numpy(), bounds)
    if query.scope.provider is not None:
        mask &= (days["provider"] == query.scope.provider).to_numpy()
    rows = days.loc[mask]
    commitments = data.commitments.set_index("ref")
    hourly = rows["ref"].map(commitments["hourly"]).to_numpy(dtype=np.float64)
    recurring = pd.DataFrame({
        "day": rows["day"].to_numpy(), "ref": rows["ref"].to_numpy(),
        "provider": rows["provider"].astype(object).to_numpy(),
        "label": rows["label"].astype(object).to_numpy(),
        "commitment_amortized_cost": rows["commitment_cost"].to_numpy(dtype=np.float64),
        "recurring_paid": rows["quantity_hours"].to_numpy(dtype=np.float64) * hourly,
        "upfront_paid": 0.0,
    })
    starts = pd.to_datetime(data.commitments["start_at"], utc=True)
    start_days = np.asarray(starts.dt.tz_localize(None).dt.floor("D").to_numpy(),
                            dtype="datetime64[D]")
    paid = in_window(start_days, bounds) & (data.commitments["upfront_cash"].to_numpy() != 0)
    if query.scope.provider is not None:
        paid &= (data.commitments["provider"] == query.scope.provider).to_numpy()
    upfront = data.commitments.loc[paid]
    upfronts = pd.DataFrame({
        "day": start_days[paid], "ref": upfront["ref"].to_numpy(),
        "provider": upfront["provider"].to_numpy(dtype=object),
        "label": upfront["label"].to_numpy(dtype=object),
        "commitment_amortized_cost": 0.0, "recurring_paid": 0.0,
        "upfront_paid": upfront["upfront_cash"].to_numpy(dtype=np.float64),
    })
    return concat([recurring, upfronts])


def amortization(session: Session, query: ReportQuery | None = None) -> Report:
    """Amortized against cash cost per period: overall, per provider or per commitment."""
    query = query or ReportQuery()
    if query.scope.narrowed or query.scope.tag_key is not None:
        raise InvalidInput("amortization is reported per provider: narrow it by provider only",
                           column="scope")
    if query.group_by not in (Dimension.NONE, Dimension.PROVIDER, Dimension.COMMITMENT):
        raise InvalidInput("amortization groups by none, provider or commitment",
                           column="group_by")
    data = load_report_data(session, query.scope.provider)
    return with_freshness(data.memo(("amortization", query),
                                    lambda: _amortization(data, session, query)).copy(), session)


def _amortization(data: ReportData, session: Session, query: ReportQuery) -> Report:
    bounds = window(data, query)
    cash = commitment_cash_days(data, query)
    period = period_keys(cash["day"].to_numpy(), query.granularity, bounds)
    group = {Dimension.NONE: np.full(len(cash), ALL, dtype=object),
             Dimension.PROVIDER: cash["provider"].to_numpy(dtype=object),
             Dimension.COMMITMENT: cash["label"].to_numpy(dtype=object)}[query.group_by]
    figures = ["commitment_amortized_cost", "recurring_paid", "upfront_paid"]
    commitment_rows = pd.DataFrame({"period_key": period, "group": group})
    for column in figures:
        commitment_rows[column] = cash[column].to_numpy(dtype=np.float64)
    if query.group_by is Dimension.COMMITMENT:
        on_demand = key_rows(data, session, replace(query, group_by=Dimension.NONE),
                             ("on_demand_cost",)).assign(group=ON_DEMAND)
    else:
        on_demand = key_rows(data, session, query, ("on_demand_cost",))
    # A window without on-demand cost (or without commitments) has no rows of that kind.
    both = concat([commitment_rows, on_demand]).reindex(
        columns=["period_key", "group", "on_demand_cost", *figures]).fillna(0.0)
    frame = summed(both, ["on_demand_cost", *figures])
    frame["amortized_cost"] = frame["on_demand_cost"] + frame["commitment_amortized_cost"]
    frame["cash_cost"] = frame["on_demand_cost"] + frame["upfront_paid"] \
        + frame["recurring_paid"]
    frame["cash_minus_amortized"] = frame["cash_cost"] - frame["amortized_cost"]
    return finish("amortization", frame, AMORTIZATION_COLUMNS, money=AMORTIZATION_MONEY,
                  data=data, query=query)


# --- the schedule of future payments ----------------------------------------------------


def _month_start(moment: datetime) -> date:
    return date(moment.year, moment.month, 1)


def schedule_rows(commitments: Sequence[tuple[str, Commitment]], as_of: datetime, *,
                  exchanged: Mapping[tuple[str, str], float] | None = None) -> pd.DataFrame:
    """Per (month, commitment): cash and amortized cost still to come from ``as_of`` on.

    ``exchanged`` gives the cash paid for commitments received in an exchange (its
    true-up, ``repository.exchange_cash``), their upfront due instead of the list one.
    """
    exchanged = exchanged or {}
    rows = []
    for provider, commitment in commitments:
        list_upfront = commitment.quantity * commitment.offering.upfront
        upfront_cash = exchanged.get((provider, commitment.commitment_id), list_upfront) \
            if commitment.commitment_id else list_upfront
        if commitment.end <= as_of:
            continue
        offering = commitment.offering
        month = _month_start(max(commitment.start, as_of))
        while datetime(month.year, month.month, 1, tzinfo=UTC) < commitment.end:
            following = period_end(month, Granularity.MONTH)
            lo = max(commitment.start, as_of, datetime(month.year, month.month, 1, tzinfo=UTC))
            hi = min(commitment.end, datetime(following.year, following.month, 1, tzinfo=UTC))
            hours = max((hi - lo) / HOUR, 0.0)
            upfront = (upfront_cash
                       if commitment.start >= as_of and _month_start(commitment.start) == month
                       else 0.0)
            recurring = commitment.quantity * offering.hourly * hours
            rows.append({
                "period_key": np.datetime64(month, "D"), "provider": provider,
                "commitment_id": commitment.commitment_id,
                "offering_id": offering.offering_id,
                "payment_option": str(offering.payment_option),
                "expires_at": commitment.end, "upfront_due": upfront,
                "recurring_due": recurring, "cash_due": upfront + recurring,
                "amortized_due": commitment.quantity * offering.amortized_hourly * hours,
            })
            month = following
    columns = ["period_key", *SCHEDULE_COLUMNS[3:]]
    return pd.DataFrame(rows, columns=columns)


def payment_schedule(session: Session, *, provider: str | None = None,
                     as_of: datetime | None = None) -> Report:
    """Future commitment payments per month and commitment, until every commitment ends.

    Reads the commitments stored now (inventory and bought by plans). ``as_of``
    defaults to the end of the newest reporting data (else now); a commitment
    starting after ``as_of`` brings its upfront fee in its first month.
    """
    if as_of is not None and (as_of.tzinfo is None or as_of.utcoffset() is None):
        raise InvalidInput("as_of must be timezone-aware", column="as_of")
    snapshots = repository.latest_snapshots(session, provider)
    if as_of is None:
        as_of = max((s.end for s in snapshots), default=utc_now())
    as_of = as_of.astimezone(UTC)
    names = repository.commitment_providers(session, provider)
    owned = [(name, c) for name in names
             for c in core_repository.list_commitments(session, name)]
    frame = schedule_rows(owned, as_of, exchanged=repository.exchange_cash(session, provider)
                          ).sort_values(["period_key", "provider", "commitment_id"],
                                                    kind="stable")
    frame = add_period_columns(frame, Granularity.MONTH)
    frame = round_frame(frame, list(SCHEDULE_MONEY), groups=["period_key"] if len(frame) else [])
    currencies = {s.currency for s in snapshots}
    return with_freshness(Report(
        name="payment_schedule", columns=SCHEDULE_COLUMNS,
        frame=frame[list(SCHEDULE_COLUMNS)].reset_index(drop=True),
        parameters=frozen({"provider": provider, "as_of": as_of.isoformat()}),
        currency=currencies.pop() if len(currencies) == 1 else "USD",
        sources=tuple(snapshot_info(s) for s in snapshots), money=SCHEDULE_MONEY,
        notes=("Commitments as stored now; the last month ends when the last commitment "
               f"does (as of {as_of:%Y-%m-%d %H:%M} UTC). A commitment received in an "
               "exchange is due the exchange's true-up, not its list upfront.",),
    ), session, names)


__all__ = ["AMORTIZATION_COLUMNS", "ON_DEMAND", "SCHEDULE_COLUMNS", "amortization",
           "commitment_cash_days", "payment_schedule", "schedule_rows"]
