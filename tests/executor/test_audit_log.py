"""The audit log: append-only, hash-chained, and every kind of tampering is detected."""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime

import pytest
from executor_factories import trigger_disabled
from sqlalchemy import Engine, delete, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from core.db.models import AuditEntryRow, AuditHeadRow
from core.db.session import session_scope
from executor import audit


def _append(session: Session, count: int, *, actor: str = "tester") -> None:
    for index in range(count):
        audit.append(session, actor=actor, event="test.event", subject=f"plan:{index}",
                     reason=f"entry {index}",
                     data={"amount": 0.1 + 0.2 * index, "at": datetime(2026, 1, 1, tzinfo=UTC),
                           "nested": {"ids": ["b", "a"], "nan": float("nan")}})


def test_a_chain_verifies_and_the_head_follows_it(session: Session) -> None:
    _append(session, 5)
    report = audit.verify(session)
    assert report.ok and report.entries == 5 and report.head_seq == 5
    entries = list(session.scalars(select(AuditEntryRow).order_by(AuditEntryRow.seq)))
    assert entries[0].prev_hash == audit.GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(entries))
    assert report.head_hash == entries[-1].hash
    # Data is stored exactly as hashed: datetimes as text, NaN as null.
    assert entries[0].data["at"] == "2026-01-01T00:00:00+00:00"
    assert entries[0].data["nested"]["nan"] is None


def test_the_database_refuses_to_update_an_entry(session: Session) -> None:
    _append(session, 1)
    with pytest.raises(DBAPIError, match="append-only"), session.begin_nested():
        session.execute(update(AuditEntryRow).values(reason="nothing happened")
                        .execution_options(synchronize_session=False))


@pytest.mark.parametrize("field", ["reason", "actor", "data"])
def test_an_altered_entry_is_detected(session: Session, field: str) -> None:
    _append(session, 4)
    value = {"reason": "nothing to see", "actor": "mallory", "data": {"amount": 0.0}}[field]
    with trigger_disabled(session.connection()):
        session.execute(update(AuditEntryRow).where(AuditEntryRow.seq == 2)
                        .values({field: value}).execution_options(synchronize_session=False))
    session.expire_all()
    report = audit.verify(session)
    assert not report.ok
    assert report.problems == ("entry 2 (test.event plan:1): its content does not match its "
                               "hash (it was altered after it was written)",)


def test_a_rehashed_entry_breaks_the_next_link(session: Session) -> None:
    _append(session, 3)
    entry = session.get(AuditEntryRow, 2)
    assert entry is not None
    forged = audit.entry_hash(seq=2, at=entry.at, actor="mallory", event=entry.event,
                              subject=entry.subject, reason=entry.reason, data=entry.data,
                              prev_hash=entry.prev_hash)
    with trigger_disabled(session.connection()):
        session.execute(update(AuditEntryRow).where(AuditEntryRow.seq == 2)
                        .values(actor="mallory", hash=forged)
                        .execution_options(synchronize_session=False))
    session.expire_all()
    problems = audit.verify(session).problems
    assert any(p.startswith("entry 3: its link does not match") for p in problems)


def test_a_removed_entry_is_detected(session: Session) -> None:
    _append(session, 4)
    session.execute(delete(AuditEntryRow).where(AuditEntryRow.seq == 2)
                    .execution_options(synchronize_session=False))
    session.expire_all()
    problems = audit.verify(session).problems
    assert "entries 2..2 are missing" in problems
    assert any(p.startswith("entry 3: its link") for p in problems)


def test_entries_removed_from_the_end_are_detected_by_the_head(session: Session) -> None:
    _append(session, 4)
    session.execute(delete(AuditEntryRow).where(AuditEntryRow.seq >= 3)
                    .execution_options(synchronize_session=False))
    session.expire_all()
    problems = audit.verify(session).problems
    assert len(problems) == 1 and problems[0].startswith("the head says the log ends at entry 4")


def test_appends_from_concurrent_writers_make_one_chain(engine: Engine, db_url: str) -> None:
    errors: list[BaseException] = []

    def writer(name: str) -> None:
        try:
            for _ in range(8):
                with session_scope(engine) as session:
                    _append(session, 1, actor=name)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(f"writer-{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    report = audit.verify_database(engine)
    assert report.ok, report.problems
    assert report.entries == 32
    with session_scope(engine) as session:
        assert session.scalar(select(AuditHeadRow.seq)) == 32


def test_a_missing_head_row_is_recreated(engine: Engine, db_url: str) -> None:
    with session_scope(engine) as session:
        session.execute(delete(AuditHeadRow))
    with session_scope(engine) as session:
        _append(session, 2)
    assert audit.verify_database(engine).ok
