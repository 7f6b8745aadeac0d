"""Templates to responses: the Jinja2 environment, HTML pages with strict security headers,
and CSV downloads of a page's tables."""

from __future__ import annotations

import json
from functools import cache
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from dashboard import formatting
from dashboard.figures import Column, Kind, Table, raw
from dashboard.navigation import PAGES

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
"""Nothing but this host's own files: no inline script, no CDN, no framing."""
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def _json_script(value: Any) -> Markup:
    """JSON safe inside a ``<script type="application/json">`` element."""
    text = json.dumps(value, allow_nan=False).replace("<", "\\u003c").replace(">", "\\u003e")
    return Markup(text.replace("&", "\\u0026"))


def _with_query(request: Request, **changes: str | None) -> str:
    """The request's path and query with some parameters changed (None removes one)."""
    params = dict(request.query_params)
    for name, value in changes.items():
        if value is None:
            params.pop(name, None)
        else:
            params[name] = value
    return request.url.path + (f"?{urlencode(params)}" if params else "")


def cell(table: Table, column: Column, row: dict[str, Any], index: int,
         span: int | None = None) -> Markup:
    """One ``<td>``: the value as it reads, its raw value, and, when the column names its
    field in the table's source, the figure's attributes.

    Written in Python rather than as a template macro: a year's table has thousands of
    cells, and a macro call costs ten times as much.
    """
    value = row.get(column.key)
    attrs = [f' colspan="{span}"' if span else ""]
    if formatting.is_numeric(column.kind):
        attrs.append(' class="num"')
    elif column.kind in (Kind.DATE, Kind.DATETIME):
        attrs.append(' class="nowrap"')
    attrs.append(f' data-column="{escape(column.key)}" data-value="{escape(raw(value))}"')
    if column.field and table.source and value is not None:
        field = column.field.replace("{i}", str(index))
        attrs.append(f' data-figure="{escape(table.name)}.{index}.{escape(column.key)}"'
                     f' data-source="{escape(table.source)}" data-field="{escape(field)}"'
                     f' title="Source: GET {escape(table.source)} → {escape(field)}"')
    text = escape(formatting.show(value, column.kind, table.currency))
    if column.link and value is not None:
        text = Markup(f'<a href="{escape(column.link.replace("{value}", str(value)))}">'
                      f"{text}</a>")
    return Markup(f"<td{''.join(attrs)}>{text}</td>")


@cache
def environment() -> Environment:
    """The templates of ``dashboard/templates``, autoescaped, failing on undefined names."""
    env = Environment(loader=PackageLoader("dashboard", "templates"),
                      autoescape=select_autoescape(["html"]), undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    env.globals.update(show=formatting.show, numeric=formatting.is_numeric, raw=raw,
                       money=formatting.money, ratio=formatting.ratio, day=formatting.day,
                       moment=formatting.moment, json_script=_json_script,
                       with_query=_with_query, cell=cell)
    return env


def render(request: Request, template: str, context: dict[str, Any], *,
           status_code: int = 200) -> HTMLResponse:
    """A page from its template, with the navigation's pages and the security headers."""
    body = environment().get_template(template).render(
        request=request, pages=PAGES, reader=context.pop("reader", None), **context)
    return HTMLResponse(body, status_code=status_code, headers=PAGE_HEADERS)


def render_csv(table: Table, *, filename: str) -> Response:
    """A table as a CSV download."""
    return Response(table.to_csv(), media_type=CSV_MEDIA_TYPE, headers={
        "Content-Disposition": f'attachment; filename="{filename}.csv"',
        "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})
