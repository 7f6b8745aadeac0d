"""Policies as the API shows them; storing and versioning them is ``executor.policy``'s."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from api.keys.service import Caller
from api.policy.schemas import PolicyRead
from executor import policy as policies
from executor.policy import ScopePolicy


def list_policies(session: Session) -> list[PolicyRead]:
    """The policy in force of every scope that has one."""
    return [PolicyRead.model_validate(stored) for stored in policies.list_policies(session)]


def get_policy(session: Session, provider: str, scope: str) -> PolicyRead | None:
    """The scope's policy in force, or None."""
    stored = policies.load_policy(session, provider, scope)
    return None if stored is None else PolicyRead.model_validate(stored)


def policy_history(session: Session, provider: str, scope: str) -> list[PolicyRead]:
    """Every version of the scope's policy, the newest first (empty when it has none)."""
    return [PolicyRead.model_validate(stored)
            for stored in policies.policy_history(session, provider, scope)]


def update_policy(
    session: Session, provider: str, scope: str, policy: ScopePolicy, *, reason: str,
    caller: Caller, min_schedule_interval: timedelta,
) -> PolicyRead:
    """Store ``policy`` as the scope's next version, as the caller, and audit it."""
    stored = policies.save_policy(session, provider, scope, policy, actor=caller.name,
                                  reason=reason, min_schedule_interval=min_schedule_interval)
    return PolicyRead.model_validate(stored)
