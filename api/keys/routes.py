"""Routes of ``/v1/keys``: create, list and revoke API keys (admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from api.deps import KeyManager, SessionDep, SettingsDep
from api.errors import CONFLICT, NOT_FOUND
from api.keys import service
from api.keys.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyRead
from api.params import Page, PageDep
from core.errors import NotFound

router = APIRouter(prefix="/keys", tags=["keys"])

KeyId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The key's id.")]


@router.get("", summary="List API keys")
def list_keys(
    session: SessionDep,
    _caller: KeyManager,
    page: PageDep,
    include_revoked: Annotated[bool, Query(description="Include revoked keys.")] = False,
) -> Page[ApiKeyRead]:
    """API keys, the newest first (never the keys themselves)."""
    rows, total = service.list_keys(session, include_revoked=include_revoked, limit=page.limit,
                                    offset=page.offset)
    return page.page([ApiKeyRead.model_validate(row) for row in rows], total)


@router.post("", status_code=status.HTTP_201_CREATED, summary="Create an API key")
def create_key(
    body: ApiKeyCreate, session: SessionDep, settings: SettingsDep, caller: KeyManager
) -> ApiKeyCreated:
    """Create a key; the response is the only time the key itself is shown."""
    new = service.create_key(session, name=body.name, role=body.role,
                             pepper=settings.api_key_pepper.get_secret_value(),
                             actor=caller.name)
    return ApiKeyCreated.model_validate({**ApiKeyRead.model_validate(new.row).model_dump(),
                                         "key": new.key})


@router.get("/{key_id}", responses=NOT_FOUND, summary="Show an API key")
def get_key(key_id: KeyId, session: SessionDep, _caller: KeyManager) -> ApiKeyRead:
    """One API key (never the key itself)."""
    row = service.get_key(session, key_id)
    if row is None:
        raise NotFound(f"no API key with id {key_id}")
    return ApiKeyRead.model_validate(row)


@router.delete("/{key_id}", responses=NOT_FOUND | CONFLICT, summary="Revoke an API key")
def revoke_key(key_id: KeyId, session: SessionDep, caller: KeyManager) -> ApiKeyRead:
    """Revoke a key: it stops working at once. The row stays, for the audit trail."""
    row = service.revoke_key(session, key_id, actor=caller.name)
    if row is None:
        raise NotFound(f"no API key with id {key_id}")
    return ApiKeyRead.model_validate(row)
