"""Read the cost side of FOCUS files: daily costs per usage key, tag set and commitment.

``read_focus`` (``reader.py``) reduces FOCUS to hourly units per usage key and
drops the rest. Reports need more of each row: its ``Tags``, and its
``BilledCost``, ``EffectiveCost`` and ``ContractedCost`` beside ``ListCost``.
This module reads the same files with the same classification (the rows and
usage keys are exactly those of ``read_focus`` with the same rules: it reuses the
reader's loading and ``focus_rows`` step) and sums them per UTC day, usage key, tag set and
``CommitmentDiscountId``, each row spread over the days of its charge period in
proportion to the overlap, as the reader spreads it over hours.

``EffectiveCost``, ``ContractedCost``, ``Tags`` and ``CommitmentDiscountId`` are
optional: a file without them gives NULL costs (FOCUS ESR then reads as unknown),
empty tags and no commitment.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import duckdb
import pandas as pd

from core.db.frames import BILL_COLUMNS, BILL_GROUPS
from core.db.periods import PERIOD_HOUR_COLUMNS
from core.errors import InvalidInput
from providers.focus import checks, portable
from providers.focus.reader import EC2_RULES, VmRules, find_files, load_focus_rows, offsets

COST_COLUMNS: tuple[str, ...] = (
    "day", "usage_key", "tags", "commitment_discount_id", "billing_period", "charge_start_day",
    "units", "list_cost", "billed_cost", "effective_cost", "contracted_cost",
)
"""Columns of the frame ``read_focus_costs`` returns."""

EXTRA: tuple[str, ...] = ("Tags", "EffectiveCost", "ContractedCost", "CommitmentDiscountId",
                         "BillingPeriodStart")
"""FOCUS columns read here beyond those ``read_focus`` reads."""

COST_CHECKS: tuple[checks.RowCheck, ...] = tuple(
    check for column in ("EffectiveCost", "ContractedCost")
    for check in checks.number_checks(column, f"TRY_CAST({column} AS DOUBLE)"))
"""The optional cost columns, held to the rules of the others (a number, finite, plausible)."""

NO_TAGS = "{}"


def read_focus_costs(path: str | Path | Sequence[str | Path],
                     rules: VmRules = EC2_RULES) -> pd.DataFrame:
    """Daily FOCUS costs per usage key, tag set and commitment of a file, folder or file list.

    Returns the columns ``COST_COLUMNS``: ``day`` (``datetime.date``, UTC),
    ``usage_key``, ``tags`` (canonical JSON), ``commitment_discount_id`` (None
    when absent), ``billing_period`` (the first day of ``BillingPeriodStart``, None when
    absent), ``units`` (normalised unit-hours), and the four costs summed.
    """
    return _from_cost_rows(path, rules, daily_costs)


@dataclass(frozen=True, eq=False)
class FocusPeriods:
    """The compute side of FOCUS files by billing period, for an ingest that replaces
    whole periods (``ladder.history``).

    A row's period is its ``BillingPeriodStart``'s first day. ``costs`` are the daily cost
    lines (``COST_COLUMNS``, ``billing_period`` as read: None without the column); ``hours``
    the hourly compute usage per period, charge start day and key (``PERIOD_HOUR_COLUMNS``,
    sparse, spread over hours as ``read_focus`` spreads it: their sum per hour and key is
    its ``hourly``), a row without a period counted in its ``ChargePeriodStart``'s calendar
    month (UTC).
    """

    costs: pd.DataFrame
    hours: pd.DataFrame


def read_focus_periods(path: str | Path | Sequence[str | Path],
                       rules: VmRules = EC2_RULES) -> FocusPeriods:
    """:class:`FocusPeriods` of a file, folder or file list, from one load of its rows."""
    return _from_cost_rows(path, rules,
                           lambda con: FocusPeriods(daily_costs(con), period_hours_of(con)))


T = TypeVar("T")


def _from_cost_rows(path: str | Path | Sequence[str | Path], rules: VmRules,
                    reduce: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
    """``reduce`` of the rows of the files, loaded and checked once (the cost columns
    included) with ``rules``' classification."""
    files = _files(path)
    con = duckdb.connect(":memory:")
    try:
        load_focus_rows(con, files, rules, EXTRA)
        checks.check_rows(con, tuple(str(f) for f in files), checks=COST_CHECKS)
        return reduce(con)
    finally:
        con.close()


def daily_costs(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The daily cost lines of the compute rows (``portable.daily_sql``, as Spark runs it)."""
    offsets(con, portable.DAY_US, "is_used")
    groups = cost_groups()
    return cost_lines(con.execute(portable.daily_sql(
        portable.cost_line_sql(groups), "is_used", groups, portable.COST_SUMS)).df())


def period_hours_of(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The compute rows' hours per billing period, charge start day and key
    (``portable.hourly_sql``, as Spark runs it)."""
    offsets(con, portable.HOUR_US, "is_used")
    return period_hours(con.execute(
        portable.hourly_sql(portable.PERIOD_HOUR_GROUPS)).df())


def _files(path: str | Path | Sequence[str | Path]) -> list[Path]:
    if isinstance(path, str | Path):
        return find_files(Path(path))
    files = [Path(p) for p in path]
    if not files:
        raise InvalidInput("no FOCUS files given")
    return [f for p in files for f in find_files(p)]


def _canonical(tags: str) -> str:
    """Tags as JSON with sorted keys and string values; anything that is not an object is none."""
    try:
        value = json.loads(tags)
    except (TypeError, ValueError):
        return NO_TAGS
    if not isinstance(value, dict):
        return NO_TAGS
    return json.dumps({str(k): "" if v is None else str(v) for k, v in value.items()},
                      sort_keys=True, separators=(",", ":"))


def period_hours(sparse: pd.DataFrame) -> pd.DataFrame:
    """``read_focus_periods``' hours (``PERIOD_HOUR_COLUMNS``, sorted) from the rows of
    ``portable.hourly_sql(portable.PERIOD_HOUR_GROUPS)``."""
    frame = sparse.copy()
    for column in ("billing_period", "charge_start_day"):
        frame[column] = pd.to_datetime(frame[column]).dt.date
    frame["hour"] = pd.to_datetime(frame.pop("hour_us"), unit="us", utc=True).astype(
        "datetime64[us, UTC]")
    frame["usage_key"] = frame["usage_key"].astype(str)
    frame = frame.sort_values(["billing_period", "charge_start_day", "hour", "usage_key"],
                              ignore_index=True)
    return frame[list(PERIOD_HOUR_COLUMNS)]


def _days(frame: pd.DataFrame) -> pd.DataFrame:
    """``day_us`` → ``day`` (a ``datetime.date``), ``billing_period`` as dates or None."""
    frame = frame.copy()
    frame.insert(0, "day", pd.to_datetime(frame.pop("day_us"), unit="us").dt.date)
    for column in ("billing_period", "charge_start_day"):
        if column in frame:
            dates = pd.to_datetime(frame[column])
            frame[column] = dates.dt.date.astype(object).where(dates.notna(), None)
    frame["tags"] = frame["tags"].map({raw: _canonical(raw) for raw in frame["tags"].unique()})
    return frame


def _merge(frame: pd.DataFrame, groups: Sequence[str], sums: Sequence[str],
           nullable: Sequence[str]) -> pd.DataFrame:
    """Sum the lines that canonical tags made identical; ``nullable`` sums stay NULL when
    every part is (FOCUS ESR then reads as unknown)."""
    # Two vectorised sums over one grouping (a Python lambda per group took seconds for a
    # few hundred thousand lines): min_count=1 keeps a group of NULLs NULL.
    grouped = frame.groupby(["day", *groups], sort=True, dropna=False)
    plain = [c for c in sums if c not in nullable]
    kept = [c for c in sums if c in nullable]
    merged = pd.concat([grouped[plain].sum(), grouped[kept].sum(min_count=1)],
                       axis=1)[list(sums)].reset_index()
    for column in groups:
        merged[column] = merged[column].astype(object).where(merged[column].notna(), None)
    return merged


def cost_groups() -> tuple[str, ...]:
    """The groups of ``read_focus_costs``' lines besides the day (its columns less the
    day and the sums)."""
    return tuple(c for c in COST_COLUMNS if c != "day" and c not in portable.COST_SUMS)


def cost_lines(daily: pd.DataFrame) -> pd.DataFrame:
    """The daily cost lines of ``read_focus_costs`` from ``portable.cost_line_sql``."""
    merged = _merge(_days(daily), cost_groups(), portable.COST_SUMS,
                    ("effective_cost", "contracted_cost"))
    merged["usage_key"] = merged["usage_key"].astype(str)
    return merged[list(COST_COLUMNS)]


def bill_lines(daily: pd.DataFrame) -> pd.DataFrame:
    """The daily bill lines of ``read_bill_lines`` from ``portable.bill_line_sql``."""
    merged = _merge(_days(daily), BILL_GROUPS, portable.BILL_SUMS,
                    ("effective_cost", "contracted_cost"))
    return merged[list(BILL_COLUMNS)]



def read_bill_lines(path: str | Path | Sequence[str | Path]) -> pd.DataFrame:
    """Every row of the FOCUS files, compute or not, summed per UTC day and the columns
    finance groups by (``BILL_COLUMNS``; tags canonical JSON). A row is spread over the days
    of its charge period in proportion to the overlap; a row whose period is empty (a
    one-time charge stamped at an instant) falls on its start day."""
    return _from_cost_rows(path, EC2_RULES, daily_bill_lines)


def daily_bill_lines(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """:func:`read_bill_lines` of the rows ``focus_rows`` holds (any cloud's classification:
    every row counts)."""
    offsets(con, portable.DAY_US, "true")
    return bill_lines(con.execute(portable.daily_sql(
        portable.bill_line_sql(BILL_GROUPS), "true", BILL_GROUPS, portable.BILL_SUMS)).df())


__all__ = ["BILL_COLUMNS", "COST_COLUMNS", "PERIOD_HOUR_COLUMNS", "FocusPeriods", "bill_lines",
           "cost_groups", "cost_lines", "daily_bill_lines", "daily_costs", "period_hours",
           "period_hours_of", "read_bill_lines", "read_focus_costs",
           "read_focus_periods"]
