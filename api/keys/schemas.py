"""Schemas of API keys: ``ApiKeyCreate`` in, ``ApiKeyRead`` out, ``ApiKeyCreated`` once."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from api.keys.service import RESERVED_NAMES
from api.params import JsonBody, Label
from api.roles import Role


class ApiKeyCreate(JsonBody):
    """A key to create: who holds it and its role."""

    name: Label = Field(
        description="Who holds the key; the actor the audit log records. Names Ladder "
        "itself writes there are refused.",
        json_schema_extra={"not": {"enum": cast(list[JsonValue], sorted(RESERVED_NAMES))}},
    )
    role: Role


class ApiKeyRead(BaseModel):
    """A key as stored: everything but the key itself."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    prefix: str = Field(description="The key's public part (``ladder_<prefix>_…``).")
    role: Role
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    """A key just created, with the key itself: it is shown this once and never again."""

    key: str = Field(description="Send as ``Authorization: Bearer <key>`` or ``X-API-Key``.")
