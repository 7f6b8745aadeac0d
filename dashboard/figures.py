"""What a page shows, as values: headline figures that name their ``/v1`` source, tables that
download as CSV, and chart series.

A :class:`Figure` carries the raw number, the ``/v1`` request that serves it and the
dotted path of the number in that request's JSON, so that the page renders it as
``data-value``/``data-source``/``data-field`` and anyone can reproduce it. A
:class:`Table` is rendered as HTML and as CSV from the same rows, so the two always
carry the same numbers.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlencode


class Kind(StrEnum):
    """How a value is shown (and written to CSV)."""

    TEXT = "text"
    MONEY = "money"
    PRICE = "price"
    """Money per unit (a unit cost): more decimals than an amount."""
    RATIO = "ratio"
    NUMBER = "number"
    COUNT = "count"
    DATE = "date"
    DATETIME = "datetime"


def source(path: str, **params: Any) -> str:
    """``path`` with the query of the given parameters, those that are None left out.

    Dates are written ISO; the order is the order given, so that a source reads the
    way the page asked.
    """
    query = {name: (value.isoformat() if isinstance(value, date) else value)
             for name, value in params.items() if value is not None}
    return f"{path}?{urlencode(query)}" if query else path


def raw(value: Any) -> str:
    """The exact text of a raw value for ``data-value`` and CSV: ``repr`` of a float, ISO of
    a date, empty for an unknown or non-finite number."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


@dataclass(frozen=True, slots=True)
class Figure:
    """A headline number, what it is, and the ``/v1`` call and JSON field that serve it."""

    name: str
    label: str
    value: float | int | None
    kind: Kind
    source: str
    field: str
    currency: str = "USD"
    definition: str | None = None

    @property
    def tooltip(self) -> str:
        """What the hover shows: the definition, then where to reproduce the number."""
        where = f"Source: GET {self.source} → {self.field}"
        return f"{self.definition}\n{where}" if self.definition else where


@dataclass(frozen=True, slots=True)
class Column:
    """A column of a table: the row's key, its heading and how it is shown."""

    key: str
    label: str
    kind: Kind = Kind.TEXT
    field: str | None = None
    """Where each cell is in the table's ``source`` JSON, ``{i}`` standing for the row's
    index (``rows.{i}.amortized_cost``): such cells are figures too."""
    link: str | None = None
    """A page each cell links to, ``{value}`` standing for the cell's value."""
    wide: bool = False
    """Long text (a reason): shown on a line of its own under the row's other cells."""


@dataclass(frozen=True, slots=True)
class Table:
    """Rows with fixed columns; ``empty`` says what to do when there are none."""

    name: str
    title: str
    columns: tuple[Column, ...]
    rows: Sequence[Mapping[str, Any]]
    empty: str
    currency: str = "USD"
    source: str | None = None
    """The ``/v1`` request whose JSON the rows come from (``rows``/``items`` in that order)."""
    note: str | None = None
    totals: Mapping[str, Any] | None = None
    """A footer row: the ``/v1`` response's ``totals`` by column (not in the CSV, whose rows
    add up to it)."""

    @property
    def narrow(self) -> tuple[Column, ...]:
        """The columns shown side by side (all but the wide ones)."""
        return tuple(column for column in self.columns if not column.wide)

    @property
    def wide(self) -> tuple[Column, ...]:
        """The columns shown on a line of their own under each row."""
        return tuple(column for column in self.columns if column.wide)

    def to_csv(self) -> str:
        """The table as CSV: a header of column keys, then raw values (money in cents)."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow([column.key for column in self.columns])
        for row in self.rows:
            writer.writerow([csv_value(row.get(column.key), column.kind)
                             for column in self.columns])
        return buffer.getvalue()


def csv_value(value: Any, kind: Kind) -> str:
    """One cell as CSV writes it: money with two decimals, other numbers exact."""
    if kind is Kind.MONEY and isinstance(value, int | float) and math.isfinite(value):
        return f"{value:.2f}"
    return raw(value)


@dataclass(frozen=True, slots=True)
class Series:
    """One line or set of bars of a chart."""

    label: str
    values: Sequence[float | None]
    kind: Kind = Kind.MONEY
    axis: str = "y"
    band: bool = False
    """Drawn as the shaded area between the series before it and this one (an interval's
    upper end after its lower end), both left out of the legend."""


@dataclass(frozen=True, slots=True)
class Chart:
    """A chart's labels and series, drawn by ``static/dashboard.js`` with Chart.js; the same
    numbers are in a table beside it (``table``) for reading without JavaScript."""

    name: str
    title: str
    type: str
    labels: Sequence[str]
    series: Sequence[Series]
    source: str
    currency: str = "USD"
    stacked: bool = False
    table: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The chart for ``dashboard.js``: plain JSON, no code."""
        return {"name": self.name, "type": self.type, "labels": list(self.labels),
                "currency": self.currency, "stacked": self.stacked,
                "series": [{"label": s.label, "kind": str(s.kind), "axis": s.axis, "band": s.band,
                            "values": [v if v is not None and math.isfinite(v) else None
                                       for v in s.values]} for s in self.series]}


@dataclass(frozen=True, slots=True)
class Control:
    """A field of a page's GET form: a select of ``choices`` (value, text) when there are
    some, else an input of ``type``; ``value`` is what the request asked for."""

    name: str
    label: str
    value: str
    choices: tuple[tuple[str, str], ...] = ()
    type: str = "text"
    placeholder: str = ""


@dataclass(slots=True)
class Page:
    """What a page's template receives beside the request's own context."""

    title: str
    figures: dict[str, Figure] = field(default_factory=dict)
    tables: dict[str, Table] = field(default_factory=dict)
    charts: list[Chart] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)

    def add(self, figure: Figure) -> Figure:
        """Keep a figure by its name; return it."""
        self.figures[figure.name] = figure
        return figure

    def table(self, table: Table) -> Table:
        """Keep a table by its name; return it."""
        self.tables[table.name] = table
        return table
