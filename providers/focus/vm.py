"""FOCUS ingestion for virtual machines of other clouds than AWS, one rule set per cloud.

``read_focus`` (``reader.py``) recognises EC2 instance usage. Azure and GCP write
the same FOCUS columns but name their VM usage differently: Azure by meter and
VM size (normalised by the instance size flexibility ratio), GCP by machine
series and resource (vCPU-hours and GiB-hours billed as separate SKUs). A
:class:`VmRules` holds one cloud's rules as DuckDB SQL; :func:`read_vm_focus`
runs them with the same loading, checks, hourly spreading and result type as
``read_focus``, so everything downstream reads one shape.

Rules may name extra columns (``x_SkuDetails``, ``SkuMeter`` …): they are read
when the file has them and are NULL otherwise. A rule set may also bring a
lookup table (Azure's size flexibility ratios), joined on ``instance_type``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import duckdb
import pandas as pd

from core.errors import InvalidInput
from providers.focus import checks
from providers.focus.reader import (
    HOURLY_COLUMNS,
    KEY_COLUMNS,
    FocusUsage,
    _as_text,
    _find_files,
    _hourly,
    _reader,
    _span,
    _unreadable,
)
from providers.focus.schema import NUMERIC, TIMESTAMPS, resolve_columns

__all__ = ["HOURLY_COLUMNS", "KEY_COLUMNS", "VmRules", "read_vm_focus"]


@dataclass(frozen=True)
class VmRules:
    """One cloud's rules for VM usage in FOCUS, as DuckDB SQL over the loaded rows.

    Every column of the file is text; ``ConsumedQuantity_num`` and the other
    ``*_num``/``*_ts`` columns are typed. The expressions are evaluated in order:

    * ``instance_type``: what is running (a VM size, a series and resource), NULL
      when the row is not VM usage;
    * ``is_compute``: predicate over the row and ``instance_type``, true for VM usage
      that a commitment could cover (spot, unused commitment and corrections excluded);
    * ``family`` and ``factor``: the usage key's family and the normalised units per
      consumed unit, over the row and the ``lookup`` table's columns (``factor`` NULL
      when the size is unknown: the row is skipped and counted);
    * ``scope``, ``platform``, ``tenancy``: the remaining parts of the usage key.
    """

    provider: str
    service: str
    instance_type: str
    is_compute: str
    family: str
    factor: str
    scope: str
    platform: str = "'linux'"
    tenancy: str = "'shared'"
    extra_columns: tuple[str, ...] = ()
    lookup: pd.DataFrame | None = None
    description: str = ""
    none_found: str = "no VM usage found"


def read_vm_focus(path: str | Path, rules: VmRules) -> FocusUsage:
    """Read a FOCUS file or folder and reduce one cloud's VM usage to hourly units per key."""
    root = Path(path)
    files = _find_files(root)
    names = tuple(str(f) for f in files)
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET preserve_insertion_order = true")
        con.register("vm_lookup", _lookup(rules))
        rows_read = sum(_load(con, i, file, rules.extra_columns) for i, file in enumerate(files))
        _classify(con, len(files), rules)
        checks.check_rows(con, names)
        rows_used, skipped = _counts(con)
        if rows_used == 0:
            raise InvalidInput(rules.none_found, source=str(root))
        currency = checks.check_one_currency(con, names)
        checks.check_no_overlap(con, names)
        start, end = _span(con)
        return FocusUsage(
            hourly=_hourly(con, start, end),
            keys=_keys(con, rules.service),
            files=names,
            currency=currency,
            rows_read=rows_read,
            rows_used=rows_used,
            start=start,
            end=end,
            skipped=MappingProxyType(skipped),
        )
    finally:
        con.close()


def _load(con: duckdb.DuckDBPyConnection, index: int, path: Path,
          extra: tuple[str, ...]) -> int:
    """Load one file's FOCUS columns and the rules' extra columns as text into ``src_<index>``."""
    source = str(path)
    if path.stat().st_size == 0:
        raise InvalidInput("the file is empty", source=source)
    function, kind = _reader(path)
    try:
        described = con.execute(f"DESCRIBE SELECT * FROM {function}", [source]).fetchall()
        types = {str(name): str(column_type) for name, column_type, *_ in described}
        found = resolve_columns(list(types), source=source)
        by_lower = {name.lstrip("\ufeff").strip().lower(): name for name in types}
        wanted: dict[str, str | None] = dict(found)
        for column in extra:
            if column not in wanted:
                wanted[column] = by_lower.get(column.lower())
        projection = ", ".join(
            f"{_as_text(wanted[c], types.get(wanted[c] or '', ''))} AS {c}" for c in wanted
        )
        con.execute(f"CREATE TEMP TABLE src_{index} AS SELECT {projection} FROM {function}",
                    [source])
    except duckdb.Error as exc:
        raise _unreadable(exc, kind, source) from exc
    count = con.execute(f"SELECT count(*) FROM src_{index}").fetchone()
    rows = int(count[0]) if count else 0
    if rows == 0:
        raise InvalidInput("the file has no data rows", source=source)
    return rows


def _classify(con: duckdb.DuckDBPyConnection, file_count: int, rules: VmRules) -> None:
    """Build ``focus_rows`` with the columns the shared checks and reducers read."""
    union = " UNION ALL ".join(
        f"SELECT {i} AS _file, rowid + 1 AS _row, * FROM src_{i}" for i in range(file_count)
    )
    casts = ", ".join(
        [f"TRY_CAST({c} AS TIMESTAMPTZ) AS {c}_ts" for c in TIMESTAMPS]
        + [f"TRY_CAST({c} AS DOUBLE) AS {c}_num" for c in NUMERIC]
    )
    lookup = _lookup(rules)
    lookup_columns = "".join(
        f", vm_lookup.{c} AS lookup_{c}" for c in lookup.columns if c != "instance_type"
    )
    con.execute(f"""
        CREATE TEMP TABLE focus_rows AS
        WITH raw AS ({union}),
        typed AS (
            SELECT *, (CAST(_file AS BIGINT) << {checks.POSITION_BITS}) + _row AS _pos,
                {casts}, {rules.instance_type} AS instance_type
            FROM raw),
        joined AS (
            SELECT typed.*{lookup_columns}
            FROM typed LEFT JOIN vm_lookup ON vm_lookup.instance_type = typed.instance_type),
        sized AS (
            SELECT *, {rules.family} AS family, {rules.factor} AS factor,
                ({rules.is_compute}) AND instance_type IS NOT NULL AS is_compute
            FROM joined),
        keyed AS (
            SELECT *, is_compute AND factor IS NOT NULL AND family IS NOT NULL AS is_used,
                '{rules.provider}' AS provider,
                {rules.scope} AS scope,
                {rules.platform} AS platform,
                {rules.tenancy} AS tenancy,
                upper(BillingCurrency) AS currency
            FROM sized)
        SELECT *, CASE WHEN is_used THEN concat_ws('/', provider, scope, '{rules.service}',
                RegionId, family, platform, tenancy) END AS usage_key
        FROM keyed
    """)


def _lookup(rules: VmRules) -> pd.DataFrame:
    """The rules' lookup table, or an empty one keyed by ``instance_type``."""
    if rules.lookup is not None:
        return rules.lookup
    return pd.DataFrame({"instance_type": pd.Series([], dtype="object")})


def _counts(con: duckdb.DuckDBPyConnection) -> tuple[int, dict[str, int]]:
    """Rows used, and VM rows skipped per instance type (a size without a known factor)."""
    used = con.execute("SELECT count(*) FROM focus_rows WHERE is_used").fetchone()
    skipped = con.execute("""
        SELECT instance_type, count(*) FROM focus_rows
        WHERE is_compute AND NOT is_used GROUP BY instance_type ORDER BY instance_type
    """).fetchall()
    return (int(used[0]) if used else 0), {str(t): int(n) for t, n in skipped}


def _keys(con: duckdb.DuckDBPyConnection, service: str) -> pd.DataFrame:
    """One row per usage key with its parts and on-demand rate per normalised unit-hour."""
    frame = con.execute(f"""
        SELECT usage_key, any_value(provider) AS provider,
            min(BillingAccountId) AS billing_account, any_value(scope) AS scope,
            '{service}' AS service, any_value(RegionId) AS region,
            any_value(family) AS family, any_value(platform) AS platform,
            any_value(tenancy) AS tenancy,
            coalesce(sum(ListCost_num) / nullif(sum(ConsumedQuantity_num * factor), 0),
                     avg(ListUnitPrice_num / factor)) AS on_demand_rate
        FROM focus_rows WHERE is_used
        GROUP BY usage_key ORDER BY usage_key
    """).df()
    return frame.astype({"on_demand_rate": "float64"})[list(KEY_COLUMNS)]


def lookup_frame(rows: Mapping[str, tuple[str, float]]) -> pd.DataFrame:
    """A lookup table ``instance_type → (family, ratio)`` for :attr:`VmRules.lookup`."""
    return pd.DataFrame(
        {
            "instance_type": list(rows),
            "family": [family for family, _ in rows.values()],
            "ratio": [float(ratio) for _, ratio in rows.values()],
        }
    )
