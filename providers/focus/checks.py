"""Row-level validation of FOCUS data, run as a few DuckDB aggregates.

The checks' predicates are SQL that DuckDB and Spark SQL both run (``portable.py``'s
``ladder_*`` helpers); on Spark they name the column and value of a failing row
(``providers.focus.spark``), here also its file and row.

Each check is a SQL predicate over the loaded rows (table ``focus_rows``, one row
per FOCUS row with ``_pos`` = file index · 2⁴⁰ + 1-based data row). One query
finds the first failing row of every check; the earliest of them is reported,
so that the user fixes the file from the top. Type checks apply to every row
(a value that does not parse means the file is not what it claims); the checks
of meaning (negative quantity, missing price, currency) apply to the compute
usage rows only, because FOCUS itself allows negative quantities on refunds
and empty prices on rows Ladder does not use.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb

from core.errors import InvalidInput
from providers.focus.schema import NUMERIC, TIMESTAMPS

POSITION_BITS = 40
"""``_pos`` packs (file index, row) in one BIGINT so that MIN finds the first row."""

MAX_COST = 1e12
"""Largest cost or unit price, in absolute value, that one FOCUS row may carry (a trillion in
the billing currency): far above any real line item, far below where sums of millions of
rows lose precision or overflow (1.7e308 passes as a finite double, and its sum is inf)."""
MAX_QUANTITY = 1e15
"""Largest ``ConsumedQuantity`` of one row in absolute value (a million billion units:
requests and bytes included)."""

_BOUNDS = {"ConsumedQuantity": MAX_QUANTITY}
"""Each numeric column's bound; the money columns take :data:`MAX_COST`."""


@dataclass(frozen=True, slots=True)
class RowCheck:
    """A rule every row must pass: a SQL predicate true on failing rows, and its message."""

    column: str
    failing: str
    message: str
    shown: str = ""


def number_checks(column: str, number: str) -> list[RowCheck]:
    """Checks of a numeric FOCUS column: it parses, is finite, and is of plausible size.

    ``number`` is the SQL of the column typed as DOUBLE (NULL when it does not parse).
    """
    bound = _BOUNDS.get(column, MAX_COST)
    return [
        RowCheck(column, f"{column} IS NOT NULL AND {number} IS NULL",
                 f"{column} {{value!r}} is not a number", column),
        RowCheck(column, f"NOT ladder_finite({number})",
                 f"{column} {{value!r}} is not a finite number", column),
        RowCheck(column, f"abs({number}) > {bound:.0e}",
                 f"{column} {{value}} is implausibly large: one row may carry at most "
                 f"{bound:.0e} in absolute value; the export is damaged or in another unit",
                 column),
    ]


def _checks() -> tuple[RowCheck, ...]:
    checks: list[RowCheck] = []
    for column in TIMESTAMPS:
        checks += [
            RowCheck(column, f"{column} IS NULL",
                     f"{column} is empty; every FOCUS row needs its charge period"),
            RowCheck(column, f"{column} IS NOT NULL AND {column}_ts IS NULL",
                     f"{column} {{value!r}} is not a date-time "
                     "(expected ISO 8601, e.g. 2024-09-01T00:00:00Z)", column),
        ]
    checks.append(RowCheck(
        "ChargePeriodEnd", "ChargePeriodEnd_ts <= ChargePeriodStart_ts",
        "ChargePeriodEnd must be after ChargePeriodStart, got {value}",
        "CAST(ChargePeriodStart AS STRING) || ' to ' || CAST(ChargePeriodEnd AS STRING)",
    ))
    for column in NUMERIC:
        checks += number_checks(column, f"{column}_num")
    checks.append(RowCheck(
        "SkuPriceDetails",
        "SkuPriceDetails IS NOT NULL AND NOT ladder_json_valid(SkuPriceDetails)",
        "SkuPriceDetails {value!r} is not valid JSON", "SkuPriceDetails",
    ))
    on_usage = "is_used AND "
    checks += [
        RowCheck("ConsumedQuantity", on_usage + "ConsumedQuantity IS NULL",
                 "ConsumedQuantity is empty on a compute usage row"),
        RowCheck("ConsumedQuantity", on_usage + "ConsumedQuantity_num < 0",
                 "ConsumedQuantity {value} is negative on a compute usage row; "
                 "usage cannot be negative", "ConsumedQuantity"),
        RowCheck("ListCost", on_usage + "ListCost IS NULL",
                 "ListCost is empty on a compute usage row; Ladder prices usage at list"),
        RowCheck("BillingCurrency", on_usage + "BillingCurrency IS NULL",
                 "BillingCurrency is empty on a compute usage row"),
        RowCheck("ProviderName", on_usage + "ProviderName IS NULL",
                 "ProviderName is empty on a compute usage row"),
        RowCheck("RegionId", on_usage + "region IS NULL",
                 "RegionId is empty on a compute usage row"),
        RowCheck("SubAccountId", on_usage + "scope IS NULL",
                 "SubAccountId and BillingAccountId are both empty on a compute usage row"),
        RowCheck("RegionId", on_usage + "contains(region, '/')",
                 "RegionId {value!r} contains '/', which a usage key cannot hold", "region"),
        RowCheck("SubAccountId", on_usage + "contains(scope, '/')",
                 "account {value!r} contains '/', which a usage key cannot hold", "scope"),
    ]
    return tuple(checks)


CHECKS: tuple[RowCheck, ...] = _checks()


def split_position(position: int) -> tuple[int, int]:
    """(file index, 1-based data row) of a packed ``_pos``."""
    return position >> POSITION_BITS, position & ((1 << POSITION_BITS) - 1)


def check_rows(
    con: duckdb.DuckDBPyConnection, files: Sequence[str], *,
    checks: Sequence[RowCheck] = CHECKS,
) -> None:
    """Raise InvalidInput for the first row (in file order) that fails any check.

    One cheap pass asks whether any row fails any check (the predicates OR-ed, a row leaves
    at its first failing one); only then are the first failing row and value of each check
    found."""
    anything = " OR ".join(f"({check.failing})" for check in checks)
    if not checks or con.execute(
            f"SELECT 1 FROM focus_rows WHERE {anything} LIMIT 1").fetchone() is None:
        return
    parts = []
    for i, check in enumerate(checks):
        shown = check.shown or "NULL"
        parts.append(
            f"min(_pos) FILTER (WHERE {check.failing}) AS p{i}, "
            f"min_by(CAST({shown} AS STRING), _pos) FILTER (WHERE {check.failing}) AS v{i}"
        )
    result = con.execute(f"SELECT {', '.join(parts)} FROM focus_rows").fetchone()
    assert result is not None
    failures = [
        (result[2 * i], i, result[2 * i + 1])
        for i in range(len(checks)) if result[2 * i] is not None
    ]
    if not failures:
        return
    position, index, value = min(failures, key=lambda f: (f[0], f[1]))
    file_index, row = split_position(position)
    check = checks[index]
    raise InvalidInput(check.message.format(value=value), source=files[file_index], row=row,
                       column=check.column)


def check_one_currency(con: duckdb.DuckDBPyConnection, files: Sequence[str]) -> str:
    """The one billing currency of the compute usage rows; InvalidInput if they mix two."""
    row = con.execute("""
        WITH first AS (
            SELECT arg_min(currency, _pos) AS currency, min(_pos) AS position
            FROM focus_rows WHERE is_used)
        SELECT first.currency, first.position, r.currency, r._pos
        FROM first LEFT JOIN focus_rows AS r ON r.is_used AND r.currency <> first.currency
        ORDER BY r._pos NULLS LAST LIMIT 1
    """).fetchone()
    assert row is not None
    first, first_position, other, other_position = row
    if other is None:
        return str(first)
    first_file, first_row = split_position(first_position)
    file_index, at = split_position(other_position)
    raise InvalidInput(
        f"mixed billing currencies {first} and {other}: the compute usage starts in {first} "
        f"({files[first_file]} row {first_row}) and this row is in {other}; Ladder reads one "
        "currency at a time, so split the input by BillingCurrency",
        source=files[file_index], row=at, column="BillingCurrency",
    )


_SAME_CHARGE = (
    "ResourceId", "scope", "ChargePeriodStart_ts", "ChargePeriodEnd_ts", "instance_type",
    "PricingCategory", "ChargeDescription", "x_UsageType", "ConsumedQuantity_num",
    "ListCost_num", "BilledCost_num",
)


def check_no_overlap(con: duckdb.DuckDBPyConnection, files: Sequence[str]) -> None:
    """InvalidInput when two files hold the same compute charge (the same data read twice).

    Re-running an export (AWS Data Exports in "create new report" mode, or a
    Parquet copy beside the CSV) leaves the same charges in several files; read
    together they would double the usage and the commitments bought on it. A
    charge is "the same" when the resource, the period, the SKU and the amounts
    all match, which distinct charges of one export never do.
    """
    if len(files) < 2:
        return
    same = " AND ".join(f"a.{c} IS NOT DISTINCT FROM b.{c}" for c in _SAME_CHARGE)
    row = con.execute(f"""
        SELECT a._pos, b._pos FROM focus_rows AS a JOIN focus_rows AS b
            ON a.ResourceId = b.ResourceId AND {same} AND a._file < b._file
        WHERE a.is_used AND b.is_used
        ORDER BY b._pos, a._pos LIMIT 1
    """).fetchone()
    if row is None:
        return
    first_file, first_row = split_position(row[0])
    file_index, at = split_position(row[1])
    raise InvalidInput(
        f"this charge repeats {files[first_file]} row {first_row} (same ResourceId, charge "
        "period, SKU and amounts): the two files overlap, as when one billing period is "
        "exported twice; keep one copy of each period",
        source=files[file_index], row=at, column="ChargePeriodStart",
    )
