"""The audit log as the API shows it; the chain and its checks are ``executor.audit``'s."""

from __future__ import annotations

from sqlalchemy.orm import Session

from api.audit import repository as repo
from api.audit.repository import AuditFilter
from api.audit.schemas import AuditEntryRead, AuditVerification
from executor import audit


def list_entries(
    session: Session, where: AuditFilter, *, limit: int, offset: int
) -> tuple[list[AuditEntryRead], int]:
    """Entries matching ``where``, the newest first, and how many match in all."""
    rows, total = repo.list_entries(session, where, limit=limit, offset=offset)
    return [AuditEntryRead.model_validate(row) for row in rows], total


def get_entry(session: Session, seq: int) -> AuditEntryRead | None:
    """One entry, or None."""
    row = repo.get_entry(session, seq)
    return None if row is None else AuditEntryRead.model_validate(row)


def verify(session: Session) -> AuditVerification:
    """Recompute the chain and report every break found."""
    report = audit.verify(session)
    return AuditVerification(ok=report.ok, entries=report.entries, head_seq=report.head_seq,
                             head_hash=report.head_hash, problems=list(report.problems))
