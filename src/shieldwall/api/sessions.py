"""Dashboard sessions: a random session ID in an HttpOnly, SameSite=Strict cookie, state kept server-side.

Logging in with an API token creates a session that remembers the token's ID
(never the token) and a CSRF token that every form must echo back. Each
request re-reads the token record, so revoking the token ends its sessions at
once. Sessions live in this process: a restart logs everyone out.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

COOKIE = "sw_session"
LOGIN_CSRF_COOKIE = "sw_login_csrf"
MAX_SESSIONS = 10_000


@dataclass(frozen=True, slots=True)
class Session:
    """One logged-in browser."""

    id: str
    token_id: str
    csrf: str
    expires: float


class SessionStore:
    """Sessions by ID; thread-safe; expired ones are dropped when seen."""

    def __init__(self, lifetime_seconds: float, clock: Callable[[], float] = time.time) -> None:
        self.lifetime = lifetime_seconds
        self._clock = clock
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def create(self, token_id: str) -> Session:
        """A new session for a token."""
        now = self._clock()
        session = Session(secrets.token_urlsafe(32), token_id, secrets.token_urlsafe(32), now + self.lifetime)
        with self._lock:
            if len(self._sessions) >= MAX_SESSIONS:
                self._sessions = {k: v for k, v in self._sessions.items() if v.expires > now}
            self._sessions[session.id] = session
        return session

    def get(self, session_id: str) -> Session | None:
        """The live session with this ID, or None."""
        if not session_id:
            return None
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return None
            if session.expires <= self._clock():
                del self._sessions[session_id]
                return None
            return session

    def drop(self, session_id: str) -> None:
        """Log a session out."""
        with self._lock:
            self._sessions.pop(session_id, None)


def csrf_ok(expected: str, presented: str) -> bool:
    """Constant-time comparison of CSRF tokens (both must be non-empty)."""
    return bool(expected) and bool(presented) and hmac.compare_digest(expected.encode(), presented.encode())
