"""The FOCUS reduction on Spark: the same SQL as DuckDB's (``portable.py``), where the data is.

An organisation whose FOCUS export has billions of rows keeps it in object storage or a
warehouse table and runs the reduction on its Spark cluster (Databricks, EMR, Dataproc,
Synapse); only the aggregates come back to Ladder: hourly usage per key (sparse, one row per
key and hour with usage), the keys, the daily cost lines of the compute usage and the daily
lines of the whole bill. ``ladder ingest --engine spark PATH_OR_TABLE`` does that in one
command (``--spark-master`` picks the cluster; local mode by default).

The steps are DuckDB's: the export's columns are resolved with ``schema.py`` (a file that is
not FOCUS is refused the same way), loaded as text except the numbers and timestamps the
source already types, classified with a cloud's :class:`~providers.focus.reader.VmRules`
(``portable.classify_sql``), checked with the checks of ``checks.py``, and reduced with
``portable.HOURLY_SQL``, ``keys_sql`` and ``daily_sql``. Spark has no row order, so a failing
row is named by its file, column and value (not its row number); the overlap of two files of
one period (``checks.check_no_overlap``) is not looked for: on a cluster the export is one
table. pyspark is an optional extra (``pip install 'ladder[spark]'``, Java 17 or 21).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import pandas as pd

from core.errors import InvalidInput
from providers.focus import checks, portable
from providers.focus.costs import (
    COST_CHECKS,
    EXTRA,
    FocusPeriods,
    bill_lines,
    cost_groups,
    cost_lines,
    period_hours,
)
from providers.focus.reader import (
    KEY_COLUMNS,
    FocusUsage,
    NoUsageFound,
    VmRules,
    dense_hourly,
    find_files,
    from_epoch_us,
)
from providers.focus.schema import (
    NUMERIC,
    OPTIONAL,
    REQUIRED,
    TIMESTAMPS,
    FocusVersion,
    detect_version,
    resolve_columns,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

DEFAULT_MASTER = "local[2]"
"""Spark's local mode on two cores, when no cluster is named."""

INSTALL_HINT = ("the Spark engine needs pyspark and a Java runtime (17 or 21): "
                "pip install 'ladder[spark]'")


def spark_session(master: str | None = None, *, partitions: int = 4) -> SparkSession:
    """A Spark session set up for the reduction's SQL (UTC, raw string literals, Arrow).

    ``master`` is a Spark master URL (``local[2]``, ``spark://host:7077``, ``yarn``); None
    keeps the one ``spark-submit`` or an existing session gives, else local mode.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise InvalidInput(INSTALL_HINT) from exc
    builder = SparkSession.builder.appName("ladder-focus")
    if master is not None:
        builder = builder.master(master)
    elif SparkSession.getActiveSession() is None:
        builder = builder.master(DEFAULT_MASTER)
    conf = {**portable.SPARK_CONF, "spark.ui.enabled": "false",
            "spark.sql.shuffle.partitions": str(partitions),
            "spark.ui.showConsoleProgress": "false",
            "spark.sql.execution.arrow.pyspark.enabled": "true"}
    for name, value in conf.items():
        builder = builder.config(name, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # Spark reports a missing Java as a bare runtime error.
        raise InvalidInput(f"{INSTALL_HINT} ({str(exc).splitlines()[0]})") from exc
    session.sparkContext.setLogLevel("ERROR")
    for name, value in portable.SPARK_CONF.items():
        session.conf.set(name, value)
    return session


@dataclass(frozen=True, eq=False)
class SparkUsage:
    """One cloud's reduction on Spark: the usage as ``read_focus`` gives it (dense hourly),
    its daily cost lines (``read_focus_costs``' columns) and its hours per billing period
    (``read_focus_periods``: ``periods.costs`` is ``costs``)."""

    usage: FocusUsage
    costs: pd.DataFrame
    periods: FocusPeriods


_NUMBER = re.compile(r"^(double|float|decimal(\(\d+,\s*\d+\))?|(tiny|small|big)?int|bigint|"
                     r"integer|long|short|byte)$")
_TIMESTAMP = re.compile(r"^timestamp(_ntz|_ltz)?$")


def _quoted(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _text(name: str | None, kind: str) -> str:
    """Spark SQL of a source column as text, empty and the literal 'NULL' as NULL
    (``reader._as_text``)."""
    if name is None:
        return "CAST(NULL AS STRING)"
    value = _quoted(name)
    if kind.startswith(("struct", "map", "array")):
        value = f"to_json({value})"
    return f"NULLIF(NULLIF(trim(CAST({value} AS STRING)), ''), 'NULL')"


class SparkReduction:
    """A FOCUS export loaded on Spark as ``focus_raw``, ready to be reduced per cloud.

    ``source`` is a local file or folder (read as DuckDB reads it, manifests included), a URL
    Spark reads (``s3a://``, ``gs://``, ``abfss://``, ``dbfs:/``; ``.csv``/``.csv.gz`` as CSV,
    else Parquet), or a table name of the session's catalog (``focus.billing_2024``).
    """

    def __init__(self, spark: SparkSession, source: str) -> None:
        self.spark = spark
        self.source = source
        frames = self._frames(source)
        columns = (*REQUIRED, *OPTIONAL, *EXTRA, "RegionName", "SkuMeter", "x_SkuMeterName",
                   "x_SkuMeterCategory", "x_SkuMeterSubcategory", "x_SkuDetails")
        resolved = [self._resolve(frame, name, columns) for frame, name in frames]
        native = self._native(resolved)
        loaded = [frame.selectExpr(*self._projection(wanted, types, native,
                                                     self._source_sql(frame, name)))
                  for frame, wanted, types, (name, _) in resolved]
        raw = loaded[0]
        for other in loaded[1:]:
            raw = raw.unionByName(other)
        raw.createOrReplaceTempView("focus_raw")
        self.versions: Mapping[str, FocusVersion] = MappingProxyType(
            {name: version for _, _, _, (name, version) in resolved})
        self.files = tuple(name for _, name in frames)

    @staticmethod
    def _source_sql(frame: DataFrame, name: str) -> str:
        """SQL naming each row's file: the file source's ``_metadata.file_path`` (not
        ``input_file_name()``, which is not deterministic, and Spark then loses a column of
        the classification's self-join), else the source's name."""
        try:
            frame.select("_metadata.file_path").schema  # noqa: B018 (analysis only)
        except Exception:
            return "'" + name.replace("'", "''") + "'"
        return "_metadata.file_path"

    def _sql(self, sql: str) -> DataFrame:
        """Run the portable SQL on Spark (the ``ladder_*`` helpers written out)."""
        return self.spark.sql(portable.expand(sql, "spark"))

    def _frames(self, source: str) -> list[tuple[DataFrame, str]]:
        """The source's data frames (one per file kind) and their names."""
        reader = self.spark.read
        csv = (reader.option("header", "true").option("quote", '"').option("escape", '"')
               .option("mode", "FAILFAST").option("inferSchema", "false"))
        path = Path(source)
        if path.exists():
            files = find_files(path)
            parquet = [str(f) for f in files if f.name.lower().endswith(".parquet")]
            texts = [str(f) for f in files if not f.name.lower().endswith(".parquet")]
            frames = []
            if parquet:
                frames.append((reader.parquet(*parquet), parquet[0] if len(parquet) == 1
                               else str(path)))
            if texts:
                frames.append((csv.csv(texts), texts[0] if len(texts) == 1 else str(path)))
            return frames
        try:
            if "://" in source or source.startswith("dbfs:"):
                lower = source.lower()
                if lower.endswith((".csv", ".csv.gz")):
                    return [(csv.csv(source), source)]
                return [(reader.parquet(source), source)]
            return [(self.spark.table(source), source)]
        except Exception as exc:
            raise InvalidInput(f"Spark cannot read it: {str(exc).splitlines()[0]}",
                               source=source) from exc

    @staticmethod
    def _resolve(frame: DataFrame, name: str, columns: Sequence[str]
                 ) -> tuple[DataFrame, dict[str, str | None], dict[str, str],
                            tuple[str, FocusVersion]]:
        """The FOCUS columns of one frame (refused as ``schema.resolve_columns`` refuses),
        its column types, and its FOCUS version told by its columns."""
        types = {f.name: f.dataType.simpleString() for f in frame.schema.fields}
        wanted: dict[str, str | None] = dict(resolve_columns(list(types), source=name))
        by_lower = {n.lstrip("\ufeff").strip().lower(): n for n in types}
        for column in columns:
            wanted.setdefault(column, by_lower.get(column.lower()))
        return frame, wanted, types, (name, detect_version(list(types)))

    @staticmethod
    def _native(resolved: Sequence[tuple[Any, dict[str, str | None], dict[str, str], Any]]
                ) -> dict[str, str]:
        """The number and timestamp columns every frame holds typed (loaded as DOUBLE and
        TIMESTAMP, as DuckDB's reader keeps them), the others loaded as text."""
        native: dict[str, str] = {}
        for columns, pattern, target in ((NUMERIC, _NUMBER, "DOUBLE"),
                                         (TIMESTAMPS, _TIMESTAMP, "TIMESTAMP")):
            for column in columns:
                kinds = [types[wanted[column] or ""] for _, wanted, types, _ in resolved
                         if wanted.get(column)]
                if kinds and all(pattern.match(k) for k in kinds):
                    native[column] = target
        return native

    @staticmethod
    def _projection(wanted: Mapping[str, str | None], types: Mapping[str, str],
                    native: Mapping[str, str], source: str) -> list[str]:
        """The select list loading a frame: ``_file``, ``_row`` (0: Spark has no row order),
        ``_source`` (SQL of the row's file), then each column as text or natively typed."""
        parts = ["0 AS _file", "CAST(0 AS BIGINT) AS _row", f"{source} AS _source"]
        for column, name in wanted.items():
            if column in native:
                value = "NULL" if name is None else _quoted(name)
                parts.append(f"CAST({value} AS {native[column]}) AS {column}")
            else:
                parts.append(f"{_text(name, types.get(name or '', ''))} AS {column}")
        return parts

    def classify(self, rules: VmRules) -> None:
        """``focus_rows`` (cached): the rows classified and keyed by ``rules``, checked."""
        lookup = rules.lookup if rules.lookup is not None else pd.DataFrame(
            {"instance_type": pd.Series([], dtype="object")})
        schema = ", ".join(f"{c} {'DOUBLE' if lookup[c].dtype.kind == 'f' else 'STRING'}"
                           for c in lookup.columns)
        self.spark.createDataFrame(lookup, schema=schema).createOrReplaceTempView("vm_lookup")
        raw_columns = self.spark.table("focus_raw").columns
        names = [*raw_columns, *(f"{c}_ts" for c in TIMESTAMPS),
                 *(f"{c}_num" for c in NUMERIC)]
        sql = portable.rule_sql(rules)
        inputs = [n for n in names
                  if re.search(rf"(?<![A-Za-z0-9_]){re.escape(n)}(?![A-Za-z0-9_])", sql)]
        lookup_columns = [c for c in lookup.columns if c != "instance_type"]
        rows = self._sql(portable.classify_sql(rules, inputs, lookup_columns)).persist()
        rows.createOrReplaceTempView("focus_rows")
        self._check((*checks.CHECKS, *COST_CHECKS))

    def _check(self, row_checks: Sequence[checks.RowCheck]) -> None:
        """InvalidInput naming the file, column and value of a row failing a check (the
        first check in ``checks.CHECKS``' order that any row fails)."""
        parts = []
        for i, check in enumerate(row_checks):
            shown = check.shown or "NULL"
            parts.append(f"count_if({check.failing}) AS n{i}, "
                         f"min(_source) FILTER (WHERE {check.failing}) AS s{i}, "
                         f"min_by(CAST({shown} AS STRING), _source) "
                         f"FILTER (WHERE {check.failing}) AS v{i}")
        result = self._sql(f"SELECT {', '.join(parts)} FROM focus_rows").collect()[0]
        for i, check in enumerate(row_checks):
            if result[f"n{i}"]:
                raise InvalidInput(check.message.format(value=result[f"v{i}"]),
                                   source=local_name(result[f"s{i}"]) or self.source,
                                   column=check.column)

    def _offsets(self, unit_us: int, where: str) -> None:
        """``ladder_offsets`` for spreading the rows matching ``where`` (``portable``)."""
        count = self._sql(portable.offsets_needed_sql(unit_us, where)).collect()[0][0]
        self.spark.range(max(int(count or 1), 1)).withColumnRenamed("id", "n") \
            .createOrReplaceTempView("ladder_offsets")

    def providers(self) -> dict[str, int]:
        """Rows per ``ProviderName`` of the export, most first."""
        rows = self._sql("SELECT coalesce(ProviderName, '') AS p, count(*) AS n "
                              "FROM focus_raw GROUP BY 1 ORDER BY n DESC").collect()
        return {str(r["p"]): int(r["n"]) for r in rows if r["p"]}

    def usage(self, rules: VmRules) -> SparkUsage:
        """One cloud's hourly usage per key and daily cost lines, reduced on Spark."""
        self.classify(rules)
        counted = self._sql(portable.COUNTS_SQL).collect()[0]
        rows_read, rows_used = int(counted["rows_read"]), int(counted["rows_used"])
        if rows_used == 0:
            raise NoUsageFound(rules.none_found, source=self.source)
        currency = self._currency()
        span = self._sql(portable.SPAN_SQL).collect()[0]
        start, end = from_epoch_us(int(span["start_us"])), from_epoch_us(int(span["end_us"]))
        skipped = {str(r["instance_type"]): int(r["n"])
                   for r in self._sql(portable.SKIPPED_SQL).collect()}
        keys = self._sql(portable.keys_sql(rules.service)).toPandas()
        keys = keys.sort_values("usage_key", ignore_index=True).astype(
            {"on_demand_rate": "float64"})[list(KEY_COLUMNS)]
        self._offsets(portable.HOUR_US, "is_used")
        sparse = self._sql(portable.HOURLY_SQL).toPandas()
        by_period = self._sql(portable.hourly_sql(portable.PERIOD_HOUR_GROUPS)).toPandas()
        hourly = dense_hourly(sparse, [str(k) for k in keys["usage_key"]], start, end)
        self._offsets(portable.DAY_US, "is_used")
        groups = cost_groups()
        daily = self._sql(portable.daily_sql(
            portable.cost_line_sql(groups), "is_used", groups, portable.COST_SUMS)).toPandas()
        usage = FocusUsage(hourly=hourly, keys=keys, files=self.files, currency=currency,
                           rows_read=rows_read, rows_used=rows_used, start=start, end=end,
                           skipped=MappingProxyType(skipped), versions=self.versions)
        costs = cost_lines(daily)
        return SparkUsage(usage, costs, FocusPeriods(costs, period_hours(by_period)))

    def _currency(self) -> str:
        """The one billing currency of the compute usage rows; InvalidInput if they mix."""
        row = self._sql("""
            SELECT count(DISTINCT currency) AS n, min(currency) AS a, max(currency) AS b,
                min_by(_source, currency) AS sa, max_by(_source, currency) AS sb
            FROM focus_rows WHERE is_used""").collect()[0]
        if int(row["n"]) > 1:
            raise InvalidInput(
                f"mixed billing currencies {row['a']} and {row['b']}: the compute usage is in "
                f"{row['a']} ({local_name(row['sa'])}) and in {row['b']}; Ladder reads one "
                "currency at a "
                "time, so split the input by BillingCurrency",
                source=local_name(row["sb"]) or self.source, column="BillingCurrency")
        return str(row["a"])

    def bill_lines(self) -> pd.DataFrame:
        """Every row, compute or not, per UTC day and the columns finance groups by
        (``costs.read_bill_lines``' frame), after :meth:`classify` with any cloud's rules."""
        from core.db.frames import BILL_GROUPS

        self._offsets(portable.DAY_US, "true")
        frame = self._sql(portable.daily_sql(
            portable.bill_line_sql(BILL_GROUPS), "true", BILL_GROUPS, portable.BILL_SUMS)
        ).toPandas()
        return bill_lines(frame)

    def close(self) -> None:
        """Drop the cached rows (the session stays: Spark keeps one per process)."""
        self.spark.catalog.clearCache()


def local_name(path: str | None) -> str | None:
    """A file's name as people wrote it: Spark's ``file:`` URL of a local file as its path."""
    if path and path.startswith("file:"):
        from urllib.parse import unquote, urlparse

        return unquote(urlparse(path).path)
    return path


def write_aggregate(result: SparkUsage, lines: pd.DataFrame, out: Path) -> list[Path]:
    """Write one cloud's aggregates under ``out`` as Parquet (``hourly``, ``keys``,
    ``costs``, ``bill_lines``) with ``summary.json`` (rows, span, currency, versions)."""
    import json

    out.mkdir(parents=True, exist_ok=True)
    usage = result.usage
    frames = {"hourly": usage.hourly, "keys": usage.keys, "costs": result.costs,
              "bill_lines": lines}
    written = []
    for name, frame in frames.items():
        path = out / f"{name}.parquet"
        frame.to_parquet(path, index=False)
        written.append(path)
    summary = {"source": list(usage.files), "currency": usage.currency,
               "rows_read": usage.rows_read, "rows_used": usage.rows_used,
               "start": usage.start.isoformat(), "end": usage.end.isoformat(),
               "skipped": dict(usage.skipped),
               "versions": {name: str(v) for name, v in usage.versions.items()}}
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return [*written, out / "summary.json"]


__all__ = ["DEFAULT_MASTER", "SparkReduction", "SparkUsage", "spark_session", "write_aggregate"]
