"""Spend on the whole bill: every FOCUS cost row, by period and by what finance splits it by.

The bill lines (``bill_cost_lines``, one per day and group of FOCUS rows, compute or not:
storage, network, support, purchases, credits, taxes) of each provider's latest dataset are
summed per period (UTC day, ISO week, month, quarter, year or the whole window) and group
(provider, billing account, account, service category, service, region, charge category
or a tag's value), on one of two bases:

* **cash** counts what was billed: Σ FOCUS ``BilledCost``. A commitment's purchase counts
  on the day it is billed (its upfront fee, its recurring fees), its usage rows count what
  they billed (nothing for usage an upfront commitment covered);
* **amortized** counts what was consumed: Σ FOCUS ``EffectiveCost``. A commitment's
  purchase row has an EffectiveCost of 0 (FOCUS 1.0: a purchase meant to cover future
  charges), and its cost is spread over the usage it covers (and its unused rows).

So a commitment's purchase and its amortization are never counted twice: the purchase is
on the cash basis only, its amortization on the amortized basis only. A line whose rows
carry no EffectiveCost counts its BilledCost on the amortized basis, except a Purchase
(counted on the cash basis only, as above).

Money is float64 inside and rounded once, at the edge (``reporting.money``): each period's
total is rounded half-up and its rows share those cents by largest remainder. A report is
in one currency: a bill in several needs ``currency`` in the scope.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db.models import DatasetRow
from core.db.repository import latest_dataset
from core.errors import InvalidInput, NotFound
from reporting.bill_lines import load_bill_lines
from reporting.common import (
    Freshness,
    Granularity,
    Report,
    _day,
    _enum,
    _text,
    frozen,
    period_end,
    period_label,
    period_starts,
)
from reporting.definitions import UNTAGGED
from reporting.money import ROUNDING_RULE, round_frame
from reporting.spend_definitions import SPEND_DEFINITIONS

ALL = "all"
PURCHASE = "Purchase"


class SpendBasis(StrEnum):
    """Cash (Σ BilledCost) or amortized (Σ EffectiveCost); ``amortised`` is accepted."""

    CASH = "cash"
    AMORTIZED = "amortized"

    @classmethod
    def _missing_(cls, value: object) -> SpendBasis | None:
        return cls.AMORTIZED if value == "amortised" else None


class SpendGranularity(StrEnum):
    """The length of a spend report's periods (UTC); ``week`` is the ISO week (Monday first)."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"
    TOTAL = "total"


class SpendDimension(StrEnum):
    """What a spend report's rows are grouped by, beside the period."""

    NONE = "none"
    PROVIDER = "provider"
    BILLING_ACCOUNT = "billing_account"
    ACCOUNT = "account"
    SERVICE_CATEGORY = "service_category"
    SERVICE = "service"
    REGION = "region"
    CHARGE_CATEGORY = "charge_category"
    BILLING_PERIOD = "billing_period"
    TAG = "tag"


DIMENSION_COLUMNS: dict[SpendDimension, str] = {
    SpendDimension.PROVIDER: "provider",
    SpendDimension.BILLING_ACCOUNT: "billing_account_id",
    SpendDimension.ACCOUNT: "sub_account_id",
    SpendDimension.SERVICE_CATEGORY: "service_category",
    SpendDimension.SERVICE: "service_name",
    SpendDimension.REGION: "region_id",
    SpendDimension.BILLING_PERIOD: "billing_period",
    SpendDimension.CHARGE_CATEGORY: "charge_category",
}
"""The bill-line column each dimension (but tag) reads."""

NONE_VALUE = "(none)"
"""The group of lines whose FOCUS rows leave the dimension empty."""

SPEND_COLUMNS = ("period", "period_start", "period_end", "group", "currency", "cost",
                 "billed_cost", "effective_cost", "list_cost")
SPEND_MONEY = ("cost", "billed_cost", "effective_cost", "list_cost")

SCOPE_FIELDS = ("provider", "billing_account", "account", "service_category", "service",
                "region", "charge_category", "tag_key", "tag_value", "currency")

SCOPE_COLUMNS: dict[str, str] = {
    **{dimension.value: column for dimension, column in DIMENSION_COLUMNS.items()
       if dimension.value in SCOPE_FIELDS},
    "currency": "currency",
}
"""The bill-line column each scope field (but the tag's) is matched against."""


@dataclass(frozen=True, slots=True)
class SpendScope:
    """Which part of the bill: every field set narrows it (None = any).

    ``provider`` is Ladder's provider whose bill it is (``aws``, ``sample``, …);
    ``account`` the FOCUS SubAccountId, ``billing_account`` the BillingAccountId,
    ``service`` the ServiceName; ``tag_key``/``tag_value`` a FOCUS tag (``tag_value``
    needs ``tag_key``); ``currency`` the BillingCurrency.
    """

    provider: str | None = None
    billing_account: str | None = None
    account: str | None = None
    service_category: str | None = None
    service: str | None = None
    region: str | None = None
    charge_category: str | None = None
    tag_key: str | None = None
    tag_value: str | None = None
    currency: str | None = None

    def __post_init__(self) -> None:
        for name in SCOPE_FIELDS:
            object.__setattr__(self, name, _text(getattr(self, name), name))
        if self.tag_value is not None and self.tag_key is None:
            raise InvalidInput("tag_value needs tag_key", column="tag_value")
        if self.currency is not None:
            object.__setattr__(self, "currency", self.currency.upper())

    def to_dict(self) -> dict[str, str | None]:
        """The scope's fields, for a response."""
        return {name: getattr(self, name) for name in SCOPE_FIELDS}

    def mask(self, lines: pd.DataFrame) -> npt.NDArray[np.bool_]:
        """Which bill lines the scope keeps."""
        keep = np.ones(len(lines), dtype=bool)
        for name, column in SCOPE_COLUMNS.items():
            wanted = getattr(self, name)
            if wanted is not None:
                keep &= (lines[column] == wanted).to_numpy()
        if self.tag_value is not None:
            assert self.tag_key is not None
            keep &= (tag_values(lines["tags"], self.tag_key) == self.tag_value)
        return keep


@dataclass(frozen=True, slots=True)
class SpendQuery:
    """Validated parameters of a spend report: window ``[start, end)``, periods, grouping,
    basis and scope (InvalidInput names a bad field)."""

    start: date | None = None
    end: date | None = None
    granularity: SpendGranularity = SpendGranularity.MONTH
    group_by: SpendDimension = SpendDimension.NONE
    basis: SpendBasis = SpendBasis.AMORTIZED
    scope: SpendScope = field(default_factory=SpendScope)

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", _day(self.start, "start"))
        object.__setattr__(self, "end", _day(self.end, "end"))
        object.__setattr__(self, "granularity",
                           _enum(SpendGranularity, self.granularity, "granularity"))
        object.__setattr__(self, "group_by", _enum(SpendDimension, self.group_by, "group_by"))
        object.__setattr__(self, "basis", _enum(SpendBasis, self.basis, "basis"))
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise InvalidInput("end must be after start", column="end")
        if self.group_by is SpendDimension.TAG and self.scope.tag_key is None:
            raise InvalidInput("group_by=tag needs tag_key (the tag to group by)",
                               column="tag_key")

    def to_dict(self) -> dict[str, Any]:
        """The parameters as understood, for a response."""
        return {"start": self.start.isoformat() if self.start else None,
                "end": self.end.isoformat() if self.end else None,
                "granularity": self.granularity.value, "group_by": self.group_by.value,
                "basis": self.basis.value, **self.scope.to_dict()}


# --- the lines ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BillSource:
    """The dataset whose bill lines a report reads: one per provider (its latest)."""

    provider: str
    dataset_id: int
    first_day: date | None
    end_day: date | None

    def describe(self) -> str:
        """The source in words, for a report's notes."""
        if self.first_day is None or self.end_day is None:
            return f"{self.provider}: dataset {self.dataset_id} (no bill lines)"
        return (f"{self.provider}: bill lines of dataset {self.dataset_id}, "
                f"{self.first_day.isoformat()} to {self.end_day.isoformat()} (exclusive)")


@dataclass(frozen=True, slots=True)
class BillLines:
    """The bill lines of the latest dataset of each provider read, with a ``provider`` column."""

    frame: pd.DataFrame
    sources: tuple[BillSource, ...]

    @property
    def end_day(self) -> date | None:
        """The first day after every line (None without lines)."""
        ends = [s.end_day for s in self.sources if s.end_day is not None]
        return max(ends) if ends else None

    def freshness(self) -> Freshness:
        """Through when the bill runs (the first UTC midnight after its last line)."""
        end = self.end_day
        through = None if end is None else pd.Timestamp(end, tz="UTC").to_pydatetime()
        return Freshness(data_through=through, newest_commitment_start=None)


def bill_providers(session: Session) -> list[str]:
    """Every provider with a stored dataset, by name."""
    return sorted(session.scalars(select(DatasetRow.provider).distinct()))


def load_lines(session: Session, provider: str | None = None) -> BillLines:
    """The bill lines of each provider's latest dataset (or of ``provider``'s only).

    NotFound when there is none: a report needs an ingested bill.
    """
    providers = [provider] if provider is not None else bill_providers(session)
    frames, sources = [], []
    for name in providers:
        dataset = latest_dataset(session, name)
        if dataset is None:
            continue
        lines = load_bill_lines(session, dataset.id)
        lines.insert(0, "provider", name)
        frames.append(lines)
        days = lines["day"]
        sources.append(BillSource(name, dataset.id, days.min() if len(days) else None,
                                  days.max() + timedelta(days=1) if len(days) else None))
    if not frames or all(f.empty for f in frames):
        whose = f"provider {provider!r}" if provider is not None else "any provider"
        raise NotFound(f"no bill lines for {whose}: ingest a FOCUS bill (`ladder ingest PATH`)")
    frame = pd.concat([f for f in frames if not f.empty], ignore_index=True)
    frame["day"] = pd.to_datetime(frame["day"]).to_numpy().astype("datetime64[D]")
    return BillLines(frame, tuple(sources))


def basis_cost(lines: pd.DataFrame, basis: SpendBasis) -> npt.NDArray[np.float64]:
    """Each line's cost on ``basis`` (the module's rule: cash BilledCost, amortized
    EffectiveCost; without EffectiveCost, BilledCost but for a Purchase)."""
    billed = lines["billed_cost"].to_numpy(dtype=np.float64)
    if basis is SpendBasis.CASH:
        return billed
    effective = lines["effective_cost"].to_numpy(dtype=np.float64)
    purchase = (lines["charge_category"] == PURCHASE).to_numpy()
    fallback = np.where(purchase, 0.0, billed)
    return np.where(np.isfinite(effective), effective, fallback)


def tag_values(tags: pd.Series, key: str) -> npt.NDArray[np.object_]:
    """The value of tag ``key`` on each line (``(untagged)`` when it lacks the tag)."""
    mapping: dict[str, str] = {}
    for raw in tags.unique():
        try:
            parsed = json.loads(raw) if isinstance(raw, str) else {}
        except ValueError:
            parsed = {}
        value = parsed.get(key) if isinstance(parsed, dict) else None
        mapping[raw] = UNTAGGED if value is None or value == "" else str(value)
    return tags.map(mapping).to_numpy(dtype=object)


def group_values(lines: pd.DataFrame, query_group: SpendDimension,
                 tag_key: str | None) -> npt.NDArray[np.object_]:
    """Each line's group label for ``query_group``."""
    if query_group is SpendDimension.NONE:
        return np.full(len(lines), ALL, dtype=object)
    if query_group is SpendDimension.TAG:
        assert tag_key is not None
        return tag_values(lines["tags"], tag_key)
    column = lines[DIMENSION_COLUMNS[query_group]]
    return column.where(column.notna() & (column != ""), NONE_VALUE).astype(str).to_numpy(
        dtype=object)


# --- periods --------------------------------------------------------------------------------


def _calendar(granularity: SpendGranularity) -> Granularity:
    """The reports' granularity of the same name (all but ``week``)."""
    return Granularity(granularity.value)


def spend_period_starts(days: npt.NDArray[np.datetime64],
                        granularity: SpendGranularity) -> npt.NDArray[np.datetime64]:
    """The first day of each day's period (``datetime64[D]``)."""
    days = days.astype("datetime64[D]")
    if granularity is SpendGranularity.WEEK:
        # 1970-01-01 was a Thursday: day numbers + 3 are 0 on Mondays, modulo 7.
        numbers = days.astype(np.int64)
        return (numbers - (numbers + 3) % 7).astype("datetime64[D]")
    return period_starts(days, _calendar(granularity))


def spend_period_end(start: date, granularity: SpendGranularity, window_end: date) -> date:
    """The first day after the period that starts on ``start``."""
    if granularity is SpendGranularity.WEEK:
        return start + timedelta(days=7)
    return period_end(start, _calendar(granularity), window_end)


def spend_period_label(start: date, granularity: SpendGranularity) -> str:
    """``2024-06-01``, ``2024-W23``, ``2024-06``, ``2024-Q3``, ``2024`` or ``total``."""
    if granularity is SpendGranularity.WEEK:
        year, week, _ = start.isocalendar()
        return f"{year:04d}-W{week:02d}"
    return period_label(start, _calendar(granularity))


# --- the report -----------------------------------------------------------------------------


def select_lines(bill: BillLines, query: SpendQuery) -> tuple[pd.DataFrame, str,
                                                              tuple[date, date]]:
    """The lines of the query's scope and window, their one currency, and the window
    clipped to the data (InvalidInput when the lines are in several currencies)."""
    lines = bill.frame
    keep = query.scope.mask(lines)
    days = lines["day"].to_numpy()
    if query.start is not None:
        keep &= days >= np.datetime64(query.start, "D")
    if query.end is not None:
        keep &= days < np.datetime64(query.end, "D")
    chosen = lines[keep]
    currencies = sorted(chosen["currency"].dropna().unique()) if len(chosen) else sorted(
        lines["currency"].dropna().unique())
    if len(currencies) > 1:
        raise InvalidInput(f"the bill is in several currencies ({', '.join(currencies)}): "
                           "ask for one (currency=…); Ladder converts no currencies",
                           column="currency")
    first = pd.Timestamp(lines["day"].min()).date()
    end = pd.Timestamp(lines["day"].max()).date() + timedelta(days=1)
    window = (max(query.start or first, first), min(query.end or end, end))
    if window[1] <= window[0]:
        window = (query.start or first, query.end or end)
    return chosen, (currencies[0] if currencies else "USD"), window


def _grouped(lines: pd.DataFrame, query: SpendQuery) -> pd.DataFrame:
    """Unrounded sums per period and group (period_key, group, the four costs)."""
    starts = spend_period_starts(lines["day"].to_numpy(), query.granularity)
    effective = lines["effective_cost"].to_numpy(dtype=np.float64)
    frame = pd.DataFrame({
        "period_key": starts,
        "group": group_values(lines, query.group_by, query.scope.tag_key),
        "cost": basis_cost(lines, query.basis),
        "billed_cost": lines["billed_cost"].to_numpy(dtype=np.float64),
        "effective_cost": effective,
        "list_cost": lines["list_cost"].to_numpy(dtype=np.float64),
    })
    return (frame.groupby(["period_key", "group"], sort=True)
            .agg(cost=("cost", "sum"), billed_cost=("billed_cost", "sum"),
                 effective_cost=("effective_cost", lambda v: v.sum(min_count=1)),
                 list_cost=("list_cost", "sum"))
            .reset_index())


def _with_periods(frame: pd.DataFrame, granularity: SpendGranularity,
                  window: tuple[date, date]) -> pd.DataFrame:
    starts = [pd.Timestamp(day).date() for day in frame["period_key"]]
    frame = frame.copy()
    frame["period"] = [spend_period_label(day, granularity) for day in starts]
    frame["period_start"] = [max(day, window[0]) for day in starts]
    frame["period_end"] = [min(spend_period_end(day, granularity, window[1]), window[1])
                           for day in starts]
    return frame


SPEND_NOTES = (
    "Cash basis: Σ FOCUS BilledCost (a commitment's purchase counts when billed). Amortized "
    "basis: Σ FOCUS EffectiveCost (a purchase counts 0, its cost spread over the usage it "
    "covers). A commitment's purchase and its amortization are never both counted.",
    "Every FOCUS row of the bill counts: compute, storage, database, network, support, "
    "purchases, credits (negative), taxes.",
)


def spend(session: Session, query: SpendQuery | None = None) -> Report:
    """Spend on the whole bill per period and group, on the cash or amortized basis."""
    query = query or SpendQuery()
    bill = load_lines(session, query.scope.provider)
    return spend_report(bill, query)


def spend_report(bill: BillLines, query: SpendQuery) -> Report:
    """``spend`` over bill lines already loaded."""
    lines, currency, window = select_lines(bill, query)
    grouped = _grouped(lines, query)
    grouped = round_frame(grouped, SPEND_MONEY, groups=("period_key",))
    frame = _with_periods(grouped, query.granularity, window) if len(grouped) else \
        pd.DataFrame(columns=[*SPEND_COLUMNS, "period_key"])
    frame["currency"] = currency
    frame = frame.sort_values(["period_key", "cost", "group"], ascending=[True, False, True],
                              kind="stable").reset_index(drop=True)
    return Report(name="spend", columns=SPEND_COLUMNS, frame=frame[list(SPEND_COLUMNS)],
                  parameters=frozen(query.to_dict()), currency=currency,
                  notes=(*SPEND_NOTES, ROUNDING_RULE,
                         *(source.describe() for source in bill.sources)),
                  money=SPEND_MONEY, freshness=bill.freshness())


def spend_series(lines: pd.DataFrame, basis: SpendBasis, group_by: SpendDimension,
                 tag_key: str | None = None) -> dict[str, pd.Series]:
    """Daily spend per group of bill lines (``day`` a date or datetime64 column), each over
    every day from the lines' first to their last (0 where none): the series a spend
    forecast is fitted and scored on."""
    if lines.empty:
        return {}
    days = np.asarray(pd.to_datetime(lines["day"]).to_numpy(), dtype="datetime64[D]")
    frame = pd.DataFrame({"day": days, "cost": basis_cost(lines, basis),
                          "group": group_values(lines, group_by, tag_key)})
    index = np.arange(days.min(), days.max() + 1)
    return {str(group): part.groupby("day")["cost"].sum().reindex(index, fill_value=0.0)
            for group, part in frame.groupby("group", sort=True)}


__all__ = [
    "DIMENSION_COLUMNS",
    "SPEND_COLUMNS",
    "SPEND_DEFINITIONS",
    "SPEND_MONEY",
    "BillLines",
    "BillSource",
    "SpendBasis",
    "SpendDimension",
    "SpendGranularity",
    "SpendQuery",
    "SpendScope",
    "basis_cost",
    "bill_providers",
    "group_values",
    "load_lines",
    "select_lines",
    "spend",
    "spend_period_end",
    "spend_period_label",
    "spend_period_starts",
    "spend_report",
    "spend_series",
    "tag_values",
]
