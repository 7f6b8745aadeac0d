"""The FOCUS reduction as one SQL definition that DuckDB and Spark SQL both run unchanged.

Ladder reduces a FOCUS export in three steps, all SQL text built here once:

1. :func:`classify_sql` types every row of ``focus_raw`` and keys the compute usage with a
   cloud's :class:`~providers.focus.reader.VmRules` (the view ``focus_rows``);
2. :func:`hourly_sql` spreads each compute row over the hours of its charge period and sums
   units and list cost per hour and usage key (sparse: hours without usage have no row);
   :func:`keys_sql` gives each key its parts and on-demand rate, :func:`span_sql` the hours
   the export covers;
3. :func:`daily_sql` spreads rows over UTC days instead, for the daily cost lines of the
   reports (:func:`cost_line_sql` for the compute rows, :func:`bill_line_sql` for every
   row).

The text uses only what both engines share — ``CASE``, ``coalesce``, ``regexp_extract``,
``split_part``, ``concat_ws``, ``ILIKE``, ``min_by``, ``any_value``, ``FILTER``, arithmetic on
epoch microseconds — and a few helper functions named ``ladder_*`` for what the two spell
differently (a regular-expression test, a JSON field, epoch microseconds, a timestamp parse):
DuckDB defines them as macros (:func:`prelude`), and for Spark :func:`expand` writes each
call out as Spark's own expression (Spark 4's SQL functions are refused in a generator).
Spreading over hours joins a small table ``ladder_offsets`` (``n`` = 0 … the most hours a
charge spans − 1) instead of exploding an array, since the engines' array generators differ;
the join is an inequality on a table of a handful of rows, which DuckDB runs as a nested loop
and Spark as a broadcast nested-loop join.

Two settings make the text mean the same on both: time zone UTC, and Spark's
``spark.sql.parser.escapedStringLiterals=true`` so that a backslash in a regular expression
is a backslash, as in DuckDB (:data:`SPARK_CONF`). The same SQL runs on Trino/Athena and
BigQuery with their own helper definitions (``providers/focus/README.md``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from providers.focus.schema import NUMERIC, TIMESTAMPS

if TYPE_CHECKING:
    from providers.focus.reader import VmRules

ENGINES: tuple[str, ...] = ("duckdb", "spark")
"""The engines the reduction runs on."""

HOUR_US = 3_600_000_000
DAY_US = 86_400_000_000
POSITION_FACTOR = 1 << 40
"""``_pos`` = file index · 2⁴⁰ + 1-based row (``checks.POSITION_BITS``), by multiplication:
a shift is spelled differently by the two engines."""

SPARK_CONF: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.parser.escapedStringLiterals": "true",
}
"""The Spark settings the SQL needs (UTC; a backslash in a literal is a backslash)."""

# name: (parameters with their Spark SQL types, return type, DuckDB body, Spark body)
HELPERS: dict[str, tuple[str, str, str, str]] = {
    "ladder_re": ("s STRING, p STRING", "BOOLEAN",
                  "regexp_matches(s, p)", "regexp_like(s, p)"),
    "ladder_re_full": ("s STRING, p STRING", "BOOLEAN",
                       "regexp_full_match(s, p)", "regexp_like(s, '^(?:' || p || ')$')"),
    "ladder_replace_all": ("s STRING, p STRING, r STRING", "STRING",
                           "regexp_replace(s, p, r, 'g')", "regexp_replace(s, p, r)"),
    "ladder_json": ("j STRING, path STRING", "STRING",
                    "CASE WHEN json_valid(j) THEN json_extract_string(j, path) END",
                    "get_json_object(j, path)"),
    "ladder_json_valid": ("j STRING", "BOOLEAN",
                          "json_valid(j)", "get_json_object(j, '$') IS NOT NULL"),
    "ladder_finite": ("x DOUBLE", "BOOLEAN",
                      "isfinite(x)", "NOT (isnan(x) OR abs(x) = CAST('Infinity' AS DOUBLE))"),
    "ladder_us": ("t TIMESTAMP", "BIGINT", "epoch_us(t)", "unix_micros(t)"),
    "ladder_ts": ("x STRING", "TIMESTAMP",
                  "TRY_CAST(x AS TIMESTAMPTZ)", "try_cast(x AS TIMESTAMP)"),
}
"""The helper functions the SQL calls, per engine: what the two spell differently."""


def prelude(engine: str) -> list[str]:
    """The statements defining the helper functions as DuckDB macros (once per connection)."""
    if engine == "duckdb":
        return [f"CREATE OR REPLACE TEMP MACRO {name}({_names(params)}) AS {duck}"
                for name, (params, _, duck, _) in HELPERS.items()]
    raise ValueError(f"no prelude for {engine!r}: Spark runs the expanded SQL (expand)")


_CALL = re.compile(r"\bladder_[a-z_]+\(")


def _arguments(sql: str, start: int) -> tuple[list[str], int]:
    """The top-level arguments of the call whose ``(`` is at ``start``, and the index after
    its ``)``; quoted text (``'…'``, ``''`` inside) is skipped."""
    depth, i, begin, found = 0, start, start + 1, []
    while i < len(sql):
        char = sql[i]
        if char == "'":
            i += 1
            while i < len(sql) and not (sql[i] == "'" and sql[i + 1:i + 2] != "'"):
                i += 2 if sql[i] == "'" else 1
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                found.append(sql[begin:i].strip())
                return found, i + 1
        elif char == "," and depth == 1:
            found.append(sql[begin:i].strip())
            begin = i + 1
        i += 1
    raise ValueError(f"unbalanced call in SQL at {start}: {sql[start:start + 60]!r}")


def expand(sql: str, engine: str) -> str:
    """``sql`` with each ``ladder_*`` helper call replaced by the engine's expression.

    Spark runs the expanded text (Spark 4's SQL functions cannot be used inside a generator);
    DuckDB runs the macros of :func:`prelude` (the same expressions). Trino and BigQuery need
    their own spellings (``providers/focus/README.md``).
    """
    column = {"duckdb": 2, "spark": 3}[engine]
    while (match := _CALL.search(sql)) is not None:
        name = match.group(0)[:-1]
        if name not in HELPERS:
            raise ValueError(f"unknown helper {name} in the SQL")
        params = [part.split()[0] for part in HELPERS[name][0].split(",")]
        args, end = _arguments(sql, match.end() - 1)
        if len(args) != len(params):
            raise ValueError(f"{name} takes {len(params)} arguments, got {len(args)}")
        values = dict(zip(params, args, strict=True))
        body = _substitute(str(HELPERS[name][column]), values)
        sql = f"{sql[:match.start()]}({body}){sql[end:]}"
    return sql


def _substitute(body: str, values: dict[str, str]) -> str:
    """``body`` with each parameter name replaced by its argument, parenthesised."""
    def argument(match: re.Match[str]) -> str:
        return f"({values[match.group(1)]})"

    return re.sub(r"\b(" + "|".join(values) + r")\b", argument, body)


def _names(params: str) -> str:
    """The parameter names of a typed parameter list (``s STRING, p STRING`` → ``s, p``)."""
    return ", ".join(part.split()[0] for part in params.split(","))


def position_sql() -> str:
    """SQL of ``_pos`` (file index and row in one BIGINT) over ``_file`` and ``_row``."""
    return f"CAST(_file AS BIGINT) * {POSITION_FACTOR} + _row"


def classify_sql(rules: VmRules, inputs: Sequence[str], lookup_columns: Sequence[str]) -> str:
    """``SELECT`` of ``focus_rows``: every row of ``focus_raw`` typed, classified and keyed.

    ``inputs`` are the columns the rules read (the rules run once per distinct combination of
    them, joined back); ``lookup_columns`` the columns of ``vm_lookup`` besides
    ``instance_type``, seen as ``lookup_<column>``.
    """
    casts = ", ".join(
        [f"ladder_ts({c}) AS {c}_ts" for c in TIMESTAMPS]
        + [f"TRY_CAST({c} AS DOUBLE) AS {c}_num" for c in NUMERIC]
    )
    looked_up = "".join(f", vm_lookup.{c} AS lookup_{c}" for c in lookup_columns)
    listed = ", ".join(inputs)
    same = " AND ".join(f"typed.{c} IS NOT DISTINCT FROM classes.{c}" for c in inputs) or "true"
    outputs = ", ".join(
        f"classes.{c}" for c in (
            "instance_type", *(f"lookup_{c}" for c in lookup_columns),
            "family", "factor", "is_compute", "is_used", "provider", "scope", "platform",
            "tenancy", "region", "usage_key"))
    return f"""
        WITH typed AS (
            SELECT *, {position_sql()} AS _pos, {casts}
            FROM focus_raw),
        distinct_inputs AS (SELECT DISTINCT {listed or "1 AS _none"} FROM typed),
        typed_classes AS (
            SELECT *, {rules.instance_type} AS instance_type FROM distinct_inputs),
        joined AS (
            SELECT typed_classes.*{looked_up}
            FROM typed_classes LEFT JOIN vm_lookup
                ON vm_lookup.instance_type = typed_classes.instance_type),
        sized AS (
            SELECT *, {rules.family} AS family, {rules.factor} AS factor,
                ({rules.is_compute}) AND instance_type IS NOT NULL AS is_compute
            FROM joined),
        keyed AS (
            SELECT *, is_compute AND factor IS NOT NULL AND family IS NOT NULL AS is_used,
                {rules.provider} AS provider,
                {rules.scope} AS scope,
                {rules.platform} AS platform,
                {rules.tenancy} AS tenancy,
                {rules.region} AS region
            FROM sized),
        classes AS (
            SELECT *, CASE WHEN is_used THEN concat_ws('/', provider, scope, '{rules.service}',
                region, family, platform, tenancy) END AS usage_key
            FROM keyed)
        SELECT typed.*, {outputs}, upper(typed.BillingCurrency) AS currency
        FROM typed JOIN classes ON {same}
    """


def rule_sql(rules: VmRules) -> str:
    """All of the rules' SQL, to find the columns it names."""
    return " ".join((rules.instance_type, rules.is_compute, rules.family, rules.factor,
                     rules.scope, rules.platform, rules.tenancy, rules.region, rules.provider))


COUNTS_SQL = """
    SELECT count(*) AS rows_read,
        count(*) FILTER (WHERE is_used) AS rows_used
    FROM focus_rows"""
"""Rows read and rows of compute usage used."""

SKIPPED_SQL = """
    SELECT instance_type, count(*) AS n FROM focus_rows
    WHERE is_compute AND NOT is_used GROUP BY instance_type ORDER BY instance_type"""
"""Compute rows left out per instance type (a size without a known factor)."""

SPAN_SQL = f"""
    WITH usage_rows AS (
        SELECT ladder_us(ChargePeriodStart_ts) AS s, ladder_us(ChargePeriodEnd_ts) AS e
        FROM focus_rows
        WHERE lower(ChargeCategory) = 'usage'
          AND ProviderName IN (SELECT ProviderName FROM focus_rows WHERE is_used))
    SELECT min(s) - min(s) % {HOUR_US} AS start_us,
        max(e - 1) - max(e - 1) % {HOUR_US} + {HOUR_US} AS end_us
    FROM usage_rows"""
"""``[start, end)`` in whole hours (epoch µs) of the usage charges of the providers that have
compute usage: hours of the export where no instance ran are real zeros for the forecast."""


def offsets_needed_sql(unit_us: int, where: str) -> str:
    """SQL of the most ``unit_us`` periods (hours, days) that one row matching ``where``
    spans: the rows ``ladder_offsets`` needs."""
    start = "ladder_us(ChargePeriodStart_ts)"
    end = f"greatest(ladder_us(ChargePeriodEnd_ts), {start} + 1)"
    return f"""
        SELECT coalesce(max(CAST(ceil(({end} - ({start} - {start} % {unit_us}))
                                       / {float(unit_us)}) AS BIGINT)), 1) AS n
        FROM focus_rows WHERE {where}"""


def _spread_sql(columns: str, where: str, unit_us: int) -> str:
    """The rows matching ``where`` (``columns`` selected from each), one per ``unit_us``
    period (hour or day) that the row's charge period touches, with its share ``w`` of the
    row: the overlap over the row's length (1 for a row of no length, on its start period)."""
    return f"""
        WITH selected AS (
            SELECT {columns},
                ladder_us(ChargePeriodStart_ts) AS s, ladder_us(ChargePeriodEnd_ts) AS e
            FROM focus_rows WHERE {where}),
        spread AS (
            SELECT selected.*, s - s % {unit_us} + o.n * {unit_us} AS period_us
            FROM selected JOIN ladder_offsets AS o
                ON o.n * {unit_us} < greatest(e, s + 1) - (s - s % {unit_us}))
        SELECT *, CASE WHEN e <= s THEN 1.0 ELSE
                (least(e, period_us + {unit_us}) - greatest(s, period_us)) / (e - s) END AS w
        FROM spread"""


def hourly_sql(groups: dict[str, str] | None = None) -> str:
    """Units and list cost per hour (``hour_us``, epoch µs), usage key and ``groups`` (name:
    SQL of a row) of the compute rows, each spread over the hours of its charge period by
    overlap; hours without usage have no row."""
    extra = "".join(f"{sql} AS {name}, " for name, sql in (groups or {}).items())
    listed = "".join(f", {name}" for name in groups or {})
    spread = _spread_sql(f"{extra}usage_key, ConsumedQuantity_num * factor AS units, "
                         "ListCost_num AS cost", "is_used", HOUR_US)
    return f"""
    SELECT period_us AS hour_us{listed}, usage_key, sum(units * w) AS units,
        sum(cost * w) AS on_demand_cost
    FROM ({spread}) AS weighted
    GROUP BY period_us{listed}, usage_key"""


HOURLY_SQL = hourly_sql()
"""Units and list cost per hour (epoch µs) and usage key of the compute rows (the
reduction ``read_focus`` stores)."""


def keys_sql(service: str) -> str:
    """One row per usage key with its parts and on-demand rate (Σ list cost / Σ normalised
    units; the list unit price per normalised unit when every quantity is zero)."""
    return f"""
        SELECT usage_key, any_value(provider) AS provider,
            min(BillingAccountId) AS billing_account, any_value(scope) AS scope,
            '{service}' AS service, any_value(region) AS region,
            any_value(family) AS family, any_value(platform) AS platform,
            any_value(tenancy) AS tenancy,
            coalesce(sum(ListCost_num) / nullif(sum(ConsumedQuantity_num * factor), 0),
                     avg(ListUnitPrice_num / factor)) AS on_demand_rate
        FROM focus_rows WHERE is_used
        GROUP BY usage_key"""


PERIOD_SQL = "CAST(ladder_ts(BillingPeriodStart) AS DATE)"
"""A row's billing period: the first day of its ``BillingPeriodStart`` (NULL without one)."""

_COSTS = """coalesce(ListCost_num, 0.0) AS list_cost,
    coalesce(BilledCost_num, 0.0) AS billed_cost,
    TRY_CAST(EffectiveCost AS DOUBLE) AS effective_cost,
    TRY_CAST(ContractedCost AS DOUBLE) AS contracted_cost"""

START_DAY_SQL = "CAST(ChargePeriodStart_ts AS DATE)"
"""The UTC day a row's charge period starts on (both engines run in UTC)."""

PERIOD_HOUR_GROUPS: dict[str, str] = {
    "billing_period": f"coalesce({PERIOD_SQL}, CAST(date_trunc('month', ChargePeriodStart_ts) "
                      "AS DATE))",
    "charge_start_day": START_DAY_SQL,
}
"""The groups of the hourly usage kept per billing period (``costs.read_focus_periods``): a
row without ``BillingPeriodStart`` counts in its ``ChargePeriodStart``'s calendar month."""

COST_LINE_COLUMNS: dict[str, str] = {
    "usage_key": "usage_key",
    "tags": "coalesce(Tags, '{}')",
    "commitment_discount_id": "CommitmentDiscountId",
    "billing_period": PERIOD_SQL,
    "charge_start_day": START_DAY_SQL,
}
"""What each group of a daily cost line of compute usage is of a row (``Tags`` raw: the
canonical JSON is made after)."""
COST_SUMS: tuple[str, ...] = ("units", "list_cost", "billed_cost", "effective_cost",
                              "contracted_cost")


def cost_line_sql(groups: Sequence[str]) -> str:
    """What a compute row gives its daily cost line: ``groups`` (of
    :data:`COST_LINE_COLUMNS`), its normalised units and the four costs."""
    return ", ".join([f"{_column(COST_LINE_COLUMNS, g)} AS {g}" for g in groups]
                     + ["ConsumedQuantity_num * factor AS units", _COSTS])


def _column(columns: dict[str, str], name: str) -> str:
    if name not in columns:
        raise ValueError(f"no SQL for the line group {name!r}")
    return columns[name]


BILL_LINE_COLUMNS: dict[str, str] = {
    "provider_name": "coalesce(ProviderName, '')",
    "billing_account_id": "BillingAccountId",
    "sub_account_id": "SubAccountId",
    "region_id": "RegionId",
    "service_category": "ServiceCategory",
    "service_name": "ServiceName",
    "charge_category": "ChargeCategory",
    "charge_class": "ChargeClass",
    "tags": "coalesce(Tags, '{}')",
    "currency": "currency",
    "billing_period": PERIOD_SQL,
    "charge_start_day": START_DAY_SQL,
}
"""What each group of a daily bill line (``core.db.frames.BILL_GROUPS``) is of a row."""
BILL_SUMS: tuple[str, ...] = ("list_cost", "billed_cost", "effective_cost", "contracted_cost")


def bill_line_sql(groups: Sequence[str]) -> str:
    """What any row gives its daily bill line: ``groups`` (of :data:`BILL_LINE_COLUMNS`)
    and the four costs."""
    return ", ".join([f"{_column(BILL_LINE_COLUMNS, g)} AS {g}" for g in groups] + [_COSTS])


def daily_sql(columns: str, where: str, groups: Sequence[str], sums: Sequence[str]) -> str:
    """Sums per UTC day (``day_us``, epoch µs) and ``groups`` of the rows matching ``where``,
    each row spread over the days of its charge period by overlap (a row of no length falls
    on its start day); ``columns`` selects the groups and ``sums`` from a row."""
    totals = ", ".join(f"sum({c} * w) AS {c}" for c in sums)
    listed = ", ".join(groups)
    return f"""
        SELECT period_us AS day_us, {listed}, {totals}
        FROM ({_spread_sql(columns, where, DAY_US)}) AS weighted
        GROUP BY period_us, {listed}"""


__all__ = [
    "BILL_LINE_COLUMNS",
    "BILL_SUMS",
    "COST_LINE_COLUMNS",
    "COST_SUMS",
    "COUNTS_SQL",
    "DAY_US",
    "ENGINES",
    "HELPERS",
    "HOURLY_SQL",
    "HOUR_US",
    "SKIPPED_SQL",
    "SPAN_SQL",
    "SPARK_CONF",
    "START_DAY_SQL",
    "bill_line_sql",
    "classify_sql",
    "cost_line_sql",
    "daily_sql",
    "expand",
    "keys_sql",
    "offsets_needed_sql",
    "prelude",
    "rule_sql",
]
