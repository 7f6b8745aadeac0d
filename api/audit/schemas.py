"""Schemas of the audit log: ``AuditEntryRead`` and ``AuditVerification``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class AuditEntryRead(BaseModel):
    """One entry: who did what, when and why, chained to the entry before by its hash."""

    model_config = ConfigDict(from_attributes=True)

    seq: int
    at: datetime
    actor: str
    event: str
    subject: str = Field(description="What it is about: plan:12, run:3, policy:sample/all, …")
    reason: str
    data: dict[str, Any]
    prev_hash: str
    hash: str


class AuditVerification(BaseModel):
    """Whether the chain holds: every hash recomputed, every link and the head checked."""

    ok: bool
    entries: int
    head_seq: int
    head_hash: str = Field(description="Keep a copy elsewhere: it is what proves that the "
                           "log was not truncated together with its head.")
    problems: list[str]
