"""Queries of Ladder's database, in SQLAlchemy 2 ``select()`` style.

Functions here ``flush`` and never ``commit``: the caller owns the transaction
(``core.db.session_scope`` or the API's session dependency). Catalogs and
commitments go in and out as Ladder's domain values (``core.domain``); datasets
and plans come back as their ORM rows, loaded so that they stay readable once
the session is closed (``plan_from_row`` gives a plan's domain value).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import pandas as pd
from sqlalchemy import Select, Table, delete, func, insert, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, selectinload

from core.db.frames import (
    HOUR_DTYPE,
    HOURLY_COLUMNS,
    KEY_COLUMNS,
    empty_usage,
    require_columns,
    utc_hours,
)
from core.db.models import (
    ActionRow,
    CatalogKeyRow,
    CatalogRow,
    CommitmentRow,
    DatasetRow,
    OfferingRow,
    PlanRow,
    UsageHour,
    UsageKeyRow,
)
from core.domain import (
    Action,
    ActionKind,
    Catalog,
    Commitment,
    KeyPrice,
    Offering,
    PaymentOption,
    Plan,
    PlanStatus,
    Shape,
    UsageKey,
)
from core.errors import Conflict, InvalidInput

USAGE_HOURS = cast(Table, UsageHour.__table__)
CATALOG_KEYS = cast(Table, CatalogKeyRow.__table__)

# Keeps IN (...) lists well under SQLite's bound-parameter limit.
_IN_CHUNK = 500

_KEY_PARTS = ("provider", "scope", "service", "region", "family", "platform", "tenancy")


def _chunks(values: Sequence[str], size: int = _IN_CHUNK) -> Iterable[Sequence[str]]:
    for index in range(0, len(values), size):
        yield values[index : index + size]


def _native(value: Any) -> Any:
    """A database-ready scalar: numpy scalars to Python, NaN and pandas' NA to None."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


# --- usage keys -------------------------------------------------------------------------


def upsert_usage_keys(session: Session, rows: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Insert new usage keys, update the known ones, and return every key's row id.

    Each row has ``usage_key`` and ``provider``, and optionally the other parts and
    ``on_demand_rate``; a part given as None leaves the stored value unchanged.
    """
    names = list(dict.fromkeys(str(row["usage_key"]) for row in rows))
    existing: dict[str, UsageKeyRow] = {}
    for chunk in _chunks(names):
        rows_stmt = select(UsageKeyRow).where(UsageKeyRow.usage_key.in_(chunk))
        existing.update((row.usage_key, row) for row in session.scalars(rows_stmt))

    new: dict[str, dict[str, Any]] = {}
    for raw in rows:
        values = {name: _native(value) for name, value in raw.items()}
        known = existing.get(values["usage_key"])
        if known is None:
            new.setdefault(values["usage_key"], values)
            continue
        for name, value in values.items():
            if value is not None and getattr(known, name) != value:
                setattr(known, name, value)
    if new:
        session.execute(insert(UsageKeyRow), list(new.values()))
    session.flush()

    ids = {name: row.id for name, row in existing.items()}
    missing = [name for name in names if name not in ids]
    for chunk in _chunks(missing):
        ids_stmt = select(UsageKeyRow.usage_key, UsageKeyRow.id).where(
            UsageKeyRow.usage_key.in_(chunk)
        )
        ids.update((name, key_id) for name, key_id in session.execute(ids_stmt))
    return ids


def _key_row(usage_key: str, provider: str, on_demand_rate: float | None) -> dict[str, Any]:
    """A usage-key row from its string; the parts stay unknown unless it is the 7-part form."""
    try:
        parts = UsageKey.parse(usage_key)
    except ValueError:
        return {"usage_key": usage_key, "provider": provider, "on_demand_rate": on_demand_rate}
    values: dict[str, Any] = {name: getattr(parts, name) for name in _KEY_PARTS}
    return values | {"usage_key": usage_key, "on_demand_rate": on_demand_rate}


# --- datasets and usage -----------------------------------------------------------------


def find_dataset_by_sha(session: Session, sha256: str) -> DatasetRow | None:
    """The dataset already ingested from content with this digest, if any."""
    return session.scalar(select(DatasetRow).where(DatasetRow.sha256 == sha256))


def get_dataset(session: Session, dataset_id: int) -> DatasetRow | None:
    """The dataset with this id, or None."""
    return session.get(DatasetRow, dataset_id)


def latest_dataset(session: Session, provider: str) -> DatasetRow | None:
    """The provider's most recently ingested dataset, or None."""
    stmt = (
        select(DatasetRow)
        .where(DatasetRow.provider == provider)
        .order_by(DatasetRow.ingested_at.desc(), DatasetRow.id.desc())
        .limit(1)
    )
    return session.scalar(stmt)


def list_datasets(
    session: Session, *, provider: str | None = None, limit: int = 50, offset: int = 0
) -> list[DatasetRow]:
    """Datasets, the most recently ingested first."""
    stmt = select(DatasetRow).order_by(DatasetRow.ingested_at.desc(), DatasetRow.id.desc())
    if provider is not None:
        stmt = stmt.where(DatasetRow.provider == provider)
    return list(session.scalars(stmt.limit(limit).offset(offset)))


@dataclass(frozen=True, slots=True)
class _HourlyColumns:
    """The hourly frame, validated, as arrays ready for a bulk load."""

    hours: pd.DatetimeIndex
    usage_keys: npt.NDArray[np.object_]
    units: npt.NDArray[np.float64]
    costs: npt.NDArray[np.float64]


def _validated_hourly(
    hourly: pd.DataFrame, known_keys: set[str], start: datetime, end: datetime
) -> _HourlyColumns:
    require_columns(hourly, HOURLY_COLUMNS, name="hourly usage")
    missing = sorted(set(hourly["usage_key"].unique()) - known_keys)
    if missing:
        raise InvalidInput(
            f"hourly usage names usage keys absent from the keys frame: {missing[:5]}",
            column="usage_key",
        )
    hours = utc_hours(hourly["hour"])
    outside = (hours < pd.Timestamp(start)) | (hours >= pd.Timestamp(end))
    if outside.any():
        raise InvalidInput(
            f"hour {hours[outside][0]} lies outside the dataset's [{start}, {end})",
            row=int(np.flatnonzero(outside)[0]), column="hour",
        )
    units = hourly["units"].to_numpy(dtype=np.float64)
    costs = hourly["on_demand_cost"].to_numpy(dtype=np.float64)
    for name, bad, rule in (
        ("units", ~np.isfinite(units) | (units < 0), "finite and >= 0"),
        ("on_demand_cost", ~np.isfinite(costs), "finite"),
    ):
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            value = hourly[name].iloc[row]
            raise InvalidInput(f"{name} must be {rule}, got {value}", row=row, column=name)
    return _HourlyColumns(
        hours=hours,
        usage_keys=hourly["usage_key"].astype(str).to_numpy(dtype=object),
        units=units,
        costs=costs,
    )


def add_dataset(
    session: Session,
    *,
    provider: str,
    sources: Sequence[str | Path],
    sha256: str,
    currency: str,
    start: datetime,
    end: datetime,
    rows_read: int,
    rows_used: int,
    keys: pd.DataFrame,
    hourly: pd.DataFrame,
) -> DatasetRow:
    """Store an ingested dataset: upsert its usage keys and bulk-insert its hours.

    ``keys`` has the columns ``KEY_COLUMNS`` and ``hourly`` the columns
    ``HOURLY_COLUMNS`` (``hour`` timezone-aware, inside ``[start, end)``); both are
    validated before anything is written. Content already ingested (same
    ``sha256``) raises Conflict: look it up first with ``find_dataset_by_sha``.
    Nothing is committed here; on any error the caller's transaction rolls back.
    """
    existing = find_dataset_by_sha(session, sha256)
    if existing is not None:
        raise Conflict(f"content with sha256 {sha256} was already ingested as dataset "
                       f"{existing.id}")
    require_columns(keys, KEY_COLUMNS, name="usage keys")
    columns = _validated_hourly(hourly, {str(key) for key in keys["usage_key"]}, start, end)

    key_ids = upsert_usage_keys(
        session, cast(list[dict[str, Any]], keys[list(KEY_COLUMNS)].to_dict("records"))
    )
    dataset = DatasetRow(
        provider=provider,
        sources=[str(source) for source in sources],
        sha256=sha256,
        currency=currency,
        start=start,
        end=end,
        rows_read=int(rows_read),
        rows_used=int(rows_used),
    )
    session.add(dataset)
    session.flush()
    if len(columns.hours):
        insert_usage_hours(session, dataset.id, key_ids, columns)
    return dataset


_PG_EPOCH_US = 946_684_800_000_000
"""PostgreSQL's timestamp epoch (2000-01-01 UTC) in microseconds after the Unix epoch."""

_SQLITE_HOUR_FORMAT = "%Y-%m-%d %H:%M:%S.%f"
"""How SQLAlchemy's SQLite dialect writes a DATETIME (naive UTC, see ``UTCDateTime``)."""


def insert_usage_hours(session: Session, dataset_id: int, key_ids: Mapping[str, int],
                       columns: _HourlyColumns) -> None:
    """Bulk-load a dataset's hourly rows in the caller's transaction.

    PostgreSQL takes them as one binary ``COPY``, SQLite as one ``executemany`` on the
    driver's cursor, in primary-key order (appends to the key's B-tree); any other database
    goes through SQLAlchemy's multi-row insert (:func:`insert_usage_hours_generic`, which also
    defines what the fast paths must store). Rows are the same in every case.
    """
    codes, names = pd.factorize(columns.usage_keys)
    ids = np.asarray([key_ids[str(name)] for name in names], dtype=np.int64)[codes]
    micros = columns.hours.asi8
    order = np.lexsort((micros, ids))
    dialect = session.get_bind().dialect
    try:
        if dialect.name == "postgresql":
            _copy_hours(session, dataset_id, ids[order], micros[order], columns.units[order],
                        columns.costs[order])
        elif dialect.name == "sqlite":
            _executemany_hours(session, dataset_id, ids[order], columns.hours[order],
                               columns.units[order], columns.costs[order])
        else:
            insert_usage_hours_generic(session, dataset_id, key_ids, columns)
            return
    except dialect.loaded_dbapi.Error as exc:
        # The driver's own error, raised as SQLAlchemy's (IntegrityError for a duplicate hour),
        # as the same insert through SQLAlchemy would.
        raise DBAPIError.instance("INSERT INTO usage_hours", None, exc,
                                  dialect.loaded_dbapi.Error) from exc


def insert_usage_hours_generic(session: Session, dataset_id: int, key_ids: Mapping[str, int],
                               columns: _HourlyColumns) -> None:
    """The hourly rows through SQLAlchemy's ``insert()`` (types processed row by row)."""
    session.execute(
        insert(USAGE_HOURS),
        [
            {"dataset_id": dataset_id, "usage_key_id": key_ids[str(key)], "hour": hour,
             "units": units, "on_demand_cost": cost}
            for key, hour, units, cost in zip(
                columns.usage_keys, columns.hours.to_pydatetime(), columns.units.tolist(),
                columns.costs.tolist(), strict=True)
        ],
    )


def _copy_hours(session: Session, dataset_id: int, ids: npt.NDArray[np.int64],
                micros: npt.NDArray[np.int64], units: npt.NDArray[np.float64],
                costs: npt.NDArray[np.float64]) -> None:
    """PostgreSQL: the rows as one ``COPY ... (FORMAT BINARY)`` built with numpy.

    Each binary row is a field count then, per field, its byte length and big-endian value:
    two int4 ids, a timestamptz (int8 microseconds after 2000-01-01) and two float8.
    """
    row = np.dtype([
        ("fields", ">i2"),
        ("dataset_len", ">i4"), ("dataset_id", ">i4"),
        ("key_len", ">i4"), ("usage_key_id", ">i4"),
        ("hour_len", ">i4"), ("hour", ">i8"),
        ("units_len", ">i4"), ("units", ">f8"),
        ("cost_len", ">i4"), ("on_demand_cost", ">f8"),
    ])
    rows = np.empty(len(ids), dtype=row)
    rows["fields"] = 5
    rows["dataset_len"], rows["key_len"], rows["hour_len"] = 4, 4, 8
    rows["units_len"], rows["cost_len"] = 8, 8
    rows["dataset_id"] = dataset_id
    rows["usage_key_id"] = ids
    rows["hour"] = micros - _PG_EPOCH_US
    rows["units"] = units
    rows["on_demand_cost"] = costs
    header = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
    trailer = (-1).to_bytes(2, "big", signed=True)
    driver = session.connection().connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor, cursor.copy(
        "COPY usage_hours (dataset_id, usage_key_id, hour, units, on_demand_cost) "
        "FROM STDIN (FORMAT BINARY)"
    ) as copy:
        copy.write(header)
        step = 1 << 18  # rows per write: about 14 MiB
        for offset in range(0, len(rows), step):
            copy.write(rows[offset : offset + step].tobytes())
        copy.write(trailer)


def _executemany_hours(session: Session, dataset_id: int, ids: npt.NDArray[np.int64],
                       hours: pd.DatetimeIndex, units: npt.NDArray[np.float64],
                       costs: npt.NDArray[np.float64]) -> None:
    """SQLite: the rows as one ``executemany`` on the driver's cursor, hours as SQLAlchemy
    writes them (each distinct hour formatted once)."""
    codes, distinct = pd.factorize(hours)
    naive = pd.DatetimeIndex(distinct).tz_convert("UTC").tz_localize(None)
    texts = np.asarray(naive.strftime(_SQLITE_HOUR_FORMAT), dtype=np.object_)
    driver = session.connection().connection.driver_connection
    assert driver is not None
    cursor = driver.cursor()
    try:
        cursor.executemany(
            "INSERT INTO usage_hours (dataset_id, usage_key_id, hour, units, on_demand_cost) "
            "VALUES (?, ?, ?, ?, ?)",
            zip(itertools.repeat(dataset_id), ids.tolist(), texts[codes].tolist(),
                units.tolist(), costs.tolist()),
        )
    finally:
        cursor.close()


def load_usage(
    session: Session,
    dataset_id: int,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
) -> pd.DataFrame:
    """A dataset's usage in ``[start, end)``: columns ``HOURLY_COLUMNS``, by hour then key.

    ``hour`` is ``datetime64[us, UTC]``; ``usage_key`` is a string column.
    """
    stmt = (
        select(UsageHour.hour, UsageKeyRow.usage_key, UsageHour.units, UsageHour.on_demand_cost)
        .join(UsageKeyRow, UsageKeyRow.id == UsageHour.usage_key_id)
        .where(UsageHour.dataset_id == dataset_id)
    )
    if start is not None:
        stmt = stmt.where(UsageHour.hour >= start)
    if end is not None:
        stmt = stmt.where(UsageHour.hour < end)
    rows = session.execute(stmt).all()
    if not rows:
        return empty_usage()
    hours, usage_keys, units, costs = zip(*rows, strict=True)
    frame = pd.DataFrame(
        {
            "hour": pd.DatetimeIndex(hours).tz_convert("UTC").as_unit("us"),
            "usage_key": pd.Series(usage_keys, dtype="str"),
            "units": np.asarray(units, dtype=np.float64),
            "on_demand_cost": np.asarray(costs, dtype=np.float64),
        }
    )
    frame["hour"] = frame["hour"].astype(HOUR_DTYPE)
    # Sorted here, not in SQL: PostgreSQL collations would order keys unlike SQLite.
    return frame.sort_values(["hour", "usage_key"], kind="stable", ignore_index=True)


# --- catalogs and offerings -------------------------------------------------------------


def _offering_values(offering: Offering) -> dict[str, Any]:
    return {
        "shape": str(offering.shape),
        "term_hours": offering.term_hours,
        "payment_option": str(offering.payment_option),
        "kind": offering.kind,
        "upfront": offering.upfront,
        "hourly": offering.hourly,
        "application_order": offering.order,
        "covers": dict(offering.covers),
        "rates": dict(offering.rates),
        "description": offering.description,
    }


def _offering_from_row(row: OfferingRow) -> Offering:
    return Offering(
        offering_id=row.offering_id,
        shape=Shape(row.shape),
        term_hours=row.term_hours,
        upfront=row.upfront,
        hourly=row.hourly,
        order=row.application_order,
        covers=row.covers,
        rates=row.rates,
        payment_option=PaymentOption(row.payment_option),
        kind=row.kind,
        description=row.description,
    )


def _offering_rows(session: Session, provider: str) -> dict[str, OfferingRow]:
    stmt = select(OfferingRow).where(OfferingRow.provider == provider)
    return {row.offering_id: row for row in session.scalars(stmt)}


def upsert_catalog(session: Session, provider: str, catalog: Catalog) -> None:
    """Make ``catalog`` the provider's current catalog.

    Keys and their order are replaced; offerings are updated in place, and those
    no longer in the catalog are unlisted (commitments may still refer to them).
    """
    key_ids = upsert_usage_keys(
        session, [_key_row(k.usage_key, provider, k.on_demand_rate) for k in catalog.keys]
    )
    catalog_row = session.scalar(select(CatalogRow).where(CatalogRow.provider == provider))
    if catalog_row is None:
        catalog_row = CatalogRow(provider=provider, currency=catalog.currency,
                                 source=catalog.source)
        session.add(catalog_row)
    else:
        catalog_row.currency = catalog.currency
        catalog_row.source = catalog.source
    session.flush()
    session.execute(delete(CATALOG_KEYS).where(CATALOG_KEYS.c.catalog_id == catalog_row.id))
    if catalog.keys:
        session.execute(
            insert(CATALOG_KEYS),
            [
                {"catalog_id": catalog_row.id, "usage_key_id": key_ids[key.usage_key],
                 "position": position, "on_demand_rate": key.on_demand_rate}
                for position, key in enumerate(catalog.keys)
            ],
        )

    rows = _offering_rows(session, provider)
    listed = {offering.offering_id for offering in catalog.offerings}
    for row in rows.values():
        if row.offering_id not in listed:
            row.listed, row.position = False, None
    for position, offering in enumerate(catalog.offerings):
        values = _offering_values(offering) | {"listed": True, "position": position}
        known = rows.get(offering.offering_id)
        if known is None:
            session.add(OfferingRow(provider=provider, offering_id=offering.offering_id,
                                    **values))
            continue
        for name, value in values.items():
            if getattr(known, name) != value:
                setattr(known, name, value)
    session.flush()


def load_catalog(session: Session, provider: str) -> Catalog | None:
    """The provider's current catalog as stored by ``upsert_catalog``, or None."""
    catalog_row = session.scalar(select(CatalogRow).where(CatalogRow.provider == provider))
    if catalog_row is None:
        return None
    key_stmt = (
        select(UsageKeyRow.usage_key, CatalogKeyRow.on_demand_rate)
        .join(CatalogKeyRow, CatalogKeyRow.usage_key_id == UsageKeyRow.id)
        .where(CatalogKeyRow.catalog_id == catalog_row.id)
        .order_by(CatalogKeyRow.position)
    )
    offering_stmt = (
        select(OfferingRow)
        .where(OfferingRow.provider == provider, OfferingRow.listed.is_(True))
        .order_by(OfferingRow.position)
    )
    return Catalog(
        keys=tuple(KeyPrice(key, rate) for key, rate in session.execute(key_stmt)),
        offerings=tuple(_offering_from_row(row) for row in session.scalars(offering_stmt)),
        currency=catalog_row.currency,
        source=catalog_row.source,
    )


# --- commitments ------------------------------------------------------------------------


def replace_inventory(
    session: Session, provider: str, commitments: Sequence[Commitment]
) -> None:
    """Replace the provider's inventory commitments with ``commitments``.

    Offerings that the database does not know yet are stored unlisted. A
    commitment recorded from a plan is dropped once the inventory lists its id.
    """
    offerings = _offering_rows(session, provider)
    for commitment in commitments:
        offering = commitment.offering
        if offering.offering_id not in offerings:
            row = OfferingRow(provider=provider, offering_id=offering.offering_id,
                              listed=False, position=None, **_offering_values(offering))
            session.add(row)
            offerings[offering.offering_id] = row
    session.flush()

    reported = [c.commitment_id for c in commitments if c.commitment_id]
    session.execute(
        delete(CommitmentRow).where(
            CommitmentRow.provider == provider, CommitmentRow.source == "inventory"
        )
    )
    for chunk in _chunks(reported):
        session.execute(
            delete(CommitmentRow).where(
                CommitmentRow.provider == provider, CommitmentRow.commitment_id.in_(chunk)
            )
        )
    session.add_all(
        CommitmentRow(
            provider=provider,
            commitment_id=commitment.commitment_id or None,
            offering_pk=offerings[commitment.offering.offering_id].id,
            quantity=commitment.quantity,
            start_at=commitment.start,
            end_at=commitment.end,
            source="inventory",
        )
        for commitment in commitments
    )
    session.flush()


@dataclass(frozen=True, slots=True)
class CommitmentFilter:
    """Which commitments a list asks for; None leaves a dimension open."""

    provider: str | None = None
    source: str | None = None
    shape: str | None = None
    offering_id: str | None = None
    active_at: datetime | None = None
    ending_before: datetime | None = None

    def clauses(self) -> list[Any]:
        """The WHERE clauses of the filter (on commitments joined to their offerings)."""
        pairs = ((CommitmentRow.provider, self.provider), (CommitmentRow.source, self.source),
                 (OfferingRow.shape, self.shape), (OfferingRow.offering_id, self.offering_id))
        clauses: list[Any] = [column == value for column, value in pairs if value is not None]
        if self.active_at is not None:
            clauses += [CommitmentRow.start_at <= self.active_at,
                        CommitmentRow.end_at > self.active_at]
        if self.ending_before is not None:
            clauses.append(CommitmentRow.end_at <= self.ending_before)
        return clauses


def select_commitments(where: CommitmentFilter, *, by_end: bool = False) -> Select[Any]:
    """The query of the commitments matching ``where``, by start (or by end when ``by_end``).

    The one query behind every list of owned commitments: the domain list below
    and the API's pages (``api.commitments.repository``) both run it.
    """
    order = CommitmentRow.end_at if by_end else CommitmentRow.start_at
    return (select(CommitmentRow).join(CommitmentRow.offering)
            .where(*where.clauses()).order_by(order, CommitmentRow.id))


def list_commitments(
    session: Session, provider: str, active_at: datetime | None = None
) -> list[Commitment]:
    """The provider's commitments (all, or those active at ``active_at``), by start."""
    rows = session.scalars(select_commitments(
        CommitmentFilter(provider=provider, active_at=active_at)))
    return [
        Commitment(
            offering=_offering_from_row(row.offering),
            quantity=row.quantity,
            start=row.start_at,
            commitment_id=row.commitment_id or "",
            ended_at=row.end_at if row.source == "ended" else None,
        )
        for row in rows
    ]


# --- plans ------------------------------------------------------------------------------


_PLAN_FIELDS = (
    "window_start", "window_hours", "on_demand_equivalent", "cost_before", "cost_after",
    "esr_before", "esr_after", "upfront_cash", "monthly_commitment", "solver_status",
)
"""Fields a plan and its row share (the row also keeps ``expected_savings``)."""

_ACTION_FIELDS = (
    "offering_id", "quantity", "upfront_cost", "hourly_cost", "amortized_hourly_cost", "reason",
    "target_quantity", "cash_effect",
)
"""Fields an action and its row share (besides ``kind`` and the optional ids)."""
_ACTION_OPTIONAL_IDS = ("commitment_id", "target_offering_id")
"""Ids an action leaves empty ("") when they do not apply, stored as null."""


def _action_row_values(action: Action) -> dict[str, Any]:
    return ({name: getattr(action, name) for name in _ACTION_FIELDS}
            | {name: getattr(action, name) or None for name in _ACTION_OPTIONAL_IDS})


def action_from_row(row: ActionRow) -> Action:
    """The domain action of a stored action."""
    values: dict[str, Any] = {name: getattr(row, name) for name in _ACTION_FIELDS}
    values.update({name: getattr(row, name) or "" for name in _ACTION_OPTIONAL_IDS})
    return Action(kind=ActionKind(row.kind), **values)


def plan_from_row(row: PlanRow) -> Plan:
    """The domain plan of a stored plan, its actions in order."""
    return Plan(
        actions=tuple(action_from_row(action) for action in row.actions),
        created_at=row.created_at,
        **{name: getattr(row, name) for name in _PLAN_FIELDS},
    )


def add_plan(
    session: Session,
    *,
    provider: str,
    dataset_id: int | None,
    plan: Plan,
    build_seconds: float,
    solve_seconds: float,
    details: Mapping[str, Any] | None = None,
    status: str = PlanStatus.PROPOSED,
) -> int:
    """Store a plan and its actions (in order); return the plan's id.

    ``details`` must be JSON-serialisable; ``created_at`` is the plan's own, or now.
    """
    row = PlanRow(
        provider=provider,
        status=status,
        dataset_id=dataset_id,
        expected_savings=plan.expected_savings,
        build_seconds=float(build_seconds),
        solve_seconds=float(solve_seconds),
        details=dict(details or {}),
        actions=[
            ActionRow(position=position, kind=str(action.kind), **_action_row_values(action))
            for position, action in enumerate(plan.actions)
        ],
        **{name: getattr(plan, name) for name in _PLAN_FIELDS},
    )
    if plan.created_at is not None:
        row.created_at = plan.created_at
    session.add(row)
    session.flush()
    return row.id


def get_plan(session: Session, plan_id: int) -> PlanRow | None:
    """The plan with this id, its actions loaded (usable after the session closes), or None."""
    return session.get(PlanRow, plan_id, options=[selectinload(PlanRow.actions)])


@dataclass(frozen=True, slots=True)
class PlanFilter:
    """Which plans a list asks for; None leaves a dimension open."""

    provider: str | None = None
    scope: str | None = None
    status: str | None = None
    created_from: datetime | None = None
    created_before: datetime | None = None

    def clauses(self) -> list[Any]:
        """The WHERE clauses of the filter."""
        pairs = ((PlanRow.provider, self.provider), (PlanRow.scope, self.scope),
                 (PlanRow.status, self.status))
        clauses: list[Any] = [column == value for column, value in pairs if value is not None]
        if self.created_from is not None:
            clauses.append(PlanRow.created_at >= self.created_from)
        if self.created_before is not None:
            clauses.append(PlanRow.created_at < self.created_before)
        return clauses


def select_plans(where: PlanFilter) -> Select[Any]:
    """The query of the plans matching ``where``, the newest first (ties by id), actions loaded.

    The one query behind every list of plans: ``list_plans`` below and the API's
    pages (``api.plans.repository``) both run it.
    """
    return (select(PlanRow).where(*where.clauses())
            .options(selectinload(PlanRow.actions))
            .order_by(PlanRow.created_at.desc(), PlanRow.id.desc()))


def list_plans(
    session: Session,
    *,
    provider: str | None = None,
    status: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[PlanRow]:
    """Plans, the newest first (ties by id), their actions loaded."""
    stmt = select_plans(PlanFilter(provider=provider, status=status))
    return list(session.scalars(stmt.limit(limit).offset(offset)))


def count_plans(session: Session, *, provider: str | None = None) -> int:
    """How many plans are stored (for the provider), for pagination."""
    stmt = select(func.count()).select_from(PlanRow).where(
        *PlanFilter(provider=provider).clauses())
    return int(session.scalar(stmt) or 0)
