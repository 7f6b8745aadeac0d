"""One DuckDB load of a FOCUS export, and every product of an ingest as a query over it.

``read_focus``, ``read_focus_periods`` and ``read_bill_lines`` each load the files on their
own, which is right for one of them and wasteful for an ingest, which needs all three (and
the clouds' row counts before them). :class:`FocusReduction` loads the files once (each
file's columns in DuckDB's own types where every file types them, text otherwise, rows
numbered in file order so that every error names its row), then answers, per cloud, with
the queries the readers run (``portable.py``'s SQL, which Spark runs too):

* :meth:`FocusReduction.providers`: rows per ``ProviderName``;
* :meth:`FocusReduction.usage`: the rows classified by one cloud's rules and checked, then
  its hourly usage per key (:class:`~providers.focus.reader.FocusUsage`), its daily cost
  lines and hours per billing period (:class:`~providers.focus.costs.FocusPeriods`);
* :meth:`FocusReduction.bill_lines`: every row per day and the columns finance groups by.

The connection is in memory, bounded by :class:`DuckLimits` (``memory_limit``, with the
rows spilled to ``temp_directory`` beyond it), and closed at the end: nothing is written
anywhere but DuckDB's spill files, so a failed read stores nothing.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import duckdb
import pandas as pd

from providers.focus import checks
from providers.focus.costs import (
    COST_CHECKS,
    EXTRA,
    FocusPeriods,
    daily_bill_lines,
    daily_costs,
    period_hours_of,
)
from providers.focus.layout import declared_versions
from providers.focus.reader import (
    FocusUsage,
    VmRules,
    classify_rows,
    find_export,
    load_files,
    reduce_usage,
)

DEFAULT_MEMORY_LIMIT = "2GB"
"""DuckDB's memory for one ingest: the loaded rows, the classification and the sums live in
it and spill to disk beyond it (measured: a 30M-row export under 4 GiB of resident memory in
all, Python's frames included; benchmarks/README.md)."""


@dataclass(frozen=True, slots=True)
class DuckLimits:
    """How much of the machine one reduction may take: DuckDB's ``memory_limit`` (``2GB``,
    ``512MB``), the folder it spills to beyond it (None: a temporary folder of its own,
    removed at the end) and its threads (None: DuckDB's default, one per core)."""

    memory_limit: str = DEFAULT_MEMORY_LIMIT
    temp_directory: str | None = None
    threads: int | None = None


@dataclass(frozen=True, eq=False)
class CloudReduction:
    """One cloud's part of an export, reduced: its hourly usage per key, and its daily cost
    lines and hours per billing period (``periods.costs``)."""

    usage: FocusUsage
    periods: FocusPeriods


class FocusReduction:
    """A FOCUS file or folder loaded once into DuckDB, reduced per cloud (module docstring).

    ``columns`` names the columns to load beyond FOCUS's own and the cost columns
    (``costs.EXTRA``): the rules' extra columns of every cloud to be read. Use it as a context
    manager (or :meth:`close` it): it holds the connection and its spill folder."""

    def __init__(self, path: str | Path, columns: Sequence[str] = (), *,
                 limits: DuckLimits | None = None) -> None:
        limits = limits or DuckLimits()
        self.source = str(path)
        files, folder = find_export(Path(path))
        self.paths = tuple(files)
        self.files = tuple(str(f) for f in files)
        declared = declared_versions(folder) if folder is not None else None
        self._spill = (tempfile.TemporaryDirectory(prefix="ladder-duckdb-")
                       if limits.temp_directory is None else None)
        self.con = duckdb.connect(":memory:")
        try:
            self.con.execute("SET enable_progress_bar = false")
            self.con.execute("SET memory_limit = ?", [limits.memory_limit])
            self.con.execute("SET temp_directory = ?",
                             [limits.temp_directory or self._spill.name])  # type: ignore[union-attr]
            if limits.threads is not None:
                self.con.execute(f"SET threads = {int(limits.threads)}")
            self.loaded = load_files(self.con, files, (*columns, *EXTRA), declared=declared)
        except BaseException:
            self.close()
            raise
        self._rules: VmRules | None = None

    def providers(self) -> dict[str, int]:
        """Rows per ``ProviderName`` of the export (rows without one left out), most first."""
        rows = self.con.execute(
            "SELECT ProviderName, count(*) AS n FROM focus_raw WHERE ProviderName IS NOT NULL "
            "GROUP BY ALL ORDER BY n DESC, ProviderName").fetchall()
        return {str(name): int(n) for name, n in rows}

    def classify(self, rules: VmRules) -> None:
        """``focus_rows``: the rows classified and keyed by ``rules``, every check run (the
        optional cost columns' too)."""
        if self._rules is rules:
            return
        classify_rows(self.con, self.paths, rules)
        checks.check_rows(self.con, self.files, checks=COST_CHECKS)
        self._rules = rules

    def usage(self, rules: VmRules) -> CloudReduction:
        """One cloud's hourly usage per key, daily cost lines and hours per billing period."""
        self.classify(rules)
        usage = reduce_usage(self.con, self.files, rules, self.loaded, source=self.source)
        costs = daily_costs(self.con)
        return CloudReduction(usage, FocusPeriods(costs, period_hours_of(self.con)))

    def bill_lines(self) -> pd.DataFrame:
        """Every row, compute or not, per UTC day and the columns finance groups by
        (``costs.read_bill_lines``' frame), with any cloud's classification."""
        if self._rules is None:
            from providers.focus.reader import EC2_RULES

            self.classify(EC2_RULES)
        return daily_bill_lines(self.con)

    def close(self) -> None:
        """Close the connection and remove the spill folder."""
        self.con.close()
        if self._spill is not None:
            self._spill.cleanup()

    def __enter__(self) -> FocusReduction:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


__all__ = ["DEFAULT_MEMORY_LIMIT", "CloudReduction", "DuckLimits", "FocusReduction"]
