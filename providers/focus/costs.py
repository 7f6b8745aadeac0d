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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from core.db.frames import BILL_COLUMNS, BILL_COSTS, BILL_GROUPS
from core.db.periods import PERIOD_HOUR_COLUMNS
from core.errors import InvalidInput
from providers.focus import checks
from providers.focus.reader import EC2_RULES, VmRules, find_files, load_focus_rows

COST_COLUMNS: tuple[str, ...] = (
    "day", "usage_key", "tags", "commitment_discount_id", "billing_period", "charge_start_day",
    "units", "list_cost", "billed_cost", "effective_cost", "contracted_cost",
)
"""Columns of the frame ``read_focus_costs`` returns."""

PERIOD_SQL = "CAST(TRY_CAST(BillingPeriodStart AS TIMESTAMPTZ) AS DATE)"
"""A row's billing period: the first day of its ``BillingPeriodStart`` (NULL without one)."""
START_DAY_SQL = "CAST(ChargePeriodStart_ts AS DATE)"
"""The UTC day a row's charge period starts on (the connection is in UTC)."""

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
    files = _files(path)
    con = duckdb.connect(":memory:")
    try:
        load_focus_rows(con, files, rules, EXTRA)
        checks.check_rows(con, tuple(str(f) for f in files), checks=COST_CHECKS)
        frame = _daily(con)
    finally:
        con.close()
    return _canonical_tags(frame)


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
    files = _files(path)
    con = duckdb.connect(":memory:")
    try:
        load_focus_rows(con, files, rules, EXTRA)
        checks.check_rows(con, tuple(str(f) for f in files), checks=COST_CHECKS)
        costs = _canonical_tags(_daily(con))
        hours = _period_hours(con)
    finally:
        con.close()
    return FocusPeriods(costs, hours)


def _period_hours(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Units and list cost of the compute rows per billing period, charge start day, hour
    and key, each row spread over its hours by overlap (hours without usage have no row)."""
    frame = con.execute(f"""
        WITH spread AS (
            SELECT coalesce({PERIOD_SQL},
                            CAST(date_trunc('month', ChargePeriodStart_ts) AS DATE))
                    AS billing_period,
                {START_DAY_SQL} AS charge_start_day, usage_key,
                ConsumedQuantity_num * factor AS units, ListCost_num AS cost,
                epoch_us(ChargePeriodStart_ts) AS s, epoch_us(ChargePeriodEnd_ts) AS e,
                unnest(range(date_trunc('hour', ChargePeriodStart_ts), ChargePeriodEnd_ts,
                             INTERVAL 1 HOUR)) AS hour
            FROM focus_rows WHERE is_used),
        weighted AS (
            SELECT billing_period, charge_start_day, usage_key, hour,
                (least(e, epoch_us(hour) + 3600000000) - greatest(s, epoch_us(hour)))
                    / (e - s) AS weight, units, cost
            FROM spread)
        SELECT billing_period, charge_start_day, hour, usage_key,
            sum(units * weight) AS units, sum(cost * weight) AS on_demand_cost
        FROM weighted GROUP BY ALL ORDER BY billing_period, charge_start_day, hour, usage_key
    """).df()
    for column in ("billing_period", "charge_start_day"):
        frame[column] = pd.to_datetime(frame[column]).dt.date
    frame["hour"] = pd.DatetimeIndex(frame["hour"]).tz_convert("UTC").as_unit("us")
    frame["usage_key"] = frame["usage_key"].astype(str)
    return frame[list(PERIOD_HOUR_COLUMNS)]


def _files(path: str | Path | Sequence[str | Path]) -> list[Path]:
    if isinstance(path, str | Path):
        return find_files(Path(path))
    files = [Path(p) for p in path]
    if not files:
        raise InvalidInput("no FOCUS files given")
    return [f for p in files for f in find_files(p)]


def _by_day(con: duckdb.DuckDBPyConnection, columns: str, where: str,
            groups: tuple[str, ...], sums: tuple[str, ...]) -> pd.DataFrame:
    """Sum the rows of ``focus_rows`` matching ``where`` per UTC day and ``groups``, each row
    spread over the days of its charge period in proportion to the overlap (a row whose
    period is empty falls on its start day). ``columns`` selects the groups and the
    ``sums`` from a row."""
    totals = ", ".join(f"sum({c} * w) AS {c}" for c in sums)
    frame = con.execute(f"""
        WITH rows AS (
            SELECT {columns},
                epoch_us(ChargePeriodStart_ts) AS s, epoch_us(ChargePeriodEnd_ts) AS e,
                ChargePeriodStart_ts AS start_ts,
                greatest(ChargePeriodEnd_ts, ChargePeriodStart_ts + INTERVAL 1 MICROSECOND)
                    AS end_ts
            FROM focus_rows WHERE {where}),
        spread AS (
            SELECT *, unnest(range(date_trunc('day', start_ts), end_ts, INTERVAL 1 DAY)) AS day
            FROM rows),
        weighted AS (
            SELECT *, CASE WHEN e <= s THEN 1.0 ELSE
                (least(e, epoch_us(day) + 86400000000) - greatest(s, epoch_us(day))) / (e - s)
                END AS w
            FROM spread)
        SELECT CAST(day AS DATE) AS day, {", ".join(groups)}, {totals}
        FROM weighted
        GROUP BY ALL
        ORDER BY day, {", ".join(groups)}
    """).df()
    frame["day"] = pd.to_datetime(frame["day"]).dt.date
    return frame


_COST_SQL = """coalesce(ListCost_num, 0.0) AS list_cost,
    coalesce(BilledCost_num, 0.0) AS billed_cost,
    TRY_CAST(EffectiveCost AS DOUBLE) AS effective_cost,
    TRY_CAST(ContractedCost AS DOUBLE) AS contracted_cost"""


def _daily(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Sum the compute usage rows per UTC day, key, tags and commitment, spread by overlap."""
    return _by_day(
        con, f"""usage_key, coalesce(Tags, '{{}}') AS tags,
            CommitmentDiscountId AS commitment_discount_id,
            {PERIOD_SQL} AS billing_period, {START_DAY_SQL} AS charge_start_day,
            ConsumedQuantity_num * factor AS units, {_COST_SQL}""",
        "is_used", ("usage_key", "tags", "commitment_discount_id", "billing_period",
                    "charge_start_day"),
        ("units", *BILL_COSTS))


def _as_dates(frame: pd.DataFrame, columns: Sequence[str]) -> None:
    """DuckDB's DATE arrives as datetime64: make the columns calendar dates (None for NULL),
    as ``day`` is."""
    for column in columns:
        stamps = pd.to_datetime(frame[column])
        frame[column] = stamps.dt.date.astype(object).where(stamps.notna(), None)


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


def _canonical_tags(frame: pd.DataFrame) -> pd.DataFrame:
    """Rewrite ``tags`` canonically and merge the lines that become identical."""
    mapping = {raw: _canonical(raw) for raw in frame["tags"].unique()}
    frame["tags"] = frame["tags"].map(mapping)
    frame["commitment_discount_id"] = frame["commitment_discount_id"].astype(object)
    _as_dates(frame, ("billing_period", "charge_start_day"))
    keys = ["day", "usage_key", "tags", "commitment_discount_id", "billing_period",
            "charge_start_day"]
    merged = (
        frame.groupby(keys, sort=True, dropna=False)
        .agg(units=("units", "sum"), list_cost=("list_cost", "sum"),
             billed_cost=("billed_cost", "sum"),
             effective_cost=("effective_cost", lambda s: s.sum(min_count=1)),
             contracted_cost=("contracted_cost", lambda s: s.sum(min_count=1)))
        .reset_index()
    )
    for column in ("commitment_discount_id", "billing_period", "charge_start_day"):
        merged[column] = merged[column].astype(object).where(merged[column].notna(), None)
    merged["usage_key"] = merged["usage_key"].astype(str)
    return merged[list(COST_COLUMNS)]


def read_bill_lines(path: str | Path | Sequence[str | Path]) -> pd.DataFrame:
    """Every row of the FOCUS files, compute or not, summed per UTC day and the columns
    finance groups by (``BILL_COLUMNS``; tags canonical JSON). A row is spread over the days
    of its charge period in proportion to the overlap; a row whose period is empty (a
    one-time charge stamped at an instant) falls on its start day."""
    files = _files(path)
    con = duckdb.connect(":memory:")
    try:
        load_focus_rows(con, files, EC2_RULES, EXTRA)
        checks.check_rows(con, tuple(str(f) for f in files), checks=COST_CHECKS)
        frame = _by_day(
            con, f"""coalesce(ProviderName, '') AS provider_name,
                BillingAccountId AS billing_account_id, SubAccountId AS sub_account_id,
                RegionId AS region_id, ServiceCategory AS service_category,
                ServiceName AS service_name, ChargeCategory AS charge_category,
                ChargeClass AS charge_class, coalesce(Tags, '{{}}') AS tags, currency,
                {PERIOD_SQL} AS billing_period, {START_DAY_SQL} AS charge_start_day,
                {_COST_SQL}""",
            "true", BILL_GROUPS, BILL_COSTS)
    finally:
        con.close()
    _as_dates(frame, ("billing_period", "charge_start_day"))
    mapping = {raw: _canonical(raw) for raw in frame["tags"].unique()}
    frame["tags"] = frame["tags"].map(mapping)
    # Tags written differently may now be the same set: sum those lines together.
    merged = (
        frame.groupby(["day", *BILL_GROUPS], sort=True, dropna=False)
        .agg(list_cost=("list_cost", "sum"), billed_cost=("billed_cost", "sum"),
             effective_cost=("effective_cost", lambda v: v.sum(min_count=1)),
             contracted_cost=("contracted_cost", lambda v: v.sum(min_count=1)))
        .reset_index()
    )
    for column in BILL_GROUPS:
        merged[column] = merged[column].astype(object).where(merged[column].notna(), None)
    return merged[list(BILL_COLUMNS)]


__all__ = ["BILL_COLUMNS", "COST_COLUMNS", "PERIOD_HOUR_COLUMNS", "FocusPeriods",
           "read_bill_lines", "read_focus_costs", "read_focus_periods"]
