"""The API's dependencies as ``Annotated`` aliases: settings, the session, the caller.

The session is the transaction of the request: committed when the route
returns, rolled back when it raises, and in both cases before the response is
sent. Services only flush.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.security import (
    APIKeyHeader,
    HTTPAuthorizationCredentials,
    HTTPBearer,
    SecurityScopes,
)
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from api.errors import Unauthenticated
from api.keys.service import Caller, authenticate
from api.roles import Permission, roles_with
from core.errors import Forbidden
from core.settings import Settings

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class Engines:
    """The engines requests use: ``writer`` takes SQLite's write lock at BEGIN, ``reader`` not.

    On PostgreSQL both are the same engine. On SQLite a request that writes
    must hold the lock from its first statement, or a commit by another process
    in between makes its first write fail; reads must not queue behind writes.
    """

    reader: Engine
    writer: Engine


async def get_settings(request: Request) -> Settings:
    """The application's settings.

    Dependencies that do no I/O are ``async``: FastAPI runs them on the event loop
    instead of handing each to a worker thread.
    """
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


@contextmanager
def request_transaction(session: Session) -> Iterator[Session]:
    """The request's work on ``session``: committed on success, rolled back on error."""
    try:
        yield session
    except BaseException:
        session.rollback()
        raise
    session.commit()


def get_session(request: Request) -> Iterator[Session]:
    """A session in one transaction: committed on success, rolled back on error."""
    engines: Engines = request.app.state.engines
    engine = engines.reader if request.method in READ_METHODS else engines.writer
    with Session(bind=engine, expire_on_commit=False) as session, request_transaction(session):
        yield session


SessionDep = Annotated[Session, Depends(get_session, scope="function")]

bearer_scheme = HTTPBearer(
    auto_error=False, scheme_name="bearer",
    description="An API key (``ladder keys create``) as ``Authorization: Bearer <key>``.",
)
api_key_scheme = APIKeyHeader(
    name="X-API-Key", auto_error=False, scheme_name="apiKey",
    description="The same API key in the ``X-API-Key`` header.",
)


def current_key(
    session: SessionDep,
    settings: SettingsDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    header: Annotated[str | None, Depends(api_key_scheme)],
) -> Caller:
    """The caller whose key the request carries; 401 without a valid key."""
    key = bearer.credentials if bearer is not None else header
    if not key:
        raise Unauthenticated("send an API key as 'Authorization: Bearer <key>' or "
                              "'X-API-Key: <key>'")
    caller = authenticate(session, key, pepper=settings.api_key_pepper.get_secret_value(),
                          unpeppered_before=settings.api_key_unpeppered_before)
    if caller is None:
        raise Unauthenticated("the API key is unknown or revoked")
    return caller


CurrentKey = Annotated[Caller, Depends(current_key)]


async def authorise(required: SecurityScopes, caller: CurrentKey) -> Caller:
    """The caller, if the key's role grants every permission the route names; else 403.

    Routes name their permission as a security scope (``Security(authorise,
    scopes=[...])``), so that the OpenAPI document states it for each operation.
    """
    for name in required.scopes:
        permission = Permission(name)
        if not caller.may(permission):
            allowed = ", ".join(str(role) for role in roles_with(permission))
            raise Forbidden(f"the {caller.role} role may not do this ({permission}); "
                            f"roles that may: {allowed}")
    return caller


def _requires(permission: Permission) -> Any:
    return Security(authorise, scopes=[str(permission)])


Reader = Annotated[Caller, _requires(Permission.READ)]
FinanceReader = Annotated[Caller, _requires(Permission.READ_FINANCE)]
BudgetWriter = Annotated[Caller, _requires(Permission.WRITE_BUDGETS)]
MetricsWriter = Annotated[Caller, _requires(Permission.WRITE_METRICS)]
AuditReader = Annotated[Caller, _requires(Permission.READ_AUDIT)]
PlanDecider = Annotated[Caller, _requires(Permission.DECIDE_PLANS)]
RunTrigger = Annotated[Caller, _requires(Permission.TRIGGER_RUNS)]
PolicyWriter = Annotated[Caller, _requires(Permission.WRITE_POLICY)]
KeyManager = Annotated[Caller, _requires(Permission.MANAGE_KEYS)]


def operation_permissions(openapi: dict[str, Any]) -> dict[tuple[str, str], set[Permission]]:
    """The permissions each operation of an OpenAPI document requires, by (METHOD, path)."""
    found: dict[tuple[str, str], set[Permission]] = {}
    for path, operations in openapi.get("paths", {}).items():
        for method, operation in operations.items():
            scopes = {scope for requirement in operation.get("security", [])
                      for scopes in requirement.values() for scope in scopes}
            found[(method.upper(), path)] = {Permission(scope) for scope in scopes}
    return found
