"""Who is reading: sign-in with an API key, the session cookie, CSRF, and the role matrix.

A key is checked by the API's own ``authenticate`` (same hash, pepper and
revocation); what a signed-in reader may see or do is ``api.roles``' matrix,
read through the API's ``Caller.may``, never restated here.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from urllib.parse import parse_qs

from fastapi import Request, Response
from sqlalchemy.orm import Session

from api.keys import repository as keys_repository
from api.keys.service import Caller, UnpepperedKey, authenticate
from api.roles import Permission, Role
from core.settings import Settings
from dashboard.sessions import COOKIE_NAME, SessionStore

FORM_TYPE = "application/x-www-form-urlencoded"
MAX_FORM_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class Reader:
    """A signed-in reader: the API caller their key is, and the session's CSRF token."""

    caller: Caller
    csrf_token: str

    def may(self, permission: Permission) -> bool:
        """Whether the key's role grants ``permission`` (``api.roles.GRANTS``)."""
        return self.caller.may(permission)

    @property
    def role(self) -> Role:
        """The key's role."""
        return self.caller.role


def store_of(request: Request) -> SessionStore:
    """The app's session store."""
    store: SessionStore = request.app.state.dashboard_sessions
    return store


def signed_in(request: Request, session: Session) -> Reader | None:
    """The reader of the request's session, or None.

    The key's row is read again on every request: a key revoked since sign-in ends
    its sessions, and the role is always the key's current one.
    """
    store = store_of(request)
    found = store.get(request.cookies.get(COOKIE_NAME))
    if found is None:
        return None
    row = keys_repository.get_key(session, found.key_id)
    if row is None or row.revoked_at is not None:
        store.end_key(found.key_id)
        return None
    return Reader(Caller(key_id=row.id, name=row.name, role=Role(row.role)), found.csrf_token)


def sign_in(session: Session, settings: Settings, key: str) -> Caller | None:
    """The caller the key belongs to, as the API would authenticate it; None when refused."""
    try:
        return authenticate(session, key.strip(), pepper=settings.api_key_pepper.get_secret_value(),
                            unpeppered_before=settings.api_key_unpeppered_before)
    except UnpepperedKey:
        return None


def set_session_cookie(request: Request, response: Response, token: str, max_age: int) -> None:
    """The session cookie: HttpOnly, SameSite=Strict, and Secure when served over https."""
    response.set_cookie(COOKIE_NAME, token, max_age=max_age, path="/", httponly=True,
                        samesite="strict", secure=request.url.scheme == "https")


def clear_session_cookie(request: Request, response: Response) -> None:
    """Tell the browser to forget the session cookie."""
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="strict",
                           secure=request.url.scheme == "https")


class BadForm(ValueError):
    """A form body that is not a urlencoded form, or too large."""


async def read_form(request: Request) -> dict[str, str]:
    """The fields of a urlencoded form (the first value of each), without a multipart parser.

    The dashboard's forms are small and urlencoded; anything else is refused.
    """
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != FORM_TYPE:
        raise BadForm(f"expected a form ({FORM_TYPE}), got {kind or 'no content type'}")
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise BadForm("the form is too large")
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError as exc:
        raise BadForm("the form is not UTF-8") from exc
    return {name: values[0] for name, values in fields.items()}


def csrf_ok(reader: Reader, form: dict[str, str]) -> bool:
    """Whether the form carries the session's CSRF token (compared in constant time)."""
    sent = form.get("csrf_token", "")
    return bool(sent) and hmac.compare_digest(sent.encode("utf-8"),
                                              reader.csrf_token.encode("utf-8"))


def safe_next(path: str | None) -> str:
    """Where to go after sign-in: a path on this site only (never ``//host`` or a URL)."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    return path
