"""The database layer on SQLite and PostgreSQL: migrations, the models and the repository."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from factories import (
    KEYS,
    T0,
    make_catalog,
    make_dataset,
    make_hourly_frame,
    make_keys_frame,
    make_plan,
)
from sqlalchemy import Engine, func, inspect, select
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session

import core.migrations
from core.db import create_engine_for, migrate, session_scope
from core.db.frames import usage_matrix
from core.db.models import (
    Base,
    CommitmentRow,
    DatasetRow,
    OfferingRow,
    UsageHour,
    UsageKeyRow,
)
from core.db.repository import (
    add_dataset,
    add_plan,
    count_plans,
    find_dataset_by_sha,
    get_plan,
    latest_dataset,
    list_commitments,
    list_plans,
    load_catalog,
    load_usage,
    plan_from_row,
    replace_inventory,
    upsert_catalog,
)
from core.db.session import alembic_config
from core.domain import Catalog, Commitment, Offering, Shape
from core.errors import Conflict, InvalidInput

HOUR = timedelta(hours=1)


def _count(session: Session, model: type[Base]) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


# --- migrations ---------------------------------------------------------------------------


def test_migrate_creates_every_table_and_is_idempotent(empty_db_url: str) -> None:
    migrate(empty_db_url)
    migrate(empty_db_url)

    engine = create_engine_for(empty_db_url)
    try:
        with engine.connect() as connection:
            tables = set(inspect(connection).get_table_names())
            current = MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
    assert tables == set(Base.metadata.tables) | {"alembic_version"}
    assert current == ScriptDirectory.from_config(alembic_config()).get_current_head()


def test_migrate_accepts_an_engine(empty_db_url: str) -> None:
    engine = create_engine_for(empty_db_url)
    try:
        migrate(engine)
        with engine.connect() as connection:
            assert "usage_hours" in inspect(connection).get_table_names()
    finally:
        engine.dispose()


def test_models_match_the_migration(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_downgrade_to_base_drops_every_table(empty_db_url: str) -> None:
    migrate(empty_db_url)
    engine = create_engine_for(empty_db_url)
    try:
        with engine.begin() as connection:
            config = alembic_config()
            config.attributes["connection"] = connection
            command.downgrade(config, "base")
        with engine.connect() as connection:
            assert set(inspect(connection).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()


def test_migrations_folder_is_found_from_the_package() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    assert Path(script.dir) == Path(core.migrations.__file__).resolve().parent
    revisions = [rev.revision for rev in script.walk_revisions()]
    # One linear chain, numbered without gaps: 0001, 0002, … up to the head.
    assert revisions == [f"{number:04d}" for number in range(len(revisions), 0, -1)]


# --- datasets and usage -------------------------------------------------------------------


def test_dataset_round_trip_returns_the_hourly_frame(session: Session) -> None:
    hourly = make_hourly_frame(hours=30)
    dataset = add_dataset(
        session, provider="sample", sources=["a.csv", "b.csv"], sha256="a" * 64, currency="USD",
        start=T0, end=T0 + 30 * HOUR, rows_read=100, rows_used=60,
        keys=make_keys_frame(), hourly=hourly,
    )
    session.flush()
    session.expunge_all()

    loaded = load_usage(session, dataset.id)

    pd.testing.assert_frame_equal(loaded, hourly)
    stored = session.get(DatasetRow, dataset.id)
    assert stored is not None
    assert stored.sources == ["a.csv", "b.csv"]
    assert (stored.start, stored.end) == (T0, T0 + 30 * HOUR)
    assert stored.start.tzinfo is not None
    assert (stored.rows_read, stored.rows_used, stored.currency) == (100, 60, "USD")
    assert stored.ingested_at.tzinfo is not None


def test_load_usage_keeps_hours_in_the_half_open_window(session: Session) -> None:
    dataset = make_dataset(session, hours=24)

    loaded = load_usage(session, dataset.id, start=T0 + 5 * HOUR, end=T0 + 8 * HOUR)

    assert list(loaded["hour"].unique()) == [T0 + h * HOUR for h in (5, 6, 7)]
    assert len(loaded) == 3 * len(KEYS)
    assert str(loaded["hour"].dtype) == "datetime64[us, UTC]"


def test_load_usage_of_an_unknown_dataset_is_empty_with_the_right_columns(
    session: Session,
) -> None:
    loaded = load_usage(session, 999_999)
    assert list(loaded.columns) == ["hour", "usage_key", "units", "on_demand_cost"]
    assert loaded.empty


def test_same_content_is_found_by_sha_and_not_stored_twice(session: Session) -> None:
    first = make_dataset(session, sha256="f" * 64)

    assert find_dataset_by_sha(session, "f" * 64) is first
    assert find_dataset_by_sha(session, "0" * 64) is None
    with pytest.raises(Conflict, match=f"dataset {first.id}"):
        make_dataset(session, sha256="f" * 64, start=T0 + 100 * HOUR)
    assert _count(session, DatasetRow) == 1


def test_latest_dataset_is_the_last_ingested_for_the_provider(session: Session) -> None:
    make_dataset(session, provider="sample", sha256="1" * 64)
    newest = make_dataset(session, provider="sample", sha256="2" * 64, start=T0 + 48 * HOUR)
    make_dataset(session, provider="other", sha256="3" * 64)

    assert latest_dataset(session, "sample") is newest
    assert latest_dataset(session, "nobody") is None


def test_reingesting_keys_updates_their_on_demand_rate(session: Session) -> None:
    make_dataset(session, sha256="1" * 64)
    add_dataset(
        session, provider="sample", sources=[], sha256="2" * 64, currency="USD",
        start=T0, end=T0 + HOUR, rows_read=0, rows_used=0,
        keys=make_keys_frame(on_demand_rate=0.07), hourly=make_hourly_frame(hours=1),
    )
    rates = session.scalars(select(UsageKeyRow.on_demand_rate)).all()
    assert rates == [0.07] * len(KEYS)
    assert _count(session, UsageKeyRow) == len(KEYS)


def test_failure_midway_through_add_dataset_stores_nothing(db_url: str) -> None:
    """The last step (the bulk insert) fails on a duplicate hour: keys and dataset go too."""
    hourly = make_hourly_frame(hours=10)
    duplicated = pd.concat([hourly, hourly.iloc[[3]]], ignore_index=True)
    engine = create_engine_for(db_url)
    try:
        with pytest.raises(IntegrityError), session_scope(engine) as session:
            add_dataset(
                session, provider="sample", sources=["x.csv"], sha256="d" * 64,
                currency="USD", start=T0, end=T0 + 10 * HOUR, rows_read=21, rows_used=21,
                keys=make_keys_frame(), hourly=duplicated,
            )
        with session_scope(engine) as session:
            assert [_count(session, m) for m in (DatasetRow, UsageKeyRow, UsageHour)] == [0, 0, 0]

        with session_scope(engine) as session:
            make_dataset(session, hours=10)
        with session_scope(engine) as session:
            assert _count(session, UsageHour) == 10 * len(KEYS)
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.assign(hour=f["hour"].dt.tz_localize(None)), "timezone-aware"),
        (lambda f: f.assign(units=-f["units"]), "units must be finite and >= 0"),
        (lambda f: f.assign(usage_key="unknown/key"), "absent from the keys frame"),
        (lambda f: f.assign(hour=f["hour"] + pd.Timedelta(hours=100)), "outside"),
        (lambda f: f.drop(columns="on_demand_cost"), "no 'on_demand_cost' column"),
    ],
    ids=["naive-hours", "negative-units", "unknown-key", "hour-outside", "missing-column"],
)
def test_add_dataset_refuses_bad_frames(
    session: Session, change: object, message: str
) -> None:
    hourly = change(make_hourly_frame(hours=4))  # type: ignore[operator]
    with pytest.raises(InvalidInput, match=message):
        add_dataset(
            session, provider="sample", sources=[], sha256="e" * 64, currency="USD",
            start=T0, end=T0 + 4 * HOUR, rows_read=8, rows_used=8,
            keys=make_keys_frame(), hourly=hourly,
        )


def test_bulk_insert_of_40k_usage_rows_is_fast(session: Session, backend: str) -> None:
    keys = [f"sample/acct/ec2/us-east-1/f{index:02d}/linux/shared" for index in range(24)]
    hourly = make_hourly_frame(keys, hours=1680)  # 70 days x 24 keys = 40,320 rows
    started = time.perf_counter()
    dataset = add_dataset(
        session, provider="sample", sources=[], sha256="b" * 64, currency="USD",
        start=T0, end=T0 + 1680 * HOUR, rows_read=len(hourly), rows_used=len(hourly),
        keys=make_keys_frame(keys), hourly=hourly,
    )
    inserted = time.perf_counter() - started
    loaded = load_usage(session, dataset.id)
    loaded_in = time.perf_counter() - started - inserted
    print(f"{backend}: inserted {len(hourly)} rows in {inserted:.2f} s, "
          f"loaded in {loaded_in:.2f} s")
    assert len(loaded) == len(hourly)
    assert inserted < 5.0


# --- the dense matrix ---------------------------------------------------------------------


def test_usage_matrix_is_dense_with_zeros_for_missing_rows() -> None:
    usage = pd.DataFrame(
        {
            "hour": pd.DatetimeIndex([T0, T0 + 2 * HOUR, T0 + 2 * HOUR]).as_unit("us"),
            "usage_key": ["b", "a", "b"],
            "units": [1.0, 2.0, 3.0],
        }
    )
    matrix = usage_matrix(usage, keys=["b", "a", "c"])

    assert list(matrix.hours) == [T0, T0 + HOUR, T0 + 2 * HOUR]
    assert matrix.keys == ("b", "a", "c")
    np.testing.assert_array_equal(matrix.values, [[1, 0, 0], [0, 0, 0], [3, 2, 0]])


def test_usage_matrix_over_an_explicit_window_drops_rows_outside_it(session: Session) -> None:
    dataset = make_dataset(session, hours=10)
    usage = load_usage(session, dataset.id)

    matrix = usage_matrix(usage, start=T0 + 8 * HOUR, end=T0 + 12 * HOUR)

    assert matrix.values.shape == (4, len(KEYS))
    assert matrix.keys == tuple(sorted(KEYS))
    last = usage[usage["hour"] == T0 + 9 * HOUR].set_index("usage_key")["units"]
    np.testing.assert_array_equal(matrix.values[1], last.loc[list(matrix.keys)].to_numpy())
    np.testing.assert_array_equal(matrix.values[2:], 0.0)


# --- catalogs and commitments -------------------------------------------------------------


def test_catalog_round_trip_equals_the_domain_catalog(session: Session) -> None:
    catalog = make_catalog()
    upsert_catalog(session, "sample", catalog)
    session.flush()
    session.expunge_all()

    loaded = load_catalog(session, "sample")

    assert loaded == catalog
    assert loaded is not None
    assert [o.eligible_keys for o in loaded.offerings] == [
        o.eligible_keys for o in catalog.offerings
    ]


def test_upserting_a_smaller_catalog_unlists_the_missing_offerings(session: Session) -> None:
    catalog = make_catalog()
    upsert_catalog(session, "sample", catalog)
    smaller = Catalog(
        keys=tuple(reversed(catalog.keys)),
        offerings=catalog.offerings[1:],
        currency="EUR",
        source="second",
    )
    upsert_catalog(session, "sample", smaller)
    session.expunge_all()

    assert load_catalog(session, "sample") == smaller
    assert _count(session, OfferingRow) == len(catalog.offerings)


def test_load_catalog_of_an_unknown_provider_is_none(session: Session) -> None:
    assert load_catalog(session, "nobody") is None


def test_inventory_round_trip_and_active_filter(session: Session) -> None:
    catalog = make_catalog()
    upsert_catalog(session, "sample", catalog)
    delisted = Offering(
        offering_id="ri-old", shape=Shape.UNIT, term_hours=100,
        upfront=1.0, hourly=0.01, order=0, covers={KEYS[0]: 2.0},
    )
    commitments = [
        Commitment(catalog.offerings[0], 2.0, T0, commitment_id="ri-123"),
        Commitment(catalog.offerings[-1], 1.25, T0 + 10 * HOUR, commitment_id="sp-9"),
        Commitment(delisted, 3.0, T0 - 200 * HOUR),
    ]
    replace_inventory(session, "sample", commitments)
    session.expunge_all()

    assert list_commitments(session, "sample") == sorted(commitments, key=lambda c: c.start)
    assert list_commitments(session, "sample", active_at=T0 + 5 * HOUR) == commitments[:1]
    assert list_commitments(session, "other") == []
    assert load_catalog(session, "sample") == catalog  # the delisted offering stays unlisted


def test_replace_inventory_replaces_inventory_and_plan_commitments_it_lists(
    session: Session,
) -> None:
    catalog = make_catalog()
    upsert_catalog(session, "sample", catalog)
    replace_inventory(session, "sample", [Commitment(catalog.offerings[0], 1.0, T0, "ri-1")])
    offering_pk = session.scalars(select(OfferingRow.id)).first()
    assert offering_pk is not None
    session.add(
        CommitmentRow(provider="sample", commitment_id="ri-2", offering_pk=offering_pk,
                      quantity=4.0, start_at=T0, end_at=T0 + 8760 * HOUR, source="plan")
    )
    session.flush()

    new = [Commitment(catalog.offerings[0], 4.0, T0, "ri-2")]
    replace_inventory(session, "sample", new)

    assert list_commitments(session, "sample") == new
    assert session.scalars(select(CommitmentRow.source)).all() == ["inventory"]


# --- plans --------------------------------------------------------------------------------


def test_plan_round_trip_with_actions(db_url: str) -> None:
    """Stored in one transaction, read in another, used after both sessions closed."""
    plan = make_plan(actions=3)
    engine = create_engine_for(db_url)
    try:
        with session_scope(engine) as session:
            dataset_id = make_dataset(session).id
            plan_id = add_plan(
                session, provider="sample", dataset_id=dataset_id, plan=plan,
                build_seconds=1.5, solve_seconds=0.25,
                details={"scenarios": 20, "policy": {"max_monthly": 5000.0}},
            )
        with session_scope(engine) as session:
            row = get_plan(session, plan_id)
    finally:
        engine.dispose()

    assert row is not None
    assert (row.id, row.provider, row.status, row.dataset_id) == (
        plan_id, "sample", "proposed", dataset_id
    )
    assert row.created_at.tzinfo is not None
    assert plan_from_row(row) == make_plan(actions=3, created_at=row.created_at)
    assert row.expected_savings == plan.expected_savings
    assert [(a.position, a.status, a.offering_id) for a in row.actions] == [
        (index, "pending", action.offering_id) for index, action in enumerate(plan.actions)
    ]
    assert (row.build_seconds, row.solve_seconds) == (1.5, 0.25)
    assert row.details == {"scenarios": 20, "policy": {"max_monthly": 5000.0}}


def test_list_plans_newest_first_with_pagination(session: Session) -> None:
    ids = [
        add_plan(session, provider="sample", dataset_id=None,
                 plan=make_plan(created_at=T0 + index * HOUR), build_seconds=0.0,
                 solve_seconds=0.0)
        for index in range(5)
    ]
    add_plan(session, provider="other", dataset_id=None, plan=make_plan(created_at=T0),
             build_seconds=0.0, solve_seconds=0.0)

    newest_first = list(reversed(ids))
    assert [r.id for r in list_plans(session, provider="sample")] == newest_first
    assert [r.id for r in list_plans(session, provider="sample", limit=2)] == newest_first[:2]
    assert [r.id for r in list_plans(session, provider="sample", limit=2, offset=2)] == (
        newest_first[2:4]
    )
    assert len(list_plans(session)) == 6
    assert count_plans(session, provider="sample") == 5


def test_get_plan_of_a_missing_id_is_none(session: Session) -> None:
    assert get_plan(session, 123_456) is None


def test_deleting_a_dataset_keeps_its_plans(session: Session) -> None:
    dataset = make_dataset(session)
    plan_id = add_plan(session, provider="sample", dataset_id=dataset.id, plan=make_plan(),
                       build_seconds=0.0, solve_seconds=0.0)
    session.delete(dataset)
    session.flush()
    session.expunge_all()

    record = get_plan(session, plan_id)
    assert record is not None
    assert record.dataset_id is None
    assert _count(session, UsageHour) == 0


# --- timestamps ---------------------------------------------------------------------------


def test_timestamps_come_back_as_utc_and_naive_ones_are_refused(session: Session) -> None:
    paris = timezone(timedelta(hours=1))
    plan_id = add_plan(session, provider="sample", dataset_id=None,
                       plan=make_plan(window_start=datetime(2025, 1, 1, 1, tzinfo=paris)),
                       build_seconds=0.0, solve_seconds=0.0)
    session.expunge_all()
    record = get_plan(session, plan_id)
    assert record is not None
    assert record.window_start == datetime(2025, 1, 1, tzinfo=UTC)
    assert record.window_start.utcoffset() == timedelta(0)

    with pytest.raises(StatementError, match="timezone-aware"):
        add_plan(session, provider="sample", dataset_id=None,
                 plan=make_plan(window_start=datetime(2025, 1, 1)),
                 build_seconds=0.0, solve_seconds=0.0)
