"""The commitment calendar: expirations by month, and the on-demand exposure each one adds.

For each stored commitment that ends after ``as_of``:

* ``observed`` exposure: the on-demand equivalent of the usage it covered over
  the last ``window_days`` days of data in which it was active, per active hour
  (the expiring quantity × the usage it covers, at on-demand rates);
* ``capacity`` exposure, for a commitment the data does not show (bought after
  it, or never billed): its whole quantity used on the key where it displaces
  the most on-demand dollars per unit (unit: ``covers[k] × rate[k]``; spend:
  ``rate[k] ÷ committed rate[k]``), at the catalog's on-demand rates.

Monthly figures are per 730-hour month; ``net_increase_monthly`` is what the
bill grows by if the commitment expires unreplaced and usage stays the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from core.db import repository as core_repository
from core.db.models import utc_now
from core.domain import HOURS_PER_MONTH, Commitment, Shape
from core.errors import InvalidInput
from reporting import repository
from reporting.common import Granularity, Report, add_period_columns, frozen
from reporting.freshness import with_freshness
from reporting.money import round_frame
from reporting.snapshot import ReportData, load_report_data

EXPIRATION_COLUMNS = (
    "period", "period_start", "period_end", "provider", "commitment_id", "offering_id",
    "shape", "quantity", "expires_at", "exposure_basis", "on_demand_exposure_hourly",
    "on_demand_exposure_monthly", "commitment_cost_monthly", "net_increase_monthly",
)
EXPIRATION_MONEY = ("on_demand_exposure_monthly", "commitment_cost_monthly",
                    "net_increase_monthly")
CALENDAR_COLUMNS = (
    "period", "period_start", "period_end", "commitments", "on_demand_exposure_monthly",
    "commitment_cost_monthly", "net_increase_monthly",
)


def _observed(data: ReportData | None, provider: str, commitment: Commitment,
              window_days: int) -> float | None:
    """Covered on-demand dollars per active hour over the commitment's last window days."""
    if data is None:
        return None
    known = data.commitments
    match = known[(known["provider"] == provider)
                  & (known["commitment_id"] == commitment.commitment_id)
                  & (known["offering_id"] == commitment.offering.offering_id)
                  & (pd.to_datetime(known["start_at"], utc=True) == pd.Timestamp(
                      commitment.start))]
    if match.empty:
        return None
    days = data.commitment_days
    rows = days[days["ref"].isin(match["ref"]) & (days["active_hours"] > 0)]
    if rows.empty:
        return None
    last = rows["day"].max()
    recent = rows[rows["day"] > last - np.timedelta64(window_days, "D")]
    hours = float(recent["active_hours"].sum())
    return float(recent["covered_on_demand"].sum()) / hours if hours else None


def capacity_exposure(commitment: Commitment, rates: Mapping[str, float]) -> float | None:
    """On-demand dollars per hour the commitment's full quantity displaces at most."""
    offering = commitment.offering
    if offering.shape is Shape.UNIT:
        values = [weight * rates[k] for k, weight in offering.covers.items() if k in rates]
    else:
        values = [rates[k] / rate for k, rate in offering.rates.items()
                  if k in rates and rate > 0]
    return commitment.quantity * max(values) if values else None


def _rates(session: Session, provider: str) -> dict[str, float]:
    catalog = core_repository.load_catalog(session, provider)
    return catalog.on_demand_rates() if catalog is not None else {}


def expirations(session: Session, *, provider: str | None = None,
                as_of: datetime | None = None, months: int | None = None,
                window_days: int = 30) -> Report:
    """One row per commitment expiring after ``as_of`` (within ``months`` months if given).

    ``as_of`` defaults to the end of the newest reporting data, else now.
    """
    if as_of is not None and (as_of.tzinfo is None or as_of.utcoffset() is None):
        raise InvalidInput("as_of must be timezone-aware", column="as_of")
    if months is not None and not 1 <= months <= 600:
        raise InvalidInput("months must be between 1 and 600", column="months")
    if not 1 <= window_days <= 366:
        raise InvalidInput("window_days must be between 1 and 366", column="window_days")
    snapshots = repository.latest_snapshots(session, provider)
    data = load_report_data(session, provider) if snapshots else None
    as_of = (as_of or max((s.end for s in snapshots), default=utc_now())).astimezone(UTC)
    horizon = None
    if months is not None:
        index = as_of.year * 12 + as_of.month - 1 + months
        horizon = datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)
    rows = []
    names = repository.commitment_providers(session, provider)
    for name in names:
        rates = _rates(session, name)
        for commitment in core_repository.list_commitments(session, name):
            if commitment.end <= as_of or (horizon is not None and commitment.end >= horizon):
                continue
            hourly = _observed(data, name, commitment, window_days)
            basis = "observed"
            if hourly is None:
                hourly, basis = capacity_exposure(commitment, rates), "capacity"
            cost = commitment.quantity * commitment.offering.amortized_hourly * HOURS_PER_MONTH
            exposure = np.nan if hourly is None else hourly * HOURS_PER_MONTH
            month = date(commitment.end.year, commitment.end.month, 1)
            rows.append({
                "period_key": np.datetime64(month, "D"), "provider": name,
                "commitment_id": commitment.commitment_id,
                "offering_id": commitment.offering.offering_id,
                "shape": str(commitment.offering.shape), "quantity": commitment.quantity,
                "expires_at": commitment.end,
                "exposure_basis": basis if hourly is not None else "unknown",
                "on_demand_exposure_hourly": np.nan if hourly is None else hourly,
                "on_demand_exposure_monthly": exposure,
                "commitment_cost_monthly": cost,
                "net_increase_monthly": exposure - cost,
            })
    frame = pd.DataFrame(rows, columns=["period_key", *EXPIRATION_COLUMNS[3:]])
    frame = frame.sort_values(["period_key", "expires_at", "provider", "commitment_id"],
                              kind="stable")
    frame = add_period_columns(frame, Granularity.MONTH)
    frame = round_frame(frame, list(EXPIRATION_MONEY),
                        groups=["period_key"] if len(frame) else [])
    currencies = {s.currency for s in snapshots}
    return with_freshness(Report(
        name="expirations", columns=EXPIRATION_COLUMNS,
        frame=frame[list(EXPIRATION_COLUMNS)].reset_index(drop=True),
        parameters=frozen({"provider": provider, "as_of": as_of.isoformat(),
                           "months": months, "window_days": window_days}),
        currency=currencies.pop() if len(currencies) == 1 else "USD",
        sources=data.sources if data is not None else (), money=EXPIRATION_MONEY,
    ), session, names)


def commitment_calendar(session: Session, *, provider: str | None = None,
                        as_of: datetime | None = None, months: int | None = None,
                        window_days: int = 30) -> Report:
    """Expirations summed per month: how many, and the on-demand exposure they add."""
    detail = expirations(session, provider=provider, as_of=as_of, months=months,
                         window_days=window_days)
    frame = detail.frame
    summary = (frame.groupby(["period", "period_start", "period_end"], sort=True)
               .agg(commitments=("commitment_id", "size"),
                    on_demand_exposure_monthly=("on_demand_exposure_monthly",
                                                lambda s: s.sum(min_count=1)),
                    commitment_cost_monthly=("commitment_cost_monthly", "sum"),
                    net_increase_monthly=("net_increase_monthly",
                                          lambda s: s.sum(min_count=1)))
               .reset_index()) if len(frame) else pd.DataFrame(columns=list(CALENDAR_COLUMNS))
    for column in EXPIRATION_MONEY:
        summary[column] = np.round(summary[column].astype(np.float64), 2)
    return Report(
        name="commitment_calendar", columns=CALENDAR_COLUMNS,
        frame=summary[list(CALENDAR_COLUMNS)], parameters=detail.parameters,
        currency=detail.currency, sources=detail.sources, money=EXPIRATION_MONEY,
        freshness=detail.freshness,
    )


__all__ = ["CALENDAR_COLUMNS", "EXPIRATION_COLUMNS", "capacity_exposure",
           "commitment_calendar", "expirations"]
