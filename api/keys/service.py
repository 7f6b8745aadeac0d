"""API keys: how they are made, stored, checked and revoked.

A key reads ``ladder_<prefix>_<secret>``: the prefix (12 hex digits) is public
and finds the row; the secret is 256 random bits. Only an HMAC-SHA256 of the
whole key, keyed with the server's pepper (``LADDER_API_KEY_PEPPER``), is
stored, and it is compared in constant time. A fast keyed hash is enough here,
unlike for passwords: 256 random bits cannot be guessed, so a slow KDF would
only add latency to every request.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from api.keys import repository as repo
from api.roles import GRANTS, Permission, Role
from core.db.models import ApiKeyRow, utc_now
from core.errors import Conflict, InvalidInput, LadderError
from executor import audit
from executor.approval import APPROVER, POLICY_ACTOR, Actor

KEY_PREFIX = "ladder"
_KEY_PATTERN = re.compile(r"^ladder_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
TOUCH_EVERY = timedelta(minutes=1)
"""``last_used_at`` is written at most this often per key, to keep reads read-only."""
RESERVED_NAMES = frozenset({POLICY_ACTOR, "scheduler", "executor", "ladder", "system"})
"""Actors Ladder itself writes in the audit log; no key may pose as one of them."""

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: the key's id, its holder's name and its role."""

    key_id: int
    name: str
    role: Role

    def may(self, permission: Permission) -> bool:
        """Whether the key's role grants ``permission``."""
        return permission in GRANTS[self.role]

    @property
    def actor(self) -> Actor:
        """The caller as the executor's services see a person (with the approver role if any)."""
        roles = {APPROVER} if self.may(Permission.DECIDE_PLANS) else set()
        return Actor(self.name, frozenset(roles))


@dataclass(frozen=True, slots=True)
class NewKey:
    """A key just created: its row, and the key itself, which is shown this once only."""

    row: ApiKeyRow
    key: str


def key_hash(key: str, pepper: str) -> str:
    """HMAC-SHA256 of the key with the pepper, hex."""
    return hmac.new(pepper.encode("utf-8"), key.encode("utf-8"), hashlib.sha256).hexdigest()


def create_key(
    session: Session, *, name: str, role: Role, pepper: str, actor: str
) -> NewKey:
    """Create a key for ``name`` with ``role`` and audit it; the returned key is never stored."""
    if not name.strip():
        raise InvalidInput("a key needs the name of who holds it", column="name")
    if name in RESERVED_NAMES:
        raise InvalidInput(f"{name!r} is an actor Ladder itself uses; choose another name",
                           column="name")
    audit.lock_chain(session)
    prefix = secrets.token_hex(6)
    key = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    row = repo.add_key(session, name=name, prefix=prefix, hash_=key_hash(key, pepper),
                       role=str(role))
    audit.append(session, actor=actor, event="api_key.create", subject=f"api_key:{row.id}",
                 reason=f"{role} key for {name}",
                 data={"name": name, "role": str(role), "prefix": prefix})
    return NewKey(row=row, key=key)


class UnpepperedKey(LadderError):
    """A key hashed with no pepper, made after the server's pepper existed: not accepted."""

    status_code = 401
    title = "Unauthorized"


def authenticate(
    session: Session, key: str, *, pepper: str, now: datetime | None = None,
    unpeppered_before: datetime | None = None,
) -> Caller | None:
    """The caller a key belongs to, or None for a malformed, unknown or revoked key.

    A key stored hashed with no pepper (made when the server had none) is accepted
    if it was created before ``unpeppered_before``, and its hash is replaced by the
    peppered one (audited); made later, it is refused with UnpepperedKey, which
    says how to replace it.
    """
    match = _KEY_PATTERN.match(key)
    if match is None:
        return None
    row = repo.find_by_prefix(session, match.group(1))
    if row is None:
        return None
    peppered = key_hash(key, pepper)
    if not hmac.compare_digest(row.hash, peppered):
        if not pepper or not hmac.compare_digest(row.hash, key_hash(key, "")):
            return None
        if row.revoked_at is not None:
            return None
        if unpeppered_before is None or row.created_at >= unpeppered_before:
            log.warning("API key %s was hashed with no pepper and made after the pepper "
                        "existed: refused", match.group(1))
            raise UnpepperedKey(
                "this API key was stored without the server's pepper: create a new key "
                "(`ladder keys create`) and revoke this one, or set "
                "LADDER_API_KEY_UNPEPPERED_BEFORE past its creation")
        _rehash(session, row, match.group(1), old=row.hash, new=peppered)
    if row.revoked_at is not None:
        return None
    moment = now or utc_now()
    if row.last_used_at is None or row.last_used_at < moment - TOUCH_EVERY:
        try:
            with session.begin_nested():
                repo.touch(session, row.id, moment, every=TOUCH_EVERY)
        except OperationalError:  # a busy SQLite must not fail the request: it can wait
            log.warning("could not record the use of API key %s", match.group(1))
    return Caller(key_id=row.id, name=row.name, role=Role(row.role))


def _rehash(session: Session, row: repo.KeyCheck, prefix: str, *, old: str, new: str) -> None:
    """Store the peppered hash of a key that was stored without a pepper; audited."""
    try:
        with session.begin_nested():
            audit.lock_chain(session)
            if repo.rehash(session, row.id, old=old, new=new):
                audit.append(session, actor="system", event="api_key.rehash",
                             subject=f"api_key:{row.id}",
                             reason="stored without a pepper; re-hashed with the server's",
                             data={"prefix": prefix})
    except OperationalError:  # a busy SQLite: the key works now, is re-hashed next time
        log.warning("could not re-hash API key %s with the pepper yet", prefix)
        return
    log.warning("API key %s was stored without a pepper; re-hashed with the server's", prefix)


def list_keys(
    session: Session, *, include_revoked: bool, limit: int, offset: int
) -> tuple[list[ApiKeyRow], int]:
    """Keys (active only, unless ``include_revoked``), the newest first, and the total."""
    return repo.list_keys(session, include_revoked=include_revoked, limit=limit, offset=offset)


def get_key(session: Session, key_id: int) -> ApiKeyRow | None:
    """The key with this id, or None."""
    return repo.get_key(session, key_id)


def revoke_key(
    session: Session, key_id: int, *, actor: str, now: datetime | None = None
) -> ApiKeyRow | None:
    """Revoke a key (it stops working at once) and audit it; None when there is no such key."""
    audit.lock_chain(session)
    row = repo.get_key(session, key_id)
    if row is None:
        return None
    if row.revoked_at is not None:
        raise Conflict(f"API key {key_id} was already revoked at {row.revoked_at:%Y-%m-%d %H:%M} "
                       "UTC")
    row.revoked_at = now or utc_now()
    session.flush()
    audit.append(session, actor=actor, event="api_key.revoke", subject=f"api_key:{row.id}",
                 reason=f"{row.role} key of {row.name} revoked",
                 data={"name": row.name, "role": row.role, "prefix": row.prefix})
    return row
