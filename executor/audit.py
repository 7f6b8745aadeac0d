"""The audit log: append-only, every entry chained to the one before by its hash.

Each entry says who (``actor``), what (``event``, ``subject``, ``data``), when
(``at``) and why (``reason``). Its ``hash`` is the SHA-256 of those fields and of
the previous entry's hash, so altering, inserting or removing an entry breaks
every hash after it; the ``audit_head`` row holds the last ``seq`` and hash, so
removing entries from the end shows too. The database refuses UPDATEs of the log
(a trigger, see migration 0002). Truncating the log *and* the head together
can only be caught against a copy of the head kept elsewhere: ``ladder audit
verify`` prints it for that.

Appends are serialised by a row lock on ``audit_head`` taken first in every
transaction that writes (:func:`lock_chain`): concurrent processes queue, and
the chain never forks.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from core.db.models import AuditEntryRow, AuditHeadRow, utc_now

GENESIS_HASH = "0" * 64
"""The ``prev_hash`` of the first entry."""
HEAD_ID = 1
_LOCKED = "ladder.audit_chain_locked"
_MAX_PROBLEMS = 20


def _clean(value: Any) -> Any:
    """A JSON-ready copy: datetimes as ISO strings, enums as values, NaN and inf as None."""
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return [_clean(v) for v in items]
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, Enum):
        return _clean(value.value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def canonical(data: Mapping[str, Any] | None) -> dict[str, Any]:
    """The entry data exactly as it is stored and hashed (a JSON round trip)."""
    cleaned = _clean(dict(data or {}))
    result: dict[str, Any] = json.loads(json.dumps(cleaned, allow_nan=False))
    return result


def entry_hash(
    *, seq: int, at: datetime, actor: str, event: str, subject: str, reason: str,
    data: Mapping[str, Any], prev_hash: str,
) -> str:
    """SHA-256 of an entry's fields and the previous entry's hash, over canonical JSON."""
    payload = json.dumps(
        [seq, at.astimezone(UTC).isoformat(), actor, event, subject, reason, data, prev_hash],
        sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _insert_head(session: Session) -> None:
    """Create the head row if it is missing (an emptied database); a no-op otherwise."""
    dialect = session.get_bind().dialect.name
    values = {"id": HEAD_ID, "seq": 0, "hash": GENESIS_HASH}
    if dialect == "postgresql":
        session.execute(pg_insert(AuditHeadRow).values(values).on_conflict_do_nothing())
    elif dialect == "sqlite":
        session.execute(sqlite_insert(AuditHeadRow).values(values).on_conflict_do_nothing())
    else:  # pragma: no cover - Ladder runs on SQLite and PostgreSQL
        if session.get(AuditHeadRow, HEAD_ID) is None:
            session.execute(insert(AuditHeadRow).values(values))


def lock_chain(session: Session) -> None:
    """Lock the head of the chain for the rest of this transaction (idempotent).

    Call it before any other write of a transaction that will append, so that
    every writer takes its locks in the same order (no deadlock on PostgreSQL,
    no stale snapshot on SQLite).
    """
    transaction = session.get_transaction()
    if transaction is not None and session.info.get(_LOCKED) is transaction:
        return
    touch = (update(AuditHeadRow).where(AuditHeadRow.id == HEAD_ID)
             .values(seq=AuditHeadRow.seq).execution_options(synchronize_session=False))
    if session.execute(touch).rowcount == 0:  # type: ignore[attr-defined]
        _insert_head(session)
        session.execute(touch)
    session.info[_LOCKED] = session.get_transaction()


def append(
    session: Session,
    *,
    actor: str,
    event: str,
    subject: str,
    reason: str = "",
    data: Mapping[str, Any] | None = None,
    at: datetime | None = None,
) -> AuditEntryRow:
    """Append one entry in the caller's transaction and return it (flushed, not committed)."""
    lock_chain(session)
    seq, prev_hash = session.execute(
        select(AuditHeadRow.seq, AuditHeadRow.hash).where(AuditHeadRow.id == HEAD_ID)
    ).one()
    moment = (at or utc_now()).astimezone(UTC)
    stored = canonical(data)
    entry = AuditEntryRow(
        seq=seq + 1, at=moment, actor=actor, event=event, subject=subject, reason=reason,
        data=stored, prev_hash=prev_hash,
        hash=entry_hash(seq=seq + 1, at=moment, actor=actor, event=event, subject=subject,
                        reason=reason, data=stored, prev_hash=prev_hash),
    )
    session.add(entry)
    session.execute(
        update(AuditHeadRow).where(AuditHeadRow.id == HEAD_ID)
        .values(seq=entry.seq, hash=entry.hash).execution_options(synchronize_session=False)
    )
    session.flush()
    return entry


@dataclass(frozen=True, slots=True)
class ChainReport:
    """What :func:`verify` found: whether the chain holds, and where it does not."""

    ok: bool
    entries: int
    head_seq: int
    head_hash: str
    problems: tuple[str, ...]


def _entries(session: Session, batch: int) -> Iterator[AuditEntryRow]:
    after = 0
    while True:
        rows = list(session.scalars(
            select(AuditEntryRow).where(AuditEntryRow.seq > after)
            .order_by(AuditEntryRow.seq).limit(batch)
        ))
        if not rows:
            return
        yield from rows
        after = rows[-1].seq


def verify(session: Session, *, batch: int = 1000) -> ChainReport:
    """Recompute every hash and check each link and the head; report each break found."""
    problems: list[str] = []
    expected_seq, prev_hash, count = 1, GENESIS_HASH, 0
    for entry in _entries(session, batch):
        count += 1
        if entry.seq != expected_seq:
            problems.append(f"entries {expected_seq}..{entry.seq - 1} are missing")
        if entry.prev_hash != prev_hash:
            problems.append(
                f"entry {entry.seq}: its link does not match the hash of the entry before it "
                "(an earlier entry was altered, removed or inserted)"
            )
        recomputed = entry_hash(seq=entry.seq, at=entry.at, actor=entry.actor, event=entry.event,
                                subject=entry.subject, reason=entry.reason, data=entry.data,
                                prev_hash=entry.prev_hash)
        if recomputed != entry.hash:
            problems.append(f"entry {entry.seq} ({entry.event} {entry.subject}): its content "
                            "does not match its hash (it was altered after it was written)")
        expected_seq, prev_hash = entry.seq + 1, entry.hash
        if len(problems) >= _MAX_PROBLEMS:
            break
    head = session.execute(
        select(AuditHeadRow.seq, AuditHeadRow.hash).where(AuditHeadRow.id == HEAD_ID)
    ).one_or_none()
    head_seq, head_hash = (head[0], head[1]) if head is not None else (0, GENESIS_HASH)
    if len(problems) < _MAX_PROBLEMS and (head_seq, head_hash) != (expected_seq - 1, prev_hash):
        problems.append(
            f"the head says the log ends at entry {head_seq} (hash {head_hash[:12]}…) but it "
            f"ends at entry {expected_seq - 1} (hash {prev_hash[:12]}…): entries were removed "
            "from the end, or the head was altered"
        )
    return ChainReport(ok=not problems, entries=count, head_seq=head_seq, head_hash=head_hash,
                       problems=tuple(problems))


def verify_database(engine: Engine) -> ChainReport:
    """:func:`verify` in one snapshot of the database, so that concurrent appends do not show."""
    options: dict[str, Any] = {}
    if engine.dialect.name == "postgresql":
        options["isolation_level"] = "REPEATABLE READ"
    with engine.connect() as connection:
        connection = connection.execution_options(**options)
        with connection.begin(), Session(bind=connection) as session:
            return verify(session)


def list_entries(
    session: Session, *, subject: str | None = None, limit: int = 50, offset: int = 0
) -> list[AuditEntryRow]:
    """Entries, the newest first, optionally about one subject (``plan:12``)."""
    stmt = select(AuditEntryRow).order_by(AuditEntryRow.seq.desc()).limit(limit).offset(offset)
    if subject is not None:
        stmt = stmt.where(AuditEntryRow.subject == subject)
    return list(session.scalars(stmt))
