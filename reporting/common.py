"""What every report shares: validated parameters, periods, the scope filter, the Report value.

Parameters are validated here, once, into frozen values (``ReportQuery``,
``Scope``); a bad value raises ``InvalidInput`` naming the field, which the API
renders as a 422 problem document. Reports come back as a :class:`Report`: a
frame with fixed columns, the definition of every figure, the parameters as
understood, and where the data came from — ready for JSON (``to_dict``) and CSV
(``to_csv``).
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd

from core.errors import InvalidInput
from reporting.definitions import definitions_for


class Granularity(StrEnum):
    """The length of a report's periods (UTC calendar periods); ``total`` is the whole window."""

    DAY = "day"
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"
    TOTAL = "total"


class Dimension(StrEnum):
    """What a report's rows may be grouped by, beside the period."""

    NONE = "none"
    PROVIDER = "provider"
    ACCOUNT = "account"
    SERVICE = "service"
    REGION = "region"
    USAGE_KEY = "usage_key"
    COMMITMENT = "commitment"
    TAG = "tag"


KEY_DIMENSIONS = (Dimension.PROVIDER, Dimension.ACCOUNT, Dimension.SERVICE, Dimension.REGION,
                  Dimension.USAGE_KEY)
"""Dimensions that are attributes of a usage key."""

MAX_TEXT = 512

E = TypeVar("E", bound=StrEnum)


def _enum(kind: type[E], value: E | str, name: str) -> E:
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise InvalidInput(f"{name} must be one of {allowed}, got {value!r}",
                           column=name) from None


def _text(value: str | None, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
        raise InvalidInput(f"{name} must be a non-empty string of at most {MAX_TEXT} "
                           "characters", column=name)
    return value.strip()


@dataclass(frozen=True, slots=True)
class Scope:
    """Which usage a report or budget covers: every field set narrows it (None = any).

    ``account`` is the usage key's billing scope (AWS account, Azure subscription,
    GCP project); ``tag_key``/``tag_value`` select FOCUS tag sets (``tag_value``
    needs ``tag_key``).
    """

    provider: str | None = None
    account: str | None = None
    service: str | None = None
    usage_key: str | None = None
    tag_key: str | None = None
    tag_value: str | None = None

    def __post_init__(self) -> None:
        for name in ("provider", "account", "service", "usage_key", "tag_key", "tag_value"):
            object.__setattr__(self, name, _text(getattr(self, name), name))
        if self.tag_value is not None and self.tag_key is None:
            raise InvalidInput("tag_value needs tag_key", column="tag_value")

    @property
    def narrowed(self) -> bool:
        """Whether the scope is narrower than whole providers (then unallocated costs are out).

        ``tag_key`` alone only names the tag to split or group by: it narrows nothing.
        """
        return any(v is not None for v in (self.account, self.service, self.usage_key,
                                           self.tag_value))

    def to_dict(self) -> dict[str, str | None]:
        """The scope's fields, for a response."""
        return {"provider": self.provider, "account": self.account, "service": self.service,
                "usage_key": self.usage_key, "tag_key": self.tag_key,
                "tag_value": self.tag_value}


def _day(value: date | datetime | str | None, name: str) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise InvalidInput(f"{name} must be a date or a timezone-aware datetime",
                               column=name)
        value = value.astimezone(UTC)
        if value != datetime(value.year, value.month, value.day, tzinfo=UTC):
            raise InvalidInput(f"{name} must fall on a UTC day boundary", column=name)
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise InvalidInput(f"{name} must be a date (YYYY-MM-DD), got {value!r}",
                           column=name) from None


@dataclass(frozen=True, slots=True)
class ReportQuery:
    """Validated parameters of a report: window, period length, grouping, scope.

    ``start`` is the first UTC day included and ``end`` the first excluded; either
    may be None (the data's own bounds). ``group_by`` ``tag`` needs
    ``scope.tag_key`` (the tag to group by).
    """

    start: date | None = None
    end: date | None = None
    granularity: Granularity = Granularity.MONTH
    group_by: Dimension = Dimension.NONE
    scope: Scope = field(default_factory=Scope)

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", _day(self.start, "start"))
        object.__setattr__(self, "end", _day(self.end, "end"))
        object.__setattr__(self, "granularity",
                           _enum(Granularity, self.granularity, "granularity"))
        object.__setattr__(self, "group_by", _enum(Dimension, self.group_by, "group_by"))
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise InvalidInput("end must be after start", column="end")
        if self.group_by is Dimension.TAG and self.scope.tag_key is None:
            raise InvalidInput("group_by=tag needs tag_key (the tag to group by)",
                               column="tag_key")

    def to_dict(self) -> dict[str, Any]:
        """The parameters as understood, for a response."""
        return {
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
            "granularity": self.granularity.value,
            "group_by": self.group_by.value,
            **self.scope.to_dict(),
        }


@dataclass(frozen=True, slots=True)
class SnapshotInfo:
    """Where a report's figures come from: one reporting snapshot of one provider's dataset."""

    snapshot_id: int
    token: str
    provider: str
    dataset_id: int
    currency: str
    start: datetime
    end: datetime
    created_at: datetime
    inventory_sha256: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {
            "snapshot_id": self.snapshot_id, "provider": self.provider,
            "dataset_id": self.dataset_id, "currency": self.currency,
            "start": self.start.isoformat(), "end": self.end.isoformat(),
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class Freshness:
    """How recent a report's data is against the newest commitments of its providers."""

    data_through: datetime | None
    newest_commitment_start: datetime | None
    warnings: tuple[str, ...] = ()

    @property
    def stale(self) -> bool:
        """Whether the data ends before the newest commitment starts (see ``warnings``)."""
        return bool(self.warnings)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {
            "data_through": self.data_through.isoformat() if self.data_through else None,
            "newest_commitment_start": (self.newest_commitment_start.isoformat()
                                        if self.newest_commitment_start else None),
            "stale": self.stale, "warnings": list(self.warnings),
        }


def _json_value(value: Any) -> Any:
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _finite(value: Any) -> bool:
    """Whether a cell is a finite number (None, NaN and ±inf are not)."""
    try:
        return value is not None and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


@dataclass(frozen=True, eq=False)
class Report:
    """A report: a frame with the fixed ``columns``, each figure's definition, and provenance.

    Money columns hold whole cents (float64 whose repr is exact, e.g. 12.34),
    rounded so that the rows of each period add up to the period's total;
    ratios are plain floats (None/NaN when undefined).
    """

    name: str
    columns: tuple[str, ...]
    frame: pd.DataFrame
    parameters: Mapping[str, Any]
    currency: str
    sources: tuple[SnapshotInfo, ...] = ()
    notes: tuple[str, ...] = ()
    money: tuple[str, ...] = ()
    freshness: Freshness | None = None
    """Through when the data runs, and whether it is older than the newest commitment."""

    @property
    def definitions(self) -> dict[str, str]:
        """Definition of every column of the report that has one."""
        return definitions_for(self.columns)

    def fresh_fields(self) -> dict[str, Any]:
        """``data_through``, ``newest_commitment_start``, ``stale`` and ``warnings``."""
        freshness = self.freshness or Freshness(None, None)
        return freshness.to_dict()

    def copy(self) -> Report:
        """The same report with its own copy of the frame (cached reports hand out copies)."""
        return replace(self, frame=self.frame.copy())

    def records(self) -> list[dict[str, Any]]:
        """The rows as JSON-ready dicts (dates as ISO strings, NaN as None)."""
        frame = self.frame[list(self.columns)]
        return [
            {column: _json_value(value) for column, value in zip(self.columns, row, strict=True)}
            for row in frame.itertuples(index=False, name=None)
        ]

    def totals(self) -> dict[str, float | None]:
        """Σ of every money column (exact: the rows are whole cents); None when not finite."""
        sums = {column: float(np.rint(self.frame[column].to_numpy() * 100).sum()) / 100
                for column in self.money}
        return {column: round(total, 2) if math.isfinite(total) else None
                for column, total in sums.items()}

    def to_dict(self) -> dict[str, Any]:
        """The whole report, JSON-ready: rows, definitions, parameters, totals, sources."""
        return {
            "report": self.name,
            "currency": self.currency,
            "parameters": dict(self.parameters),
            "columns": list(self.columns),
            "definitions": self.definitions,
            "notes": list(self.notes),
            **self.fresh_fields(),
            "totals": self.totals(),
            "sources": [source.to_dict() for source in self.sources],
            "rows": self.records(),
        }

    def to_csv(self) -> str:
        """The rows as CSV with a header; money with two decimals; unknown figures empty.

        A figure that is not finite (unknown: NaN; or an overflow, which ingestion's
        bounds keep out) is written as an empty field, never ``nan`` or ``inf``.
        """
        frame = self.frame[list(self.columns)].copy()
        for column in self.money:
            frame[column] = [f"{value:.2f}" if _finite(value) else "" for value in frame[column]]
        for column in frame.columns:
            if pd.api.types.is_float_dtype(frame[column]):
                frame[column] = frame[column].where(np.isfinite(frame[column]))
        buffer = io.StringIO()
        frame.to_csv(buffer, index=False, lineterminator="\n", na_rep="")
        return buffer.getvalue()


# --- periods ----------------------------------------------------------------------------


def days_array(days: pd.Series | Sequence[date]) -> npt.NDArray[np.datetime64]:
    """Days as numpy ``datetime64[D]``."""
    return np.asarray(pd.to_datetime(pd.Series(days)).to_numpy(), dtype="datetime64[D]")


def period_starts(days: npt.NDArray[np.datetime64],
                  granularity: Granularity) -> npt.NDArray[np.datetime64]:
    """The first day of each day's period (``datetime64[D]``); ``total`` maps all to one day."""
    if granularity is Granularity.DAY:
        return days
    if granularity is Granularity.MONTH:
        return days.astype("datetime64[M]").astype("datetime64[D]")
    if granularity is Granularity.QUARTER:
        months = days.astype("datetime64[M]").astype(np.int64)
        return (months - months % 3).astype("datetime64[M]").astype("datetime64[D]")
    if granularity is Granularity.YEAR:
        return days.astype("datetime64[Y]").astype("datetime64[D]")
    first = days.min() if days.size else np.datetime64("1970-01-01", "D")
    return np.full(days.shape, first, dtype="datetime64[D]")


def period_end(start: date, granularity: Granularity, window_end: date | None = None) -> date:
    """The first day after the period that starts on ``start``."""
    if granularity is Granularity.DAY:
        return start + timedelta(days=1)
    if granularity is Granularity.TOTAL:
        return window_end or start
    months = {Granularity.MONTH: 1, Granularity.QUARTER: 3, Granularity.YEAR: 12}[granularity]
    index = start.year * 12 + start.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def period_label(start: date, granularity: Granularity) -> str:
    """``2024-06-01``, ``2024-06``, ``2024-Q3``, ``2024`` or ``total``."""
    if granularity is Granularity.DAY:
        return start.isoformat()
    if granularity is Granularity.MONTH:
        return f"{start.year:04d}-{start.month:02d}"
    if granularity is Granularity.QUARTER:
        return f"{start.year:04d}-Q{(start.month - 1) // 3 + 1}"
    if granularity is Granularity.YEAR:
        return f"{start.year:04d}"
    return "total"


def period_of(day: date, granularity: Granularity) -> tuple[date, date]:
    """The period (start, end) that contains ``day``."""
    start = period_starts(np.array([np.datetime64(day, "D")]), granularity)[0]
    first = pd.Timestamp(start).date()
    return first, period_end(first, granularity)


def add_period_columns(frame: pd.DataFrame, granularity: Granularity, *,
                       window: tuple[date, date] | None = None) -> pd.DataFrame:
    """Add ``period``, ``period_start``, ``period_end`` from ``period_key`` (datetime64[D]).

    Edges are clipped to ``window`` if given, so a partial first or last period says so.
    """
    if frame.empty:
        return frame.assign(period=pd.Series(dtype=object), period_start=pd.Series(dtype=object),
                            period_end=pd.Series(dtype=object))
    keys, inverse = np.unique(frame["period_key"].to_numpy().astype("datetime64[D]"),
                              return_inverse=True)
    starts = [pd.Timestamp(key).date() for key in keys]
    labels = np.array([period_label(day, granularity) for day in starts], dtype=object)
    firsts = np.array(starts if window is None else [max(day, window[0]) for day in starts],
                      dtype=object)
    ends = [period_end(day, granularity, window[1] if window else None) for day in starts]
    lasts = np.array(ends if window is None else [min(day, window[1]) for day in ends],
                     dtype=object)
    out = frame.copy()
    out["period"] = labels[inverse]
    out["period_start"] = firsts[inverse]
    out["period_end"] = lasts[inverse]
    return out


def ratio(numerator: pd.Series, denominator: pd.Series,
          empty: float = float("nan")) -> pd.Series:
    """numerator ÷ denominator, ``empty`` where the denominator is 0."""
    den = denominator.to_numpy(dtype=np.float64)
    num = numerator.to_numpy(dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        values = np.where(den != 0, num / np.where(den != 0, den, 1.0), empty)
    return pd.Series(values, index=numerator.index)


def frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    """A read-only copy of a mapping."""
    return MappingProxyType(dict(mapping))


__all__ = [
    "KEY_DIMENSIONS",
    "Dimension",
    "Freshness",
    "Granularity",
    "Report",
    "ReportQuery",
    "Scope",
    "SnapshotInfo",
    "add_period_columns",
    "days_array",
    "frozen",
    "period_end",
    "period_label",
    "period_of",
    "period_starts",
    "ratio",
]
