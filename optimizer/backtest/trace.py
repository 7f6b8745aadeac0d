"""Reading, validating and writing usage traces in the CSV format of BENCHMARK.md.

A trace is ``hour,usage_key,units``: one row per key and UTC hour, ``units`` the
average normalised units running in that hour. The reader is strict because a
backtest on a quietly repaired trace measures the repair, not the policy. Each
error is an :class:`core.errors.InvalidInput` naming the file, the row (the line
number in the file, the header being row 1) and the column at fault:

* the header must be exactly the three columns, in any order, and every row must
  have three fields;
* ``hour`` must be ISO 8601 with a UTC offset (``Z`` or ``+00:00``; other offsets
  are converted to UTC) and fall on the start of an hour;
* ``units`` must be a finite number ≥ 0 (no NaN, no blank);
* a key and hour appear at most once; the hours of the trace are contiguous;
  every key has a row for every hour (a missing row is an error, not zero).

Against a catalog (:meth:`UsageTrace.for_catalog`) every key of the trace must be
priced in the catalog. The catalog may list keys that the trace does not use:
catalogs are shared across traces, so such keys are simply not part of the replay
(they are not zero-filled, which would change nothing but the size of the LPs).
The trace's columns are then put in catalog order, the order the billing engine
breaks ties by.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType

import numpy as np
import numpy.typing as npt
import pandas as pd

from core.domain import HOUR, Catalog
from core.errors import InvalidInput

FloatArray = npt.NDArray[np.float64]

COLUMNS = ("hour", "usage_key", "units")
SECONDS_PER_HOUR = 3600


def parse_utc_hour(text: str) -> datetime:
    """Parse an ISO 8601 timestamp with a UTC offset that starts an hour; ``ValueError`` if not."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise ValueError(f"{text!r} is not an ISO 8601 timestamp") from exc
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset (write e.g. 2024-03-01T00:00:00Z)")
    moment = moment.astimezone(UTC)
    if (moment.minute, moment.second, moment.microsecond) != (0, 0, 0):
        raise ValueError(f"{text!r} is not the start of an hour")
    return moment


def format_hour(moment: datetime) -> str:
    """The contract's form of an hour: ``2024-03-01T00:00:00Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _readonly(array: npt.ArrayLike) -> FloatArray:
    frozen = np.array(array, dtype=np.float64)  # always a copy: nobody else holds it
    frozen.setflags(write=False)
    return frozen


@dataclass(frozen=True, eq=False)
class UsageTrace:
    """Hourly usage ``units[h, k]`` of ``key_ids[k]`` for the hours ``start + h``.

    ``units`` is a read-only copy; ``first_rows`` maps each key to the file row
    where it first appears (for error messages).
    """

    start: datetime
    key_ids: tuple[str, ...]
    units: FloatArray
    source: str = "<trace>"
    first_rows: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        units = _readonly(self.units)
        if units.ndim != 2 or units.shape[1] != len(self.key_ids):
            raise ValueError(f"units must be (hours, {len(self.key_ids)}), got {units.shape}")
        if units.shape[0] == 0:
            raise ValueError("a trace needs at least one hour")
        if not np.all(np.isfinite(units)) or np.any(units < 0):
            raise ValueError("units must be finite and >= 0")
        if self.start.tzinfo is None:
            raise ValueError("start must be timezone-aware (UTC)")
        object.__setattr__(self, "units", units)
        object.__setattr__(self, "key_ids", tuple(self.key_ids))
        object.__setattr__(self, "start", self.start.astimezone(UTC))
        object.__setattr__(self, "first_rows", MappingProxyType(dict(self.first_rows)))

    @property
    def hours(self) -> int:
        """Number of hours ``H`` in the trace."""
        return int(self.units.shape[0])

    @property
    def end(self) -> datetime:
        """The first hour after the trace."""
        return self.start + self.hours * HOUR

    def hour_at(self, index: int) -> datetime:
        """The start of hour ``index`` of the trace."""
        return self.start + index * HOUR

    def index_of(self, moment: datetime) -> int:
        """Index of the hour starting at ``moment`` (may fall outside the trace)."""
        return int((moment.astimezone(UTC) - self.start) // HOUR)

    def for_catalog(self, catalog: Catalog, *, catalog_source: str = "the catalog") -> UsageTrace:
        """The trace with its keys in catalog order; every key must be priced in the catalog."""
        known = catalog.key_ids
        for key in self.key_ids:
            if key not in known:
                raise InvalidInput(
                    f"usage_key {key!r} is not priced in {catalog_source} "
                    f"(it lists {len(known)} keys)",
                    source=self.source, row=self.first_rows.get(key), column="usage_key",
                )
        position = {k: i for i, k in enumerate(self.key_ids)}
        ordered = tuple(k for k in known if k in position)
        columns = [position[k] for k in ordered]
        return UsageTrace(start=self.start, key_ids=ordered, units=self.units[:, columns],
                          source=self.source, first_rows=self.first_rows)


def _read_rows(path: Path) -> tuple[list[str], list[str], list[str], list[int]]:
    """The three columns as strings, with each row's line number; header and widths checked."""
    source = str(path)
    hours: list[str] = []
    keys: list[str] = []
    units: list[str] = []
    lines: list[int] = []
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                raise InvalidInput(f"the file is empty; expected the header {','.join(COLUMNS)}",
                                   source=source, row=1)
            names = [name.strip().lstrip("\ufeff") for name in header]
            missing = [c for c in COLUMNS if c not in names]
            extra = [c for c in names if c not in COLUMNS]
            if missing or extra or len(names) != len(COLUMNS):
                problems = []
                if missing:
                    problems.append(f"missing {', '.join(missing)}")
                if extra:
                    problems.append(f"unexpected {', '.join(repr(c) for c in extra)}")
                if not problems:
                    problems.append("a column is repeated")
                raise InvalidInput(
                    f"bad header {','.join(names)!r}: {'; '.join(problems)} "
                    f"(expected {','.join(COLUMNS)})", source=source, row=1,
                )
            at = [names.index(c) for c in COLUMNS]
            for fields in reader:
                if not fields or all(not f.strip() for f in fields):
                    continue  # blank lines carry nothing
                if len(fields) != len(COLUMNS):
                    raise InvalidInput(f"expected {len(COLUMNS)} fields, got {len(fields)}",
                                       source=source, row=reader.line_num)
                hours.append(fields[at[0]])
                keys.append(fields[at[1]].strip())
                units.append(fields[at[2]])
                lines.append(reader.line_num)
    except FileNotFoundError as exc:
        raise InvalidInput("usage trace file does not exist", source=source) from exc
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"not UTF-8 text: {exc.reason}", source=source) from exc
    except csv.Error as exc:
        raise InvalidInput(f"not valid CSV: {exc}", source=source) from exc
    if not lines:
        raise InvalidInput("the trace has a header but no rows", source=source, row=2)
    return hours, keys, units, lines


def read_trace(path: str | Path) -> UsageTrace:
    """Read and validate a usage trace CSV (keys in order of first appearance)."""
    path = Path(path)
    hours, keys, units, lines = _read_rows(path)
    return parse_trace_rows(hours, keys, units, lines=lines, source=str(path))


def parse_trace_rows(
    hours: Sequence[str],
    keys: Sequence[str],
    units: Sequence[str],
    *,
    lines: Sequence[int] | None = None,
    source: str = "<trace>",
) -> UsageTrace:
    """Validate the three columns of a trace given as strings and build the hourly matrix."""
    line = np.asarray(lines if lines is not None else range(2, len(hours) + 2), dtype=np.int64)
    key_array = np.asarray(keys, dtype=object)

    blank = np.flatnonzero(key_array == "")
    if blank.size:
        raise InvalidInput("usage_key is empty", source=source, row=int(line[blank[0]]),
                           column="usage_key")

    values = pd.to_numeric(pd.Series(units, dtype=object).str.strip(), errors="coerce")
    amount = values.to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(amount) | (amount < 0))
    if bad.size:
        i = int(bad[0])
        raise InvalidInput(f"units must be a finite number >= 0, got {units[i]!r}",
                           source=source, row=int(line[i]), column="units")

    # Parse each distinct timestamp once: a trace has H of them for H x K rows.
    distinct, inverse = np.unique(np.asarray(hours, dtype=object), return_inverse=True)
    epoch_hours = np.empty(distinct.size, dtype=np.int64)
    for j, text in enumerate(distinct.tolist()):
        try:
            moment = parse_utc_hour(text)
        except ValueError as exc:
            row = int(line[np.flatnonzero(inverse == j)[0]])
            raise InvalidInput(f"hour {exc}", source=source, row=row, column="hour") from exc
        epoch_hours[j] = int(moment.timestamp()) // SECONDS_PER_HOUR
    row_hour = epoch_hours[inverse.reshape(-1)]

    first_hour = int(epoch_hours.min())
    present = np.unique(epoch_hours)
    if present.size != int(present.max()) - first_hour + 1:
        gap = int(np.flatnonzero(np.diff(present) != 1)[0])
        before, after = int(present[gap]), int(present[gap + 1])
        row = int(line[np.flatnonzero(row_hour == after)[0]])
        raise InvalidInput(
            f"hours are not contiguous: no row for any key from {_epoch_text(before + 1)} "
            f"to {_epoch_text(after - 1)} ({after - before - 1} hours)",
            source=source, row=row, column="hour",
        )
    n_hours = int(present.size)

    key_ids, first_index, key_of_row = np.unique(key_array, return_index=True,
                                                 return_inverse=True)
    appearance = np.argsort(first_index, kind="stable")
    rank = np.empty_like(appearance)
    rank[appearance] = np.arange(appearance.size)
    column = rank[key_of_row.reshape(-1)]
    ordered_keys = tuple(str(k) for k in key_ids[appearance])
    first_rows = {k: int(line[first_index[i]]) for k, i in zip(ordered_keys, appearance,
                                                                strict=True)}

    index = row_hour - first_hour
    cell = index * len(ordered_keys) + column
    order = np.argsort(cell, kind="stable")
    repeated = np.flatnonzero(np.diff(cell[order]) == 0)
    if repeated.size:
        first, second = int(order[repeated[0]]), int(order[repeated[0] + 1])
        raise InvalidInput(
            f"duplicate row for usage_key {keys[second]!r} at hour {hours[second].strip()} "
            f"(first at row {int(line[first])})",
            source=source, row=int(line[second]), column="usage_key",
        )

    counts = np.bincount(column, minlength=len(ordered_keys))
    short = np.flatnonzero(counts != n_hours)
    if short.size:
        k = int(short[0])
        seen = np.zeros(n_hours, dtype=bool)
        seen[index[column == k]] = True
        missing = int(np.flatnonzero(~seen)[0])
        raise InvalidInput(
            f"usage_key {ordered_keys[k]!r} has no row for hour {_epoch_text(first_hour + missing)}"
            f" ({n_hours - counts[k]} of {n_hours} hours missing; a missing row is an error, "
            "not zero)",
            source=source, column="usage_key",
        )

    matrix = np.zeros((n_hours, len(ordered_keys)))
    matrix[index, column] = amount
    start = datetime.fromtimestamp(first_hour * SECONDS_PER_HOUR, tz=UTC)
    return UsageTrace(start=start, key_ids=ordered_keys, units=matrix, source=source,
                      first_rows=first_rows)


def _epoch_text(epoch_hour: int) -> str:
    return format_hour(datetime.fromtimestamp(epoch_hour * SECONDS_PER_HOUR, tz=UTC))


def _format_units(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def write_trace(path: str | Path, trace: UsageTrace) -> None:
    """Write a trace as CSV, hour by hour, keys in the trace's order."""
    path = Path(path)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(COLUMNS)
        for h in range(trace.hours):
            stamp = format_hour(trace.hour_at(h))
            for k, key in enumerate(trace.key_ids):
                writer.writerow((stamp, key, _format_units(float(trace.units[h, k]))))


def trace_from_array(
    units: npt.ArrayLike, key_ids: Sequence[str], *, start: datetime | None = None,
    source: str = "<array>",
) -> UsageTrace:
    """A trace from an ``(H, K)`` array (tests, generators); starts 2024-01-01 UTC by default."""
    matrix = np.asarray(units, dtype=np.float64)
    if matrix.ndim == 1:
        matrix = matrix[:, None]
    if not np.all(np.isfinite(matrix)) or np.any(matrix < 0):
        raise InvalidInput("units must be finite and >= 0", source=source, column="units")
    return UsageTrace(start=start or datetime(2024, 1, 1, tzinfo=UTC), key_ids=tuple(key_ids),
                      units=matrix, source=source)
