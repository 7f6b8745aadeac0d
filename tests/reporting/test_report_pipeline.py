"""The pipeline stores FOCUS cost lines and refreshes the reporting facts; staleness shows."""

from __future__ import annotations

from reporting_factories import COMMITMENTS, PROVIDER, store_hand_fixture
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.db.reporting_models import FocusCostLineRow, ReportSnapshotRow
from core.db.repository import replace_inventory
from core.db.session import create_engine_for, session_scope
from ladder.pipeline import ingest
from providers.sample import usage_path
from reporting import ReportQuery, Scope, refresh_facts, savings, snapshot_status


def test_ingest_stores_cost_lines_and_refreshes_the_facts(db_url: str) -> None:
    engine = create_engine_for(db_url)
    try:
        outcome = ingest(engine, usage_path(), provider="sample")
        with session_scope(engine) as session:
            lines = session.scalar(select(func.count()).select_from(FocusCostLineRow))
            assert lines == 949
            (status,) = snapshot_status(session, "sample")
            assert status.snapshot.dataset_id == outcome.dataset_id and not status.stale
            (row,) = savings(session, ReportQuery(granularity="total",  # type: ignore[arg-type]
                                                  scope=Scope(provider="sample"))).records()
            assert row["on_demand_equivalent"] == 113291.82
            assert row["realised_savings"] == 0.0  # no commitment stored yet
    finally:
        engine.dispose()


def test_a_changed_inventory_makes_the_snapshot_stale_until_refreshed(session: Session) -> None:
    store_hand_fixture(session)
    assert [s.stale for s in snapshot_status(session, PROVIDER)] == [False]
    replace_inventory(session, PROVIDER, list(COMMITMENTS[:2]))
    (status,) = snapshot_status(session, PROVIDER)
    assert status.stale and status.inventory_changed
    refresh_facts(session, PROVIDER)
    assert [s.stale for s in snapshot_status(session, PROVIDER)] == [False]


def test_refresh_keeps_the_newest_snapshots_only(session: Session) -> None:
    store_hand_fixture(session)
    for _ in range(4):
        refresh_facts(session, PROVIDER, keep=2)
    count = session.scalar(select(func.count()).select_from(ReportSnapshotRow).where(
        ReportSnapshotRow.provider == PROVIDER))
    assert count == 2
