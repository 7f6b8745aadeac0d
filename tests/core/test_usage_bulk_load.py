"""The bulk load of hourly usage (PostgreSQL COPY, SQLite executemany) stores exactly what the
row-by-row SQLAlchemy insert stored, and fails as it did."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from factories import KEYS, T0, make_hourly_frame, make_keys_frame
from sqlalchemy import Table, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.db import bulk, periods, repository
from core.db.models import DatasetRow, UsageHour
from core.db.periods import add_period_hours, load_period_hours
from core.db.repository import add_dataset, load_usage

HOUR = timedelta(hours=1)


def _raw_rows(session: Session, dataset_id: int) -> list[tuple[object, ...]]:
    """The stored rows as the database holds them (hours as stored, not as read back)."""
    return [tuple(row) for row in session.execute(text(
        "SELECT usage_key_id, CAST(hour AS TEXT), units, on_demand_cost FROM usage_hours "
        "WHERE dataset_id = :d ORDER BY usage_key_id, hour"), {"d": dataset_id})]


def _awkward_frame(hours: int = 30) -> pd.DataFrame:
    """Hours given in another time zone and out of order, values with every bit of precision."""
    frame = make_hourly_frame(hours=hours, seed=7)
    rng = np.random.default_rng(3)
    frame["units"] = rng.uniform(0, 1e6, len(frame)) / 3.0
    frame["on_demand_cost"] = frame["units"] * np.pi * 1e-3
    frame.loc[5, ["units", "on_demand_cost"]] = 0.0
    frame["hour"] = frame["hour"].dt.tz_convert("America/New_York")
    return frame.sample(frac=1.0, random_state=1).reset_index(drop=True)


def _store(session: Session, sha: str, hourly: pd.DataFrame) -> DatasetRow:
    return add_dataset(
        session, provider="sample", sources=[], sha256=sha, currency="USD", start=T0,
        end=T0 + 30 * HOUR, rows_read=len(hourly), rows_used=len(hourly),
        keys=make_keys_frame(), hourly=hourly)


def test_bulk_load_stores_exactly_what_the_row_by_row_insert_stored(
        session: Session, monkeypatch: pytest.MonkeyPatch, backend: str) -> None:
    hourly = _awkward_frame()
    bulk = _store(session, "1" * 64, hourly)
    monkeypatch.setattr(repository, "insert_usage_hours", repository.insert_usage_hours_generic)
    generic = _store(session, "2" * 64, hourly)
    session.flush()

    fast, slow = _raw_rows(session, bulk.id), _raw_rows(session, generic.id)
    assert len(fast) == 30 * len(KEYS)
    assert fast == slow  # same key ids, hour text, and floats to the last bit
    expected = hourly.assign(hour=hourly["hour"].dt.tz_convert("UTC").astype("datetime64[us, UTC]"))
    expected = expected.sort_values(["hour", "usage_key"], ignore_index=True)
    pd.testing.assert_frame_equal(load_usage(session, bulk.id), expected, check_exact=True)
    pd.testing.assert_frame_equal(load_usage(session, generic.id), expected, check_exact=True)


def test_bulk_load_of_a_duplicate_hour_raises_integrity_error_and_stores_no_hour(
        session: Session) -> None:
    hourly = make_hourly_frame(hours=30)
    duplicated = pd.concat([hourly, hourly.iloc[[3]]], ignore_index=True)
    savepoint = session.begin_nested()
    with pytest.raises(IntegrityError):
        _store(session, "3" * 64, duplicated)
    savepoint.rollback()
    assert session.scalars(select(UsageHour)).first() is None



def _period_rows(session: Session, dataset_id: int) -> list[tuple[object, ...]]:
    """A dataset's period hours as the database holds them (dates and hours as stored)."""
    return [tuple(row) for row in session.execute(text(
        "SELECT CAST(billing_period AS TEXT), CAST(charge_start_day AS TEXT), usage_key_id, "
        "CAST(hour AS TEXT), units, on_demand_cost FROM usage_period_hours "
        "WHERE dataset_id = :d ORDER BY usage_key_id, hour"), {"d": dataset_id})]


def _core_insert(session: Session, table: Table, frame: pd.DataFrame) -> int:
    bulk.core_executemany(session, table, frame)
    return len(frame)


def test_bulk_insert_of_dates_and_hours_stores_what_the_core_insert_stored(
        session: Session, monkeypatch: pytest.MonkeyPatch, backend: str) -> None:
    """``bulk_insert``'s fast path (dates, aware hours given in another zone, floats) against
    SQLAlchemy's own insert of the same frame, to the stored text and the last bit."""
    hourly = _awkward_frame()
    fast_set, slow_set = _store(session, "4" * 64, hourly), _store(session, "5" * 64, hourly)
    hours = hourly.assign(
        billing_period=[date(2025, 1, 1) if i % 3 else date(2024, 12, 1)
                        for i in range(len(hourly))],
        charge_start_day=hourly["hour"].dt.tz_convert("UTC").dt.date)
    assert add_period_hours(session, fast_set.id, hours) == len(hours) - 1  # one zero hour
    monkeypatch.setattr(periods, "bulk_insert", _core_insert)
    assert add_period_hours(session, slow_set.id, hours) == len(hours) - 1

    fast, slow = _period_rows(session, fast_set.id), _period_rows(session, slow_set.id)
    assert len(fast) == len(hours) - 1
    assert fast == slow
    stored = load_period_hours(session, fast_set.id)
    assert stored is not None
    assert sorted(stored["billing_period"].unique()) == [date(2024, 12, 1), date(2025, 1, 1)]
