"""Schemas of runs: ``RunRead`` out, ``RunCreate`` in, ``RunAccepted`` for a triggered run."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, cast

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, JsonValue

from api.params import JsonBody, Name, ProviderName
from core.db.models import DEFAULT_SCOPE
from providers.base import provider_names


class RunStatus(StrEnum):
    """Where a run stands."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"


class RunTriggerKind(StrEnum):
    """What started a run."""

    CLI = "cli"
    SCHEDULE = "schedule"
    API = "api"


class RunRead(BaseModel):
    """One run: what started it, how it ended, how long each step took, and its plan."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    provider: str
    scope: str
    trigger: str = Field(description="cli, schedule or api.")
    actor: str
    status: str = Field(description="running, succeeded, failed or skipped.")
    outcome: str | None = Field(description="executed, dry_run, awaiting_approval, blocked, …")
    mode: str = Field(description="execute or dry_run.")
    host: str
    pid: int
    started_at: datetime
    finished_at: datetime | None
    plan_id: int | None
    timings: dict[str, float] = Field(description="Seconds spent in each step.")
    summary: dict[str, Any]
    error: str | None


def _registered(provider: str) -> str:
    if provider not in provider_names():
        raise ValueError(f"unknown provider; known: {', '.join(provider_names())}")
    return provider


class RunCreate(JsonBody):
    """A run to start: which provider and scope."""

    provider: Annotated[ProviderName, AfterValidator(_registered)] = Field(
        json_schema_extra={"enum": cast(list[JsonValue], provider_names())})
    scope: Name = DEFAULT_SCOPE


class RunAccepted(BaseModel):
    """A run accepted: it starts in the background; ``GET /v1/runs`` shows it."""

    provider: str
    scope: str
    actor: str
    accepted_at: datetime
    status: str = "accepted"
    runs: str = Field(description="Where to follow it.")
