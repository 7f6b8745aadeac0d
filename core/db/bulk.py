"""Bulk writes of frames and the usage-key lookups they need, for every table below them.

``bulk_insert`` writes a frame whose columns are named as a table's: a PostgreSQL
``COPY … FROM STDIN`` (CSV) on PostgreSQL, an order of magnitude faster than INSERTs for
hundreds of thousands of rows, one ``executemany`` on the driver's cursor on SQLite (each
distinct value of a column bound once through the column's type), and batched Core
``executemany`` elsewhere. Functions ``flush`` at most, never ``commit``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Table, insert, select
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from core.db.models import UsageKeyRow

_BATCH = 5000
_IN_CHUNK = 500


def _copy_value(value: Any) -> Any:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _bind_values(values: pd.Series) -> list[Any]:
    """A column as the values a Core insert binds, converted a column at a time: numbers as
    Python numbers (NaN as NULL), timestamps as aware datetimes, dates as they are."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        stamps = pd.DatetimeIndex(values)
        return [None if missing else stamp
                for missing, stamp in zip(stamps.isna(), stamps.to_pydatetime(), strict=True)]
    if values.dtype.kind in "biu":
        return values.tolist()
    if values.dtype.kind == "f":
        return [None if value != value else value for value in values.tolist()]
    return [value if isinstance(value, date | datetime) else _copy_value(value)
            for value in values.tolist()]


def _text_timestamps(frame: pd.DataFrame) -> pd.DataFrame:
    """Dates and timestamps as ISO text, each distinct value formatted once (fast CSV)."""
    out = frame
    for column in frame.columns:
        values = frame[column]
        timestamps = isinstance(values.dtype, pd.DatetimeTZDtype) or (
            values.dtype == object and len(values) and isinstance(values.iloc[0], date))
        if not timestamps:
            continue
        codes, uniques = pd.factorize(values)
        text = np.array([_copy_value(value) for value in uniques] + [None], dtype=object)
        out = out.assign(**{column: text[codes]})  # code -1 (missing) picks the None
    return out


def bulk_insert(session: Session, table: Table, frame: pd.DataFrame) -> int:
    """Insert every row of ``frame`` (columns named as the table's) into ``table``.

    On PostgreSQL the rows go through ``COPY … FROM STDIN`` (CSV), an order of
    magnitude faster than INSERTs for the hundreds of thousands of daily facts
    of a year; on SQLite through one ``executemany`` on the driver's cursor
    (:func:`_sqlite_executemany`); elsewhere through batched Core ``executemany``, which
    defines what the fast paths store. Returns the rows written.
    """
    if frame.empty:
        return 0
    columns = list(frame.columns)
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        buffer = io.StringIO()
        frame = _text_timestamps(frame)
        frame.to_csv(buffer, index=False, header=False, na_rep="\\N", lineterminator="\n",
                     quoting=csv.QUOTE_MINIMAL)
        names = ", ".join(f'"{c}"' for c in columns)
        raw = connection.connection.driver_connection
        with raw.cursor() as cursor, cursor.copy(  # type: ignore[union-attr]
            f'COPY "{table.name}" ({names}) FROM STDIN WITH (FORMAT csv, NULL \'\\N\')'
        ) as copy:
            copy.write(buffer.getvalue())
        return len(frame)
    if connection.dialect.name == "sqlite":
        _sqlite_executemany(session, table, frame)
        return len(frame)
    core_executemany(session, table, frame)
    return len(frame)


def core_executemany(session: Session, table: Table, frame: pd.DataFrame) -> None:
    """The frame's rows through SQLAlchemy's ``insert()`` in batches (types processed row by
    row): what every fast path must store."""
    columns = list(frame.columns)
    values = [_bind_values(frame[column]) for column in columns]
    records = [dict(zip(columns, row, strict=True)) for row in zip(*values, strict=True)]
    for index in range(0, len(records), _BATCH):
        session.execute(insert(table), records[index:index + _BATCH])


def _driver_values(values: pd.Series, column_type: Any, dialect: Dialect) -> list[Any]:
    """A column as the driver binds it: :func:`_bind_values` passed through the column type's
    bind processing (``UTCDateTime``, dates, JSON) as a Core insert would, each distinct
    value once when the values can be told apart (timestamps, dates, text)."""
    process = column_type.dialect_impl(dialect).bind_processor(dialect)
    if process is None:
        return _bind_values(values)
    try:
        codes, uniques = pd.factorize(values)
    except TypeError:  # unhashable values (JSON documents): each processed on its own
        return [None if value is None else process(value) for value in _bind_values(values)]
    distinct = _bind_values(pd.Series(uniques, dtype=values.dtype))
    processed = np.array([None if value is None else process(value) for value in distinct]
                         + [None], dtype=object)
    return processed[codes].tolist()  # code -1 (missing) picks the None


def _sqlite_executemany(session: Session, table: Table, frame: pd.DataFrame) -> None:
    """SQLite: the frame's rows as one ``executemany`` on the driver's cursor, in the
    caller's transaction; a driver error is raised as SQLAlchemy's (``IntegrityError`` for a
    duplicate key), as the same insert through SQLAlchemy would."""
    connection = session.connection()
    dialect = connection.dialect
    columns = list(frame.columns)
    values = [_driver_values(frame[name], table.c[name].type, dialect) for name in columns]
    names = ", ".join(f'"{name}"' for name in columns)
    marks = ", ".join("?" for _ in columns)
    statement = f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})'
    driver = connection.connection.driver_connection
    assert driver is not None
    cursor = driver.cursor()
    try:
        cursor.executemany(statement, zip(*values, strict=True))
    except dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(statement, None, exc, dialect.loaded_dbapi.Error) from exc
    finally:
        cursor.close()


def usage_key_ids(session: Session, usage_keys: Sequence[str]) -> dict[str, int]:
    """Row ids of known usage keys (unknown ones are left out)."""
    ids: dict[str, int] = {}
    names = list(dict.fromkeys(usage_keys))
    for index in range(0, len(names), _IN_CHUNK):
        stmt = select(UsageKeyRow.usage_key, UsageKeyRow.id).where(
            UsageKeyRow.usage_key.in_(names[index:index + _IN_CHUNK]))
        ids.update((name, key_id) for name, key_id in session.execute(stmt))
    return ids


__all__ = ["bulk_insert", "core_executemany", "usage_key_ids"]
