"""Read FOCUS files with DuckDB and reduce them to hourly compute usage per usage key.

One cloud's VM usage is recognised by a :class:`VmRules` (DuckDB SQL over the
rows): :data:`EC2_RULES` here for AWS (by instance type, normalised by
normalisation factor), Azure's and GCP's in their provider sub-packages. The
steps are the same for every cloud, all inside one in-memory DuckDB connection
that is closed at the end (nothing is written anywhere: the caller stores the
result in one transaction, so a failed read stores nothing):

1. find the files (one file, or every ``*.csv``, ``*.csv.gz`` and ``*.parquet``
   under a folder);
2. load each file's FOCUS columns (and the rules' extra columns) into a temporary
   table, whose ``rowid`` keeps the file's row order, so every error can name the
   row, and record the file's FOCUS version (declared by the export's manifest or
   metadata, else told by its columns: ``schema.py``). Text is loaded as text; the
   number and timestamp columns that every file holds typed (Parquet) keep DuckDB's
   own types, since they need no parsing;
3. type every row, classify and key it (``focus_rows``: the rules run once per
   distinct combination of the columns they read and are joined back), then run the
   checks of ``checks.py`` (one pass asks whether any row fails; only then are the
   failing rows found);
4. spread each compute row evenly over the hours of its charge period and sum per
   hour and key in DuckDB; numpy lays out the dense grid, zeros where nothing ran.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import NamedTuple

import duckdb
import numpy as np
import pandas as pd

from core.errors import InvalidInput
from providers.focus import checks, portable
from providers.focus.compute import (
    instance_type_sql,
    is_compute_sql,
    normalisation_factor_sql,
    platform_sql,
    provider_sql,
    tenancy_sql,
)
from providers.focus.layout import (
    DeclaredVersions,
    ExportFolder,
    declared_versions,
    manifest_files,
    scan,
)
from providers.focus.schema import (
    NUMERIC,
    TIMESTAMPS,
    FocusVersion,
    detect_version,
    normalise_declared,
    resolve_columns,
)

HOURLY_COLUMNS: tuple[str, ...] = ("hour", "usage_key", "units", "on_demand_cost")
KEY_COLUMNS: tuple[str, ...] = (
    "usage_key", "provider", "billing_account", "scope", "service", "region", "family",
    "platform", "tenancy", "on_demand_rate",
)


@dataclass(frozen=True, eq=False)
class FocusUsage:
    """Hourly compute usage per usage key, as read from FOCUS files.

    ``hourly`` is dense: every key has a row for every hour of ``[start, end)``,
    zero where nothing ran; ``units`` are normalised units and ``on_demand_cost``
    the list cost of that usage. ``keys`` has one row per usage key with its
    on-demand rate (Σ list cost / Σ units). ``skipped`` counts compute rows left
    out because their instance size has no normalisation factor (``metal``).
    ``versions`` gives each file's FOCUS version.
    """

    hourly: pd.DataFrame
    keys: pd.DataFrame
    files: tuple[str, ...]
    currency: str
    rows_read: int
    rows_used: int
    start: datetime
    end: datetime
    skipped: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    versions: Mapping[str, FocusVersion] = field(default_factory=lambda: MappingProxyType({}))


class Loaded(NamedTuple):
    """What :func:`load_focus_rows` loaded: the rows read and each file's FOCUS version."""

    rows: int
    versions: Mapping[str, FocusVersion]


class NoUsageFound(InvalidInput):
    """The files are valid FOCUS but hold no usage these rules read (a bill of another
    cloud, or one without VMs)."""


@dataclass(frozen=True)
class VmRules:
    """One cloud's rules for VM usage in FOCUS, as DuckDB SQL over the loaded rows.

    Every column of the file is text, except the number and timestamp columns that every file
    holds typed; ``ConsumedQuantity_num`` and the other ``*_num``/``*_ts`` columns are always
    typed (use those). The rules are evaluated once per distinct combination of the columns
    they name, so naming a column of many values (``ResourceId``) makes them slower. The
    expressions are evaluated in order:

    * ``instance_type``: what is running (a VM size, a series and resource), NULL
      when the row is not VM usage;
    * ``is_compute``: predicate over the row and ``instance_type``, true for VM usage
      that a commitment could cover (spot, unused commitment and corrections excluded);
    * ``family`` and ``factor``: the usage key's family and the normalised units per
      consumed unit, over the row and the ``lookup`` table's columns (``factor`` NULL
      when the size is unknown: the row is skipped and counted);
    * ``provider``, ``scope``, ``platform``, ``tenancy``, ``region``: the remaining parts of
      the usage key (``provider`` is SQL too: ``'azure'``; ``region`` is ``RegionId`` unless
      the cloud leaves it empty and writes ``RegionName``, as OCI does).

    Rules may name extra columns (``x_SkuDetails``, ``SkuMeter`` …): they are read
    when the file has them and are NULL otherwise. A rule set may also bring a
    lookup table (Azure's size flexibility ratios), joined on ``instance_type``;
    its columns appear as ``lookup_<column>``.
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
    region: str = "RegionId"
    extra_columns: tuple[str, ...] = ()
    lookup: pd.DataFrame | None = None
    description: str = ""
    none_found: str = "no VM usage found"


EC2_RULES = VmRules(
    provider=provider_sql(),
    service="ec2",
    instance_type=instance_type_sql(),
    is_compute=is_compute_sql(),
    family="split_part(instance_type, '.', 1)",
    factor=normalisation_factor_sql("split_part(instance_type, '.', 2)"),
    scope="coalesce(SubAccountId, BillingAccountId)",
    platform=platform_sql(),
    tenancy=tenancy_sql(),
    none_found=(
        "no EC2 instance usage found (ChargeCategory 'Usage', hourly ConsumedUnit, "
        "an instance type such as BoxUsage:m5.large): nothing to optimise"
    ),
)
"""AWS EC2 instance usage, by instance type, in normalisation-factor units."""


def read_focus(path: str | Path, rules: VmRules = EC2_RULES) -> FocusUsage:
    """Read a FOCUS file or folder and reduce one cloud's VM usage (EC2 by default) per key."""
    root = Path(path)
    files, folder = find_export(root)
    declared = declared_versions(folder) if folder is not None else None
    con = duckdb.connect(":memory:")
    try:
        loaded = load_focus_rows(con, files, rules, declared=declared)
        return reduce_usage(con, tuple(str(f) for f in files), rules, loaded, source=str(root))
    finally:
        con.close()


def reduce_usage(con: duckdb.DuckDBPyConnection, names: tuple[str, ...], rules: VmRules,
                 loaded: Loaded, *, source: str) -> FocusUsage:
    """The :class:`FocusUsage` of the rows ``focus_rows`` holds (classified by ``rules``,
    checked): counts, the currency and overlap checks, the span, hourly usage and keys."""
    rows_used, skipped = _counts(con)
    if rows_used == 0:
        raise NoUsageFound(rules.none_found, source=source)
    currency = checks.check_one_currency(con, names)
    checks.check_no_overlap(con, names)
    start, end = _span(con)
    return FocusUsage(
        hourly=_hourly(con, start, end),
        keys=_keys(con, rules.service),
        files=names,
        currency=currency,
        rows_read=loaded.rows,
        rows_used=rows_used,
        start=start,
        end=end,
        skipped=MappingProxyType(skipped),
        versions=loaded.versions,
    )


def load_focus_rows(con: duckdb.DuckDBPyConnection, files: Sequence[Path], rules: VmRules,
                    extra: tuple[str, ...] = (), *,
                    declared: DeclaredVersions | None = None) -> Loaded:
    """Load the files into ``focus_rows``, classified by ``rules``, and check every row.

    ``extra`` names further columns to read beside the rules' own; ``declared``, the versions
    the export folder's manifests and metadata declare. Returns the rows read and each file's
    FOCUS version.
    """
    loaded = load_files(con, files, (*rules.extra_columns, *extra), declared=declared)
    classify_rows(con, files, rules)
    return loaded


def load_files(con: duckdb.DuckDBPyConnection, files: Sequence[Path], columns: Sequence[str],
               *, declared: DeclaredVersions | None = None) -> Loaded:
    """Load each file's FOCUS columns and ``columns`` (NULL where a file lacks one) into
    ``src_<i>`` and the view ``focus_raw`` over them, once for every reduction that follows
    (:func:`classify_rows` with each cloud's rules)."""
    # Naive timestamps are UTC in FOCUS; and rowid must follow the file's row order.
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET preserve_insertion_order = true")
    for statement in portable.prelude("duckdb"):
        con.execute(statement)
    sources = [_describe(con, file, tuple(dict.fromkeys(columns)),
                         declared.of(file) if declared is not None else None)
               for file in files]
    native = _native_columns(sources)
    rows_read = 0
    versions: dict[str, FocusVersion] = {}
    for i, source in enumerate(sources):
        rows_read += _load(con, i, source, native)
        versions[str(source.path)] = source.version
    union = " UNION ALL ".join(
        f"SELECT {i} AS _file, rowid + 1 AS _row, * FROM src_{i}" for i in range(len(files))
    )
    con.execute(f"CREATE OR REPLACE TEMP VIEW focus_raw AS {union}")
    return Loaded(rows_read, MappingProxyType(versions))


def classify_rows(con: duckdb.DuckDBPyConnection, files: Sequence[Path], rules: VmRules) -> None:
    """(Re)build ``focus_rows`` from the loaded ``focus_raw`` with ``rules`` and check every
    row (``checks.CHECKS``)."""
    con.register("vm_lookup", _lookup(rules))
    _classify(con, rules)
    checks.check_rows(con, tuple(str(f) for f in files))


def _is_focus_file(path: Path) -> bool:
    """Whether the name is one ingestion reads (CSV, gzipped CSV, Parquet)."""
    name = path.name.lower()
    return name.endswith((".csv", ".csv.gz", ".parquet"))


def find_files(root: Path) -> list[Path]:
    """The file itself, or the FOCUS files under a folder in path order.

    Hidden files and folders (``.part.csv``, ``._x.csv`` left by macOS) are ignored. A folder
    that holds the clouds' export manifests is read through them: the files of the newest
    delivery of each period (``providers.focus.layout``).
    """
    return find_export(root)[0]


def find_export(root: Path) -> tuple[list[Path], ExportFolder | None]:
    """:func:`find_files`, and the folder as listed (None for a file), whose manifests and
    metadata also declare the files' FOCUS versions."""
    if root.is_file():
        if not _is_focus_file(root):
            raise InvalidInput("unsupported file type: expected .csv, .csv.gz or .parquet",
                               source=str(root))
        return [root], None
    if root.is_dir():
        folder = scan(root)
        listed = manifest_files(folder)
        if listed is not None:
            return [f for f in listed if _is_focus_file(f)], folder
        files = [f for f in folder.visible() if _is_focus_file(f)]
        if not files:
            raise InvalidInput("no FOCUS files (*.csv, *.csv.gz, *.parquet) in this folder",
                               source=str(root))
        return files, folder
    raise InvalidInput("no such file or folder", source=str(root))


def table_function(path: Path) -> tuple[str, str]:
    """The DuckDB table function reading ``path`` (path bound as parameter), and its kind."""
    if path.name.lower().endswith(".parquet"):
        return "read_parquet(?)", "Parquet"
    # FOCUS CSV is comma-separated with double quotes; a fixed dialect makes a damaged
    # file fail loudly instead of being sniffed as some other dialect.
    return (
        "read_csv(?, all_varchar = true, header = true, delim = ',', quote = '\"', "
        "escape = '\"')",
        "CSV",
    )


def _as_text(column: str | None, column_type: str) -> str:
    """SQL turning a source column into text, with empty and literal 'NULL' as NULL."""
    if column is None:
        return "CAST(NULL AS VARCHAR)"
    quoted = '"' + column.replace('"', '""') + '"'
    if column_type.startswith(("STRUCT", "MAP")) or column_type.endswith("[]"):
        quoted = f"to_json({quoted})"
    if column_type != "VARCHAR":
        quoted = f"CAST({quoted} AS VARCHAR)"
    return f"NULLIF(NULLIF(trim({quoted}), ''), 'NULL')"


_NUMBER_TYPES = re.compile(
    r"^(DOUBLE|FLOAT|REAL|DECIMAL(\(\d+,\s*\d+\))?|U?(TINY|SMALL|BIG|HUGE)?INT(EGER)?)$")
_TIMESTAMP_TYPES = re.compile(r"^(TIMESTAMP( WITH TIME ZONE|_S|_MS|_NS)?|TIMESTAMPTZ(_NS)?)$")


@dataclass(frozen=True)
class _Source:
    """One file to load: how DuckDB reads it, its columns' types, the file's name of each column
    read (None when absent), and its FOCUS version."""

    path: Path
    function: str
    kind: str
    types: Mapping[str, str]
    wanted: Mapping[str, str | None]
    version: FocusVersion


def _describe(con: duckdb.DuckDBPyConnection, path: Path, extra: tuple[str, ...],
              declared: tuple[str, Path] | None) -> _Source:
    """The file's columns and their types, the FOCUS columns and ``extra`` found in it, and its
    FOCUS version (``declared``: the label its export declares, and where)."""
    source = str(path)
    if path.stat().st_size == 0:
        raise InvalidInput("the file is empty", source=source)
    function, kind = table_function(path)
    try:
        described = con.execute(f"DESCRIBE SELECT * FROM {function}", [source]).fetchall()
    except duckdb.Error as exc:
        raise _unreadable(exc, kind, source) from exc
    types = {str(name): str(column_type) for name, column_type, *_ in described}
    wanted: dict[str, str | None] = dict(resolve_columns(list(types), source=source))
    version = (normalise_declared(declared[0], source=str(declared[1])) if declared
               else detect_version(list(types)))
    by_lower = {name.lstrip("\ufeff").strip().lower(): name for name in types}
    for column in extra:
        wanted.setdefault(column, by_lower.get(column.lower()))
    return _Source(path, function, kind, MappingProxyType(types), MappingProxyType(wanted),
                   version)


def _native_columns(sources: Sequence[_Source]) -> dict[str, str]:
    """The numeric and timestamp columns to load in DuckDB's own type instead of as text:
    those that every file holds as a number (loaded as DOUBLE) or as a timestamp (TIMESTAMPTZ),
    or lacks. A column that any file holds as text is loaded as text from every file, to be
    parsed with the row-numbered checks; typed, it needs no parsing and cannot fail to parse."""
    native: dict[str, str] = {}
    for columns, pattern, target in ((NUMERIC, _NUMBER_TYPES, "DOUBLE"),
                                     (TIMESTAMPS, _TIMESTAMP_TYPES, "TIMESTAMPTZ")):
        for column in columns:
            types = [s.types[s.wanted[column] or ""] for s in sources if s.wanted.get(column)]
            if types and all(pattern.match(t) for t in types):
                native[column] = target
    return native


def _projection(source: _Source, native: Mapping[str, str]) -> str:
    """The SELECT list loading ``source``: each wanted column as text, or natively typed."""
    parts = []
    for column, name in source.wanted.items():
        if column in native:
            value = ("NULL" if name is None
                     else '"' + name.replace('"', '""') + '"')
            parts.append(f"CAST({value} AS {native[column]}) AS {column}")
        else:
            parts.append(f"{_as_text(name, source.types.get(name or '', ''))} AS {column}")
    return ", ".join(parts)


def _load(con: duckdb.DuckDBPyConnection, index: int, source: _Source,
          native: Mapping[str, str]) -> int:
    """Load one file's wanted columns into ``src_<index>`` (text, or natively typed for the
    ``native`` columns) and count its rows."""
    name = str(source.path)
    try:
        con.execute(f"CREATE TEMP TABLE src_{index} AS SELECT {_projection(source, native)} "
                    f"FROM {source.function}", [name])
    except duckdb.Error as exc:
        raise _unreadable(exc, source.kind, name) from exc
    count = con.execute(f"SELECT count(*) FROM src_{index}").fetchone()
    rows = int(count[0]) if count else 0
    if rows == 0:
        raise InvalidInput("the file has no data rows", source=name)
    return rows


def _long_line(source: str, limit: int) -> int | None:
    """The first physical line of the file longer than ``limit`` bytes (1 is the header)."""
    opener = gzip.open if source.lower().endswith(".gz") else open
    with opener(source, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            if len(line.rstrip(b"\r\n")) > limit:
                return number
    return None


def _unreadable(exc: duckdb.Error, kind: str, source: str) -> InvalidInput:
    """InvalidInput for a file DuckDB cannot parse, with the row when DuckDB gives its line."""
    text = str(exc)
    too_long = re.search(r"Maximum line size of (\d+) bytes exceeded\. Actual Size:\s*(\d+)",
                         text)
    if kind == "CSV" and too_long:
        # DuckDB's line number is not the file's here: find the line ourselves.
        limit, size = int(too_long[1]), int(too_long[2])
        line_number = _long_line(source, limit)
        return InvalidInput(
            f"a CSV line is {size:,} bytes long, more than the {limit:,} bytes a line may "
            "have; a field that large is not billing data (or a quote left open runs on "
            "through the lines after it)", source=source,
            row=line_number - 1 if line_number and line_number > 1 else None)
    if kind == "CSV" and ("CSV Error on Line" in text or "sniffing" in text):
        line = re.search(r"CSV Error on Line: (\d+)", text)
        fields = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", text)
        problem = (f"expected {fields[1]} fields as in the header, found {fields[2]}" if fields
                   else "a quote is not closed or a row has the wrong number of fields")
        # DuckDB counts lines from the header (line 1); rows are counted without it.
        return InvalidInput(f"not well-formed CSV: {problem}", source=source,
                            row=int(line[1]) - 1 if line else None)
    detail = text.strip().splitlines()[0]
    return InvalidInput(f"cannot read the file as {kind}: {detail}", source=source)


def _classify(con: duckdb.DuckDBPyConnection, rules: VmRules) -> None:
    """Build ``focus_rows``: every row typed, classified and, for VM usage, keyed.

    The loaded files are the view ``focus_raw`` (``_file``, the 1-based ``_row`` of the
    file's row order, the columns); :func:`providers.focus.portable.classify_sql` does the
    rest, in the SQL Spark runs too: the rules (regular expressions, JSON, lookups) are
    evaluated once per distinct combination of the columns they read (a few thousand in a
    bill of millions of rows: the accounts, regions and SKUs), and joined back to the rows.
    """
    lookup = _lookup(rules)
    lookup_columns = [c for c in lookup.columns if c != "instance_type"]
    inputs = _rule_inputs(con, rules)
    con.execute("CREATE OR REPLACE TEMP TABLE focus_rows AS "
                + portable.classify_sql(rules, inputs, lookup_columns))


def _rule_inputs(con: duckdb.DuckDBPyConnection, rules: VmRules) -> list[str]:
    """The loaded columns (and typed ``*_num``/``*_ts`` columns) that the rules' SQL names."""
    described = con.execute("DESCRIBE src_0").fetchall()
    names = [str(row[0]) for row in described]
    names += [f"{c}_ts" for c in TIMESTAMPS] + [f"{c}_num" for c in NUMERIC]
    sql = portable.rule_sql(rules)
    return [n for n in names if re.search(rf"(?<![A-Za-z0-9_]){re.escape(n)}(?![A-Za-z0-9_])",
                                          sql)]


def _lookup(rules: VmRules) -> pd.DataFrame:
    """The rules' lookup table, or an empty one keyed by ``instance_type``."""
    if rules.lookup is not None:
        return rules.lookup
    return pd.DataFrame({"instance_type": pd.Series([], dtype="object")})


def _counts(con: duckdb.DuckDBPyConnection) -> tuple[int, dict[str, int]]:
    """Rows used, and VM rows skipped per instance type (a size without a known factor)."""
    counted = con.execute(portable.COUNTS_SQL).fetchone()
    skipped = con.execute(portable.SKIPPED_SQL).fetchall()
    return (int(counted[1]) if counted else 0), {str(t): int(n) for t, n in skipped}


def _span(con: duckdb.DuckDBPyConnection) -> tuple[datetime, datetime]:
    """[start, end) in whole hours of the usage charges of the providers that have compute.

    The span covers every usage charge of those providers, not only the compute
    ones: hours of the file where no instance ran are real zeros for the forecast.
    """
    row = con.execute(portable.SPAN_SQL).fetchone()
    assert row is not None
    return from_epoch_us(int(row[0])), from_epoch_us(int(row[1]))


def from_epoch_us(value: int) -> datetime:
    """The UTC datetime of epoch microseconds (the SQL's unit of time)."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=value)


def offsets(con: duckdb.DuckDBPyConnection, unit_us: int, where: str) -> None:
    """``ladder_offsets``: 0 … the most ``unit_us`` periods a row matching ``where`` spans
    − 1, the table the portable SQL spreads rows over their hours or days with."""
    row = con.execute(portable.offsets_needed_sql(unit_us, where)).fetchone()
    count = int(row[0]) if row and row[0] is not None else 1
    con.execute("CREATE OR REPLACE TEMP TABLE ladder_offsets AS "
                "SELECT range AS n FROM range(?)", [max(count, 1)])


def dense_hourly(sparse: pd.DataFrame, keys: Sequence[str], start: datetime, end: datetime
                 ) -> pd.DataFrame:
    """``read_focus``' dense hourly frame (every key, every hour of ``[start, end)``, zeros
    where nothing ran) from sparse rows (``hour_us`` epoch microseconds, ``usage_key``,
    ``units``, ``on_demand_cost``: those of ``portable.HOURLY_SQL``); rows of one hour and
    key are summed."""
    hours = pd.date_range(start, end, freq="h", inclusive="left", tz="UTC").as_unit("ns")
    index = pd.Index(list(keys))
    first = int(pd.Timestamp(start).value // 1000)
    k = index.get_indexer(pd.Index(sparse["usage_key"].astype(str)))
    cell = (np.asarray(sparse["hour_us"], dtype=np.int64) - first) // portable.HOUR_US \
        * len(index) + k
    units = np.zeros(len(hours) * len(index))
    costs = np.zeros(len(hours) * len(index))
    np.add.at(units, cell, np.asarray(sparse["units"], dtype=np.float64))
    np.add.at(costs, cell, np.asarray(sparse["on_demand_cost"], dtype=np.float64))
    return pd.DataFrame({
        "hour": hours.repeat(len(index)),
        "usage_key": np.tile(np.asarray(index, dtype=object), len(hours)),
        "units": units,
        "on_demand_cost": costs,
    })[list(HOURLY_COLUMNS)]


def _hourly(con: duckdb.DuckDBPyConnection, start: datetime, end: datetime) -> pd.DataFrame:
    """Units and list cost per hour and key, each charge spread over its hours by overlap.

    Sorted by hour then key; every key has every hour of ``[start, end)``. DuckDB sums the
    hours that have usage (``portable.HOURLY_SQL``, the SQL Spark runs too); the dense grid
    (zeros elsewhere) is laid out with numpy, which costs a copy instead of a join and a sort
    of the grid.
    """
    keys = np.asarray([str(k) for (k,) in con.execute(
        "SELECT DISTINCT usage_key FROM focus_rows WHERE is_used ORDER BY usage_key"
    ).fetchall()], dtype=object)
    con.register("hourly_keys", pd.DataFrame({"usage_key": keys,
                                              "k": np.arange(len(keys), dtype=np.int64)}))
    first = int(pd.Timestamp(start).value // 1000)
    offsets(con, portable.HOUR_US, "is_used")
    summed = con.execute(f"""
        SELECT (hour_us - {first}) // {portable.HOUR_US} * {len(keys)} + k AS cell,
            units, on_demand_cost AS cost
        FROM ({portable.HOURLY_SQL}) AS hourly JOIN hourly_keys USING (usage_key)
    """).fetchnumpy()
    con.unregister("hourly_keys")
    hours = pd.date_range(start, end, freq="h", inclusive="left", tz="UTC").as_unit("ns")
    cell = np.asarray(summed["cell"], dtype=np.int64)
    units = np.zeros(len(hours) * len(keys))
    costs = np.zeros(len(hours) * len(keys))
    units[cell] = np.asarray(summed["units"], dtype=np.float64)
    costs[cell] = np.asarray(summed["cost"], dtype=np.float64)
    return pd.DataFrame({
        "hour": hours.repeat(len(keys)),
        "usage_key": np.tile(keys, len(hours)),
        "units": units,
        "on_demand_cost": costs,
    })[list(HOURLY_COLUMNS)]


def _keys(con: duckdb.DuckDBPyConnection, service: str) -> pd.DataFrame:
    """One row per usage key with its parts and its on-demand rate per normalised unit-hour.

    The rate is Σ list cost / Σ normalised units; a key whose rows all have zero
    quantity falls back to the list unit price per normalised unit.
    """
    frame = con.execute(f"{portable.keys_sql(service)} ORDER BY usage_key").df()
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
