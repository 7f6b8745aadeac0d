"""The declarative base of Ladder's tables, and what every table module shares.

``core.db.models`` (the planning and execution tables) and ``core.db.reporting_models``
(the reporting tables) both build on this module; neither imports the other for it.
Every timestamp is timezone-aware UTC (``UTCDateTime``); money and quantities are float64
(``Double``). Constraint names follow ``NAMING_CONVENTION`` so that migrations can name,
alter and drop them on every backend.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Double, MetaData
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

def _in(column: str, values: Iterable[str]) -> str:
    """SQL of a check constraint: ``column`` holds one of ``values``."""
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python.

    Naive datetimes are refused rather than guessed at. SQLite has no time zone
    type, so the value is stored there as naive UTC and made aware again on read.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"timestamp {value!r} must be timezone-aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of every Ladder table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads this class attribute as is
        datetime: UTCDateTime(),
        float: Double(),
        # JSON, not JSONB: PostgreSQL's JSONB reorders object keys, and the order of
        # an offering's covers/rates is its tie-break order.
        dict[str, Any]: JSON(),
        dict[str, float]: JSON(),
        list[str]: JSON(),
    }


__all__ = ["NAMING_CONVENTION", "Base", "UTCDateTime", "_in", "utc_now"]
