"""Queries of the ``api_keys`` table (SQLAlchemy 2 ``select()`` style); flush, never commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from api.repository import paginate
from core.db.models import ApiKeyRow


def add_key(session: Session, *, name: str, prefix: str, hash_: str, role: str) -> ApiKeyRow:
    """Store a new key's row and return it (flushed)."""
    row = ApiKeyRow(name=name, prefix=prefix, hash=hash_, role=role)
    session.add(row)
    session.flush()
    return row


def get_key(session: Session, key_id: int) -> ApiKeyRow | None:
    """The key with this id, or None."""
    return session.get(ApiKeyRow, key_id)


@dataclass(frozen=True, slots=True)
class KeyCheck:
    """What checking a key needs of its row (read without the ORM: it runs on every request)."""

    id: int
    name: str
    hash: str
    role: str
    revoked_at: datetime | None
    last_used_at: datetime | None
    created_at: datetime


def find_by_prefix(session: Session, prefix: str) -> KeyCheck | None:
    """What checking the key whose public prefix is ``prefix`` needs, or None."""
    row = session.execute(
        select(ApiKeyRow.id, ApiKeyRow.name, ApiKeyRow.hash, ApiKeyRow.role,
               ApiKeyRow.revoked_at, ApiKeyRow.last_used_at, ApiKeyRow.created_at)
        .where(ApiKeyRow.prefix == prefix)
    ).one_or_none()
    return None if row is None else KeyCheck(*row)


def list_keys(
    session: Session, *, include_revoked: bool, limit: int, offset: int
) -> tuple[list[ApiKeyRow], int]:
    """Keys, the newest first, and how many there are in all."""
    where = [] if include_revoked else [ApiKeyRow.revoked_at.is_(None)]
    return paginate(session, select(ApiKeyRow).where(*where)
                    .order_by(ApiKeyRow.created_at.desc(), ApiKeyRow.id.desc()),
                    limit=limit, offset=offset)


def touch(session: Session, key_id: int, now: datetime, *, every: timedelta) -> None:
    """Record that the key was used at ``now``, at most once per ``every``.

    The row is locked with SKIP LOCKED on PostgreSQL: a request never waits for
    another one that is recording the same key's use.
    """
    stale = or_(ApiKeyRow.last_used_at.is_(None), ApiKeyRow.last_used_at < now - every)
    locked = session.scalar(
        select(ApiKeyRow.id).where(ApiKeyRow.id == key_id, stale)
        .with_for_update(skip_locked=True)
    )
    if locked is None:
        return
    session.execute(
        update(ApiKeyRow).where(ApiKeyRow.id == key_id).values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )


def rehash(session: Session, key_id: int, *, old: str, new: str) -> bool:
    """Replace a key's stored hash, if it is still ``old``; whether it was replaced."""
    result = session.execute(
        update(ApiKeyRow).where(ApiKeyRow.id == key_id, ApiKeyRow.hash == old)
        .values(hash=new).execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]
