"""Schemas of policies: ``PolicyRead`` out, ``PolicyUpdate`` in.

The policy's own fields are ``executor.policy.ScopePolicy``: the API validates a new
policy exactly as the executor will read it.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from api.params import JsonBody, Text
from executor.policy import ScopePolicy


class PolicyRead(BaseModel):
    """A version of a scope's policy, with who stored it, when and why."""

    model_config = ConfigDict(from_attributes=True)

    provider: str
    scope: str
    version: int
    policy: ScopePolicy
    created_at: datetime
    created_by: str
    reason: str


class PolicyUpdate(JsonBody):
    """A new version of a scope's policy, and why it changes."""

    policy: ScopePolicy
    reason: Text = Field(min_length=1, description="Why the policy changes (audited).")
