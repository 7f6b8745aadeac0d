"""Server-side sign-in sessions: a random token in a cookie, the key's identity on the server.

The cookie holds only a 256-bit random token; the key's id and the session's CSRF
token stay in this process's memory. Every request re-reads
the key's row (``dashboard.auth``), so a revoked key's sessions end at once and a
changed role applies at the next page. Sessions live in one process: a server
restarted, or a second worker, asks its users to sign in again.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

COOKIE_NAME = "ladder_session"
SESSION_TTL_S = 8 * 3600
"""A session ends this long after sign-in, used or not (a working day)."""
MAX_SESSIONS = 10_000
"""Sessions kept at most; the oldest goes first, so that sign-ins cannot fill memory."""


@dataclass(frozen=True, slots=True)
class SignedIn:
    """Who a session belongs to: the API key's id, and the session's CSRF token."""

    key_id: int
    csrf_token: str
    expires_at: float


class SessionStore:
    """Sessions by token, in memory, thread-safe, each ending ``ttl_s`` after it began."""

    def __init__(self, ttl_s: float = SESSION_TTL_S, max_sessions: int = MAX_SESSIONS) -> None:
        """An empty store."""
        self.ttl_s = ttl_s
        self.max_sessions = max_sessions
        self._sessions: OrderedDict[str, SignedIn] = OrderedDict()
        self._lock = threading.Lock()

    def start(self, *, key_id: int) -> str:
        """Start a session for the key; its token (the cookie's value)."""
        token = secrets.token_urlsafe(32)
        session = SignedIn(key_id=key_id, csrf_token=secrets.token_urlsafe(32),
                           expires_at=time.monotonic() + self.ttl_s)
        with self._lock:
            self._sessions[token] = session
            while len(self._sessions) > self.max_sessions:
                self._sessions.popitem(last=False)
        return token

    def get(self, token: str | None) -> SignedIn | None:
        """The live session of ``token``, or None (unknown or expired: then forgotten)."""
        if not token:
            return None
        with self._lock:
            session = self._sessions.get(token)
            if session is None:
                return None
            if session.expires_at <= time.monotonic():
                del self._sessions[token]
                return None
            return session

    def end(self, token: str | None) -> None:
        """End the session of ``token``, if there is one."""
        if token:
            with self._lock:
                self._sessions.pop(token, None)

    def end_key(self, key_id: int) -> None:
        """End every session of one key (it was revoked)."""
        with self._lock:
            for token in [t for t, s in self._sessions.items() if s.key_id == key_id]:
                del self._sessions[token]
