"""The period a page reports on: month, quarter or year to date.

"To date" means to the last day of the reporting data unless the reader picks
another day: the bundled sample ends on 2024-08-31, and a month to the calendar's
today would show nothing. Windows are UTC days, ``[start, end)`` as in the API.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from reporting.common import Granularity, period_of


class PeriodLength(StrEnum):
    """How long a period to date the reader asked for."""

    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


@dataclass(frozen=True, slots=True)
class Window:
    """A period to date: its first day, the first day after it, and how it reads."""

    length: PeriodLength
    start: date
    end: date
    """Exclusive, as the API's ``end``."""

    @property
    def last_day(self) -> date:
        """The last day included."""
        return self.end - timedelta(days=1)

    @property
    def label(self) -> str:
        """``Month to date`` and the like."""
        return f"{self.length.value.capitalize()} to date"


def to_date(length: PeriodLength, last_day: date) -> Window:
    """The ``length`` period containing ``last_day``, from its first day to ``last_day``."""
    start, _ = period_of(last_day, Granularity(length.value))
    return Window(length=length, start=start, end=last_day + timedelta(days=1))


def parse_length(text: str | None) -> PeriodLength:
    """The length named in the query; month when none or an unknown one is given."""
    try:
        return PeriodLength(text or PeriodLength.MONTH)
    except ValueError:
        return PeriodLength.MONTH


def parse_day(text: str | None) -> date | None:
    """A ``YYYY-MM-DD`` day from the query, or None when absent or not a date."""
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None
