"""Read a dashboard page as the tests need it: figures, tables, forms, links (stdlib only)."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from fastapi.testclient import TestClient


@dataclass
class ParsedTable:
    """A table: its column keys and, per row, each cell's (text, data-value)."""

    columns: list[str] = field(default_factory=list)
    rows: list[list[tuple[str, str]]] = field(default_factory=list)


@dataclass
class ParsedForm:
    """A form: its attributes and its fields' names and values."""

    attrs: dict[str, str]
    fields: dict[str, str] = field(default_factory=dict)


class PageParser(HTMLParser):
    """Collects figures (``data-figure`` elements), tables, forms and links."""

    def __init__(self) -> None:
        """An empty parse."""
        super().__init__()
        self.figures: list[dict[str, str]] = []
        self.tables: dict[str, ParsedTable] = {}
        self.forms: list[ParsedForm] = []
        self.links: list[str] = []
        self.csv_links: dict[str, str] = {}
        self._table: ParsedTable | None = None
        self._cell: list[str] | None = None
        self._cell_value = ""
        self._in_head = False
        self._wide: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Note what each element opens."""
        found = {name: value or "" for name, value in attrs}
        if "data-figure" in found:
            self.figures.append(found)
        if tag == "a" and "href" in found:
            self.links.append(found["href"])
            if "data-csv" in found:
                self.csv_links[found["data-csv"]] = found["href"]
        if tag == "table" and "data-table" in found:
            self._table = self.tables[found["data-table"]] = ParsedTable()
            self._wide = found.get("data-wide-columns", "").split()
        elif tag in ("thead", "tfoot"):
            self._in_head = True
        elif tag == "th" and self._table is not None and self._in_head and "data-column" in found:
            self._table.columns.append(found["data-column"])
        elif tag == "tr" and self._table is not None and not self._in_head:
            if "detail" not in found.get("class", "").split():  # a row's wide cells: same row
                self._table.rows.append([])
        elif tag == "td" and self._table is not None and not self._in_head:
            self._cell, self._cell_value = [], found.get("data-value", "")
        elif tag == "form":
            self.forms.append(ParsedForm(found))
        elif tag in ("input", "textarea", "select") and self.forms and "name" in found:
            self.forms[-1].fields[found["name"]] = found.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        """Close tables and cells."""
        if tag in ("thead", "tfoot"):
            self._in_head = False
        elif tag == "td" and self._table is not None and self._cell is not None:
            self._table.rows[-1].append(("".join(self._cell).strip(), self._cell_value))
            self._cell = None
        elif tag == "table" and self._table is not None:
            # Wide columns (a reason) are shown under each row, and come last.
            self._table.columns.extend(self._wide)
            self._table = None

    def handle_data(self, data: str) -> None:
        """Text of the open cell."""
        if self._cell is not None:
            self._cell.append(data)


def parse(html: str) -> PageParser:
    """The page's figures, tables, forms and links."""
    parser = PageParser()
    parser.feed(html)
    return parser


def at(document: Any, dotted: str) -> Any:
    """The value at a dotted path (list indices as numbers) of a JSON document."""
    value = document
    for part in dotted.split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


def number_of(text: str) -> float:
    """The number a displayed figure reads (``$1,234.50``, ``−16.44%``, ``1,200``)."""
    cleaned = (text.replace("−", "-").replace("$", "").replace(",", "").replace("%", "")
               .replace("€", "").replace("£", "").strip())
    return float(cleaned)


def same_value(shown: str, served: Any) -> bool:
    """Whether a figure's ``data-value`` is exactly the served JSON value."""
    if served is None:
        return shown == ""
    if isinstance(served, bool) or not isinstance(served, int | float):
        return shown == str(served)
    return float(shown) == float(served)


def check_figures(client: TestClient, key: str, path: str) -> int:
    """Every figure of the page at ``path`` equals the ``/v1`` JSON its ``data-source`` serves
    at its ``data-field`` (asked with the API key ``key``); how many figures there were."""
    html = client.get(path)
    assert html.status_code == 200, (path, html.text[:500])
    figures = parse(html.text).figures
    documents: dict[str, Any] = {}
    for figure in figures:
        source = figure["data-source"]
        assert source.startswith("/v1/"), figure
        if source not in documents:
            response = client.get(source, headers={"X-API-Key": key})
            assert response.status_code == 200, (source, response.text[:300])
            documents[source] = response.json()
        served = at(documents[source], figure["data-field"])
        assert same_value(figure["data-value"], served), (path, figure, served)
        assert source in figure["title"] and figure["data-field"] in figure["title"]
    return len(figures)
