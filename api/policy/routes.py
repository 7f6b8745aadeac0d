"""Routes of ``/v1/policies``: list, show, history (everyone); update (admin)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Path

from api.deps import PolicyWriter, Reader, SessionDep, SettingsDep
from api.errors import CONFLICT, NOT_FOUND
from api.params import Name, Page, PageDep, ProviderName
from api.policy import service
from api.policy.schemas import PolicyRead, PolicyUpdate
from core.errors import NotFound

router = APIRouter(prefix="/policies", tags=["policy"])

Provider = Annotated[ProviderName, Path(description="The provider, e.g. aws.")]
Scope = Annotated[Name, Path(description="The part of the provider, e.g. all.")]


@router.get("", summary="List policies in force")
def list_policies(session: SessionDep, _caller: Reader, page: PageDep) -> Page[PolicyRead]:
    """The policy in force of every scope that has one, by provider and scope."""
    policies = service.list_policies(session)
    return page.slice(policies)


@router.get("/{provider}/{scope}", responses=NOT_FOUND, summary="Show a scope's policy")
def get_policy(provider: Provider, scope: Scope, session: SessionDep,
               _caller: Reader) -> PolicyRead:
    """The policy in force for the scope (404 while it has none: every plan waits for a person)."""
    policy = service.get_policy(session, provider, scope)
    if policy is None:
        raise NotFound(f"{provider}/{scope} has no policy")
    return policy


@router.get("/{provider}/{scope}/history", responses=NOT_FOUND,
            summary="List a scope's policy versions")
def policy_history(provider: Provider, scope: Scope, session: SessionDep, _caller: Reader,
                   page: PageDep) -> Page[PolicyRead]:
    """Every version of the scope's policy, the newest first."""
    versions = service.policy_history(session, provider, scope)
    if not versions:
        raise NotFound(f"{provider}/{scope} has no policy")
    return page.slice(versions)


@router.put("/{provider}/{scope}", responses=CONFLICT, summary="Change a scope's policy")
def update_policy(provider: Provider, scope: Scope, body: PolicyUpdate, session: SessionDep,
                  settings: SettingsDep, caller: PolicyWriter) -> PolicyRead:
    """Store a new version of the scope's policy (the whole policy; audited).

    A new or changed ``schedule`` may not run more often than the server's
    ``LADDER_MIN_SCHEDULE_INTERVAL_S`` (an hour by default).
    """
    return service.update_policy(
        session, provider, scope, body.policy, reason=body.reason, caller=caller,
        min_schedule_interval=timedelta(seconds=settings.min_schedule_interval_s))
