"""FOCUS ingestion at scale: rows per second read and reduced, stored, and end to end.

The input is the bundled sample (``providers/sample/data/usage.parquet``, 21,458 FOCUS rows,
3 accounts, 10 usage keys) tiled over accounts: copy ``t`` renames every account
``<account>-t<t>`` and every resource ``<resource>-t<t>``, so ``--rows 3000000`` gives 140
copies, 420 accounts and 1,400 usage keys over the sample's 2,208 hours. The files are
deterministic and written once to the user cache folder (``platformdirs``), not the repository;
``--formats`` picks Parquet, CSV and gzipped CSV.

Each (format, database) pair runs ``ladder.pipeline.ingest`` in a process of its own on an
empty database (a SQLite file in a temporary folder, or a PostgreSQL schema of its own dropped
at the end), so that the peak resident memory (``getrusage``) is that run's alone. The steps
are timed by wrapping the pipeline's functions:

* read + reduce: ``read_bill`` (one DuckDB load of the files, ``FocusReduction``: the
  clouds' row counts, each cloud's hourly usage per key, cost lines and hours per billing
  period, the bill's daily lines, checks included; and the content hash), timed also by
  part (``load``, ``usage``, ``bill_lines``, ``hash``);
* store: ``add_dataset`` (usage keys and the dense hourly rows), and apart the hours per
  billing period (``add_period_hours``);
* end to end: the whole ``ingest`` call, commit included (cost lines, bill lines and the
  reporting snapshot besides).

Run::

    python -m benchmarks.ingest                                  # 3M rows, Parquet, SQLite
    python -m benchmarks.ingest --rows 3000000 --formats parquet,csv,csv.gz \\
        --backend sqlite --backend postgresql

``--url`` names the PostgreSQL server (default: ``LADDER_TEST_DATABASE_URL``). With pyspark
installed (``--spark yes|no|auto``) each format is also reduced on Spark in local mode on two
cores and, in the same process, on DuckDB to the same aggregates (``run_spark``): hourly usage
per key, daily cost lines, hours per billing period and bill lines, nothing stored.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import platformdirs
from sqlalchemy import make_url, text

SAMPLE = Path(__file__).resolve().parent.parent / "providers" / "sample" / "data" / "usage.parquet"
FORMATS = {"parquet": "(FORMAT parquet)", "csv": "(FORMAT csv, HEADER)",
           "csv.gz": "(FORMAT csv, HEADER, COMPRESSION gzip)"}
SCHEMA = "ladder_ingest_benchmark"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def tiled_input(rows: int, fmt: str, folder: Path | None = None) -> Path:
    """The sample tiled over accounts to about ``rows`` rows, as one ``fmt`` file (cached)."""
    folder = folder or Path(platformdirs.user_cache_dir("ladder")) / "benchmarks"
    folder.mkdir(parents=True, exist_ok=True)
    # Named apart from the earlier files, which carried the helper column ``t``.
    path = folder / f"focus-tiled-{rows}.{fmt}"
    if path.exists():
        return path
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET enable_progress_bar = false")
        sample_rows = con.execute("SELECT count(*) FROM read_parquet(?)", [str(SAMPLE)]).fetchone()
        assert sample_rows is not None
        copies = max(1, round(rows / int(sample_rows[0])))
        # Written under a hidden name and renamed, so an interrupted run leaves nothing cached.
        partial = path.with_name(f".part-{path.name}")
        # Ordered by copy then the sample's own order: the same bytes on every run. The
        # helper columns (t, _n) only order the rows: they are not written.
        con.execute(f"""
            COPY (
                SELECT sample.* EXCLUDE (_n) REPLACE (SubAccountId || '-t' || t AS SubAccountId,
                                                      ResourceId || '-t' || t AS ResourceId)
                FROM range({copies}) AS copies(t),
                     (SELECT *, row_number() OVER () AS _n FROM read_parquet('{SAMPLE}')) AS sample
                ORDER BY t, _n
            ) TO '{partial}' {FORMATS[fmt]}
        """)
        partial.rename(path)
    finally:
        con.close()
    return path


class Timers:
    """Seconds spent in the wrapped functions, summed per label."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def wrap(self, owner: Any, name: str, label: str) -> None:
        """Replace ``owner.name`` by a version that adds its time to ``label``."""
        inner: Callable[..., Any] = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                self.seconds[label] = self.seconds.get(label, 0.0) + time.perf_counter() - began

        setattr(owner, name, timed)


@contextmanager
def database(backend: str, url: str) -> Iterator[str]:
    """An empty, migrated database of ``backend``: its URL."""
    from core.db.session import create_engine_for, migrate
    from core.settings import sqlite_url

    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="ladder-ingest-") as folder:
            target = sqlite_url(Path(folder) / "ladder.db")
            migrate(target)
            yield target
        return
    admin = create_engine_for(url)
    try:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE'))
            connection.execute(text(f'CREATE SCHEMA "{SCHEMA}"'))
        scoped = make_url(url).update_query_dict({"options": f"-csearch_path={SCHEMA}"})
        target = scoped.render_as_string(hide_password=False)
        migrate(target)
        yield target
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE'))
        admin.dispose()


def run_one(path: Path, backend: str, url: str) -> dict[str, Any]:
    """Ingest ``path`` into an empty database; the steps' seconds and the peak memory."""
    from core.db import periods, repository
    from core.db.session import create_engine_for
    from ladder import pipeline
    from providers.focus.reduction import FocusReduction

    timers = Timers()
    timers.wrap(pipeline, "read_bill", "read_reduce")
    timers.wrap(FocusReduction, "__init__", "load")
    timers.wrap(FocusReduction, "usage", "usage")
    timers.wrap(FocusReduction, "bill_lines", "bill_lines")
    timers.wrap(pipeline, "content_sha256", "hash")
    timers.wrap(repository, "add_dataset", "store")
    timers.wrap(periods, "add_period_hours", "add_period_hours")
    timers.wrap(pipeline, "refresh_facts", "refresh_facts")
    with database(backend, url) as target:
        engine = create_engine_for(target)
        try:
            began = time.perf_counter()
            outcome = pipeline.ingest(engine, path, provider="aws")
            total = time.perf_counter() - began
        finally:
            engine.dispose()
    hourly_rows = outcome.keys * outcome.hours
    return {"rows_read": outcome.rows_read, "hourly_rows": hourly_rows, "keys": outcome.keys,
            "seconds": {**timers.seconds, "end_to_end": total},
            "cpu_seconds": _cpu_seconds(),
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def run_spark(path: Path) -> dict[str, Any]:
    """The same reduction on Spark in local mode (two cores) and on DuckDB, in this process:
    hourly usage per key, the daily cost lines and hours per billing period, and the bill
    lines — everything ``ladder ingest --engine spark`` brings back, nothing stored. The
    Spark session's start (the JVM) is timed apart."""
    from providers.focus.costs import read_bill_lines, read_focus_periods
    from providers.focus.reader import EC2_RULES, read_focus
    from providers.focus.spark import SparkReduction, spark_session

    began = time.perf_counter()
    read_focus(path)
    read_focus_periods(path, EC2_RULES)
    read_bill_lines(path)
    duckdb_seconds = time.perf_counter() - began
    began = time.perf_counter()
    session = spark_session("local[2]", partitions=4)
    start_seconds = time.perf_counter() - began
    began = time.perf_counter()
    reduction = SparkReduction(session, str(path))
    result = reduction.usage(EC2_RULES)
    reduction.bill_lines()
    reduction.close()
    spark_seconds = time.perf_counter() - began
    session.stop()
    return {"rows_read": result.usage.rows_read, "duckdb": duckdb_seconds,
            "spark_start": start_seconds, "spark": spark_seconds}


def _cpu_seconds() -> float:
    """User and system CPU time of this process and its threads (the load-independent cost)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _report(fmt: str, backend: str, result: dict[str, Any]) -> str:
    seconds = result["seconds"]
    rows, hourly = result["rows_read"], result["hourly_rows"]
    read = seconds.get("read_reduce", float("nan"))
    store = seconds.get("store", float("nan"))
    total = seconds["end_to_end"]
    return (f"| {fmt} | {backend} | {rows:,} | {read:.1f} s ({rows / read:,.0f}/s) | "
            f"{store:.1f} s ({hourly / store:,.0f} hourly rows/s) | "
            f"{total:.1f} s ({rows / total:,.0f}/s) | {result['cpu_seconds']:.0f} s | "
            f"{result['peak_rss_mib']:,.0f} MiB |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=3_000_000)
    parser.add_argument("--formats", default="parquet",
                        help="comma-separated: parquet, csv, csv.gz")
    parser.add_argument("--backend", action="append", choices=("sqlite", "postgresql"))
    parser.add_argument("--url", default=os.environ.get("LADDER_TEST_DATABASE_URL", DEFAULT_PG))
    parser.add_argument("--spark", choices=("auto", "yes", "no"), default="auto",
                        help="also time the reduction on Spark in local mode (auto: when "
                             "pyspark is installed)")
    parser.add_argument("--one", nargs=2, metavar=("PATH", "BACKEND"), help=argparse.SUPPRESS)
    parser.add_argument("--spark-one", metavar="PATH", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(Path(args.one[0]), args.one[1], args.url)))
        return
    if args.spark_one:
        print(json.dumps(run_spark(Path(args.spark_one))))
        return
    backends = args.backend or ["sqlite"]
    print(f"load average before: {os.getloadavg()[0]:.2f} (1 min), "
          f"{os.cpu_count()} cores", flush=True)
    print("| format | database | FOCUS rows | read + reduce | store (add_dataset) "
          "| end to end | CPU | peak RSS |")
    print("|---|---|---|---|---|---|---|---|", flush=True)
    for fmt in args.formats.split(","):
        path = tiled_input(args.rows, fmt)
        for backend in backends:
            done = subprocess.run(
                [sys.executable, "-m", "benchmarks.ingest", "--one", str(path), backend,
                 "--url", args.url], check=True, capture_output=True, text=True)
            result = json.loads(done.stdout.strip().splitlines()[-1])
            print(_report(fmt, backend, result), flush=True)
            print("    steps: " + ", ".join(f"{k} {v:.1f} s"
                                              for k, v in result["seconds"].items()),
                  flush=True)
    spark = args.spark == "yes" or (
        args.spark == "auto" and importlib.util.find_spec("pyspark") is not None)
    if spark:
        print("| format | FOCUS rows | Spark local[2] (session start apart) | DuckDB, same "
              "aggregates |")
        print("|---|---|---|---|", flush=True)
        for fmt in args.formats.split(","):
            done = subprocess.run(
                [sys.executable, "-m", "benchmarks.ingest", "--spark-one",
                 str(tiled_input(args.rows, fmt))],
                check=True, capture_output=True, text=True)
            result = json.loads(done.stdout.strip().splitlines()[-1])
            rows = result["rows_read"]
            print(f"| {fmt} | {rows:,} | {result['spark']:.1f} s ({rows / result['spark']:,.0f}"
                  f"/s; start {result['spark_start']:.1f} s) | {result['duckdb']:.1f} s "
                  f"({rows / result['duckdb']:,.0f}/s) |", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.2f} (1 min)")


if __name__ == "__main__":
    main()
