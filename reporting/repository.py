"""Queries of the reporting tables, in SQLAlchemy 2 style; they ``flush``, never ``commit``.

Large frames (daily facts, cost lines) are written with ``bulk_insert``: a
PostgreSQL ``COPY`` when the session is on PostgreSQL, a Core ``executemany``
elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

import numpy as np
import pandas as pd
from sqlalchemy import ColumnElement, Table, delete, func, select
from sqlalchemy.orm import Session

from core.db.bulk import bulk_insert, usage_key_ids
from core.db.models import ActionRow, CommitmentRow, DatasetRow, PlanRow, UsageKeyRow
from core.db.reporting_models import (
    BudgetRow,
    FocusCostLineRow,
    ReportAllocationRow,
    ReportCommitmentDayRow,
    ReportCommitmentRow,
    ReportKeyDayRow,
    ReportSnapshotRow,
)
from core.db.repository import upsert_usage_keys
from core.domain import ActionKind
from core.errors import InvalidInput

COST_LINE_COLUMNS = (
    "day", "usage_key", "tags", "commitment_discount_id", "units", "list_cost", "billed_cost",
    "effective_cost", "contracted_cost",
)
"""Columns of the cost-line frame ``add_cost_lines`` takes (``providers.focus.costs``); it
may also hold ``billing_period`` (the invoice's first day) and ``charge_start_day`` (the UTC
day the rows' charge periods start on), each null when unknown."""

_BATCH = 5000


def _table(model: type[Any]) -> Table:
    return cast(Table, model.__table__)


# --- FOCUS cost lines -------------------------------------------------------------------


def add_cost_lines(session: Session, dataset_id: int, lines: pd.DataFrame, *,
                   provider: str) -> int:
    """Store a dataset's daily FOCUS cost lines (``COST_LINE_COLUMNS``); return the rows.

    Usage keys unknown to the database are added (with the provider) first.
    """
    missing = [c for c in COST_LINE_COLUMNS if c not in lines.columns]
    if missing:
        raise InvalidInput(f"the cost-line frame has no {missing[0]!r} column",
                           column=missing[0])
    if lines.empty:
        return 0
    names = [str(k) for k in lines["usage_key"].unique()]
    ids = usage_key_ids(session, names)
    unknown = [n for n in names if n not in ids]
    if unknown:
        ids.update(upsert_usage_keys(session, [{"usage_key": n, "provider": provider}
                                               for n in unknown]))
    frame = pd.DataFrame({
        "dataset_id": dataset_id,
        "usage_key_id": lines["usage_key"].map(ids).astype(np.int64),
        "day": lines["day"],
        "tags": lines["tags"].fillna("{}").astype(str),
        "commitment_discount_id": lines["commitment_discount_id"].astype(object).where(
            lines["commitment_discount_id"].notna(), None),
        "units": lines["units"].astype(np.float64),
        "list_cost": lines["list_cost"].astype(np.float64),
        "billed_cost": lines["billed_cost"].astype(np.float64),
        "effective_cost": lines["effective_cost"].astype(np.float64),
        "contracted_cost": lines["contracted_cost"].astype(np.float64),
        **{column: (lines[column].astype(object).where(lines[column].notna(), None)
                    if column in lines.columns else None)
           for column in ("billing_period", "charge_start_day")},
    })
    written = bulk_insert(session, _table(FocusCostLineRow), frame)
    session.flush()
    return written


def load_cost_lines(session: Session, dataset_id: int) -> pd.DataFrame:
    """A dataset's cost lines with ``usage_key_id`` (not the key's string), ``day`` as date,
    the ``billing_period`` each is on and the ``charge_start_day`` of its rows (dates or
    None)."""
    table = _table(FocusCostLineRow)
    stmt = select(table.c.day, table.c.usage_key_id, table.c.tags,
                  table.c.commitment_discount_id, table.c.units, table.c.list_cost,
                  table.c.billed_cost, table.c.effective_cost, table.c.contracted_cost,
                  table.c.billing_period, table.c.charge_start_day).where(
        table.c.dataset_id == dataset_id)
    rows = session.execute(stmt).all()
    columns = ["day", "usage_key_id", "tags", "commitment_discount_id", "units", "list_cost",
               "billed_cost", "effective_cost", "contracted_cost", "billing_period",
               "charge_start_day"]
    frame = pd.DataFrame(rows, columns=columns)
    for column in columns[4:9]:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(np.float64)
    return frame


# --- snapshots --------------------------------------------------------------------------


def _newest(provider: str | None) -> ColumnElement[bool]:
    newest = select(func.max(ReportSnapshotRow.id)).group_by(ReportSnapshotRow.provider)
    if provider is not None:
        newest = newest.where(ReportSnapshotRow.provider == provider)
    return ReportSnapshotRow.id.in_(newest.scalar_subquery())


def latest_snapshots(session: Session, provider: str | None = None) -> list[ReportSnapshotRow]:
    """The newest snapshot of each provider (or of one), by provider."""
    stmt = (select(ReportSnapshotRow).where(_newest(provider))
            .order_by(ReportSnapshotRow.provider))
    return list(session.scalars(stmt))


def latest_snapshot_tokens(session: Session, provider: str | None = None
                           ) -> list[tuple[int, str]]:
    """(id, token) of the newest snapshot of each provider (or of one), by provider.

    What a report checks on every request (a cached snapshot is keyed by its
    token): two columns, no ORM objects.
    """
    stmt = (select(ReportSnapshotRow.id, ReportSnapshotRow.token).where(_newest(provider))
            .order_by(ReportSnapshotRow.provider))
    return [(row.id, row.token) for row in session.execute(stmt)]


def snapshots_by_id(session: Session, ids: Sequence[int]) -> list[ReportSnapshotRow]:
    """Snapshots by id, by provider."""
    stmt = (select(ReportSnapshotRow).where(ReportSnapshotRow.id.in_(list(ids)))
            .order_by(ReportSnapshotRow.provider))
    return list(session.scalars(stmt))


def get_snapshot(session: Session, snapshot_id: int) -> ReportSnapshotRow | None:
    """The snapshot with this id, or None."""
    return session.get(ReportSnapshotRow, snapshot_id)


def delete_snapshots(session: Session, provider: str, *, keep: int) -> int:
    """Delete the provider's snapshots but the ``keep`` newest; return how many went."""
    ids = list(session.scalars(
        select(ReportSnapshotRow.id).where(ReportSnapshotRow.provider == provider)
        .order_by(ReportSnapshotRow.id.desc()).offset(keep)))
    for model in (ReportAllocationRow, ReportCommitmentDayRow, ReportKeyDayRow,
                  ReportCommitmentRow):
        table = _table(model)
        session.execute(delete(table).where(table.c.snapshot_id.in_(ids)))
    session.execute(delete(ReportSnapshotRow).where(ReportSnapshotRow.id.in_(ids)))
    session.flush()
    return len(ids)


def _frame(session: Session, model: type[Any], snapshot_id: int,
           columns: Sequence[str]) -> pd.DataFrame:
    table = _table(model)
    stmt = select(*(table.c[c] for c in columns)).where(table.c.snapshot_id == snapshot_id)
    return pd.DataFrame(session.execute(stmt).all(), columns=list(columns))


def load_focus_sums(session: Session, dataset_id: int) -> pd.DataFrame:
    """A dataset's FOCUS costs summed per (day, usage key), with counts of known costs."""
    table = _table(FocusCostLineRow)
    stmt = (select(table.c.day, table.c.usage_key_id, func.sum(table.c.billed_cost),
                   func.sum(table.c.contracted_cost), func.sum(table.c.effective_cost),
                   func.count(table.c.contracted_cost), func.count(table.c.effective_cost),
                   func.count())
            .where(table.c.dataset_id == dataset_id)
            .group_by(table.c.day, table.c.usage_key_id))
    columns = ["day", "usage_key_id", "billed_cost", "contracted_cost", "effective_cost",
               "contracted_known", "effective_known", "billed_known"]
    frame = pd.DataFrame(session.execute(stmt).all(), columns=columns)
    for column in columns[2:]:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(np.float64)
    return frame


def load_snapshot_frames(session: Session, snapshot_id: int) -> dict[str, pd.DataFrame]:
    """The snapshot's commitments, key-days and commitment-days as frames (allocations apart)."""
    commitments = _frame(session, ReportCommitmentRow, snapshot_id, (
        "position", "commitment_id", "offering_id", "shape", "kind", "payment_option",
        "term_hours", "quantity", "upfront", "hourly", "start_at", "end_at"))
    key_days = _frame(session, ReportKeyDayRow, snapshot_id, (
        "day", "usage_key_id", "units", "on_demand_equivalent", "covered_on_demand",
        "on_demand_cost", "commitment_used_cost", "commitment_unused_cost"))
    commitment_days = _frame(session, ReportCommitmentDayRow, snapshot_id, (
        "day", "position", "active_hours", "quantity_hours", "used_quantity_hours",
        "commitment_cost", "used_cost", "covered_units", "covered_on_demand",
        "unallocated_cost"))
    return {"commitments": commitments, "key_days": key_days,
            "commitment_days": commitment_days}


def load_allocations(session: Session, snapshot_id: int) -> pd.DataFrame:
    """The snapshot's (day, key, commitment) allocation rows."""
    return _frame(session, ReportAllocationRow, snapshot_id, (
        "day", "usage_key_id", "position", "covered_units", "covered_on_demand", "used_cost",
        "unused_cost"))


def load_keys(session: Session, key_ids: Sequence[int]) -> pd.DataFrame:
    """Usage keys by id: ``usage_key_id``, ``usage_key``, provider, account, service, region."""
    rows: list[Any] = []
    ids = sorted({int(k) for k in key_ids})
    for index in range(0, len(ids), 500):
        stmt = select(UsageKeyRow.id, UsageKeyRow.usage_key, UsageKeyRow.provider,
                      UsageKeyRow.scope, UsageKeyRow.service, UsageKeyRow.region).where(
            UsageKeyRow.id.in_(ids[index:index + 500]))
        rows.extend(session.execute(stmt).all())
    frame = pd.DataFrame(rows, columns=["usage_key_id", "usage_key", "provider", "account",
                                        "service", "region"])
    for column in ("account", "service", "region"):
        frame[column] = frame[column].fillna("(unknown)")
    return frame


def dataset_for(session: Session, provider: str, dataset_id: int | None) -> DatasetRow:
    """The dataset asked for, or the provider's latest; InvalidInput when there is none."""
    if dataset_id is not None:
        dataset = session.get(DatasetRow, dataset_id)
        if dataset is None or dataset.provider != provider:
            raise InvalidInput(f"dataset {dataset_id} of provider {provider!r} does not exist",
                               column="dataset_id")
        return dataset
    stmt = (select(DatasetRow).where(DatasetRow.provider == provider)
            .order_by(DatasetRow.ingested_at.desc(), DatasetRow.id.desc()).limit(1))
    dataset = session.scalar(stmt)
    if dataset is None:
        raise InvalidInput(f"provider {provider!r} has no ingested dataset to report on",
                           column="provider")
    return dataset


def commitment_providers(session: Session, provider: str | None = None) -> list[str]:
    """Providers with stored commitments (or just ``provider``)."""
    if provider is not None:
        return [provider]
    stmt = select(CommitmentRow.provider).distinct().order_by(CommitmentRow.provider)
    return list(session.scalars(stmt))


def data_currencies(session: Session, provider: str | None = None) -> dict[str, str]:
    """The currency of each provider's latest dataset (or of ``provider``'s), by provider."""
    newest = (select(func.max(DatasetRow.id)).group_by(DatasetRow.provider))
    if provider is not None:
        newest = newest.where(DatasetRow.provider == provider)
    stmt = (select(DatasetRow.provider, DatasetRow.currency)
            .where(DatasetRow.id.in_(newest.scalar_subquery())).order_by(DatasetRow.provider))
    return {name: currency for name, currency in session.execute(stmt)}


def newest_commitments(session: Session, providers: Sequence[str]
                       ) -> dict[str, tuple[datetime, str]]:
    """Per provider, the start and id of its newest stored commitment (by start)."""
    found: dict[str, tuple[datetime, str]] = {}
    for name in providers:
        row = session.execute(
            select(CommitmentRow.start_at, CommitmentRow.commitment_id)
            .where(CommitmentRow.provider == name)
            .order_by(CommitmentRow.start_at.desc(), CommitmentRow.id.desc()).limit(1)).first()
        if row is not None:
            start = row.start_at if row.start_at.tzinfo else row.start_at.replace(tzinfo=UTC)
            found[name] = (start, row.commitment_id or "")
    return found


# --- budgets ----------------------------------------------------------------------------


def budget_rows(session: Session, *, provider: str | None = None, limit: int = 50,
                offset: int = 0) -> list[BudgetRow]:
    """Budgets by name (those of one provider, or all)."""
    stmt = select(BudgetRow).order_by(BudgetRow.name, BudgetRow.id).limit(limit).offset(offset)
    if provider is not None:
        stmt = stmt.where(BudgetRow.provider == provider)
    return list(session.scalars(stmt))


def count_budget_rows(session: Session, *, provider: str | None = None) -> int:
    """How many budgets there are (of one provider, or all)."""
    stmt = select(func.count()).select_from(BudgetRow)
    if provider is not None:
        stmt = stmt.where(BudgetRow.provider == provider)
    return int(session.scalar(stmt) or 0)


def budget_by_name(session: Session, name: str) -> BudgetRow | None:
    """The budget with this name, or None."""
    return session.scalar(select(BudgetRow).where(BudgetRow.name == name))


def exchange_cash(session: Session, provider: str | None = None
                  ) -> dict[tuple[str, str], float]:
    """Cash paid for each commitment received in an exchange, by (provider, commitment id).

    The cash of an exchange is its true-up (the executor's ``cash_effect`` of the
    done action, checked against the provider's quote), not the received
    offering's list upfront; an exchange that received several ids paid its
    true-up once, shared evenly between them (as their quantity is).
    """
    stmt = (select(PlanRow.provider, ActionRow.commitment_ids, ActionRow.cash_effect)
            .join(PlanRow, ActionRow.plan_id == PlanRow.id)
            .where(ActionRow.kind == ActionKind.EXCHANGE.value, ActionRow.status == "done"))
    if provider is not None:
        stmt = stmt.where(PlanRow.provider == provider)
    paid: dict[tuple[str, str], float] = {}
    for name, ids, cash in session.execute(stmt):
        received = [str(i) for i in ids or () if i]
        for commitment_id in received:
            paid[(name, commitment_id)] = float(cash or 0.0) / len(received)
    return paid


__all__ = [
    "COST_LINE_COLUMNS",
    "add_cost_lines",
    "budget_by_name",
    "budget_rows",
    "bulk_insert",
    "commitment_providers",
    "count_budget_rows",
    "data_currencies",
    "dataset_for",
    "delete_snapshots",
    "exchange_cash",
    "get_snapshot",
    "latest_snapshots",
    "load_allocations",
    "load_cost_lines",
    "load_focus_sums",
    "load_keys",
    "load_snapshot_frames",
    "newest_commitments",
    "usage_key_ids",
]
