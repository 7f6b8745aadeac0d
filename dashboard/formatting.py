"""How values read on a page: money with its currency and thousands separators, ratios as
percentages, dates spelt out. Display only: the raw value stays in ``data-value``."""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any

from dashboard.figures import Kind

SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}
DASH = "—"
PRICE_DECIMALS = 4
"""Decimals of a unit cost: a cent per request would read as $0.00."""


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(
        value)


def money(value: Any, currency: str = "USD", decimals: int = 2) -> str:
    """``$12,345.67``, ``−$5.00``; another currency ``12,345.67 CHF``; unknown ``—``."""
    if not _finite(value):
        return DASH
    sign = "−" if value < 0 else ""
    digits = f"{abs(value):,.{decimals}f}"
    symbol = SYMBOLS.get(currency)
    return f"{sign}{symbol}{digits}" if symbol else f"{sign}{digits} {currency}"


def ratio(value: Any) -> str:
    """A share as a percentage with two decimals (``16.44%``); unknown ``—``."""
    if not _finite(value):
        return DASH
    text = f"{value * 100:,.2f}%"
    return text.replace("-", "−")


def number(value: Any) -> str:
    """A quantity with thousands separators and at most four decimals."""
    if not _finite(value):
        return DASH
    if float(value).is_integer():
        return f"{int(value):,}".replace("-", "−")
    return f"{value:,.4f}".rstrip("0").rstrip(".").replace("-", "−")


def day(value: Any) -> str:
    """``31 Aug 2024``."""
    if value is None or value == "":
        return DASH
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    return f"{value.day} {value:%b %Y}"


def moment(value: Any) -> str:
    """``31 Aug 2024 14:05 UTC`` (stored times are UTC)."""
    if value is None or value == "":
        return DASH
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        return day(value)
    return f"{value.day} {value:%b %Y %H:%M} UTC"


def show(value: Any, kind: Kind | str, currency: str = "USD") -> str:
    """A value as its kind reads."""
    kind = Kind(kind)
    if kind is Kind.MONEY:
        return money(value, currency)
    if kind is Kind.PRICE:
        return money(value, currency, PRICE_DECIMALS)
    if kind is Kind.RATIO:
        return ratio(value)
    if kind in (Kind.NUMBER, Kind.COUNT):
        return number(value)
    if kind is Kind.DATE:
        return day(value)
    if kind is Kind.DATETIME:
        return moment(value)
    return DASH if value is None or value == "" else str(value)


NUMERIC = frozenset({Kind.MONEY, Kind.PRICE, Kind.RATIO, Kind.NUMBER, Kind.COUNT})
"""Kinds that are right-aligned."""


def is_numeric(kind: Kind | str) -> bool:
    """Whether a column of this kind is right-aligned."""
    return Kind(kind) in NUMERIC
