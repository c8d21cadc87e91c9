"""Authenticating an agent's signed request: known and current agent, fresh timestamp, new nonce, valid signature.

The nonce cache is the ``agent_nonces`` table, so a request replayed to a
second manager process, or after a restart, inside the skew window is still
refused. Nonces older than the window are pruned: a replay of one of them is
refused by the timestamp check instead.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from shieldwall.agent.signing import (
    HEADER_AGENT,
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    SigningError,
    parse_public_key,
    signing_message,
    verify_signature,
)
from shieldwall.service.fleet.errors import AgentAuthError
from shieldwall.store import Store
from shieldwall.store.schema import Agent, AgentNonce

DEFAULT_SKEW_SECONDS = 300
NONCE_RE = re.compile(r"^[0-9a-f]{32}$")
UID_RE = re.compile(r"^agt_[0-9a-f]{24}$")
PRUNE_EVERY_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class AuthenticatedAgent:
    """Who sent a request: the agent's row ID and public ID."""

    id: int
    uid: str
    asset_id: int | None


_prune_lock = threading.Lock()
_last_prune = [0.0]


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name) or headers.get(name.lower()) or ""
    if not value:
        raise AgentAuthError(f"missing header {name}")
    return value


def verify_request(
    store: Store,
    method: str,
    path_query: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    skew_seconds: int = DEFAULT_SKEW_SECONDS,
    now: float | None = None,
) -> AuthenticatedAgent:
    """The agent that signed this request, or ``AgentAuthError`` saying why it is refused."""
    clock = time.time() if now is None else now
    uid = _header(headers, HEADER_AGENT)
    stamp = _header(headers, HEADER_TIMESTAMP)
    nonce = _header(headers, HEADER_NONCE)
    signature = _header(headers, HEADER_SIGNATURE)
    if not UID_RE.match(uid):
        raise AgentAuthError("malformed agent ID")
    if not stamp.isdigit() or len(stamp) > 12:
        raise AgentAuthError("malformed timestamp")
    timestamp = int(stamp)
    if abs(clock - timestamp) > skew_seconds:
        raise AgentAuthError(f"timestamp outside the allowed clock skew of {skew_seconds} s")
    if not NONCE_RE.match(nonce):
        raise AgentAuthError("malformed nonce")
    with store.session() as session:
        agent = session.scalars(select(Agent).where(Agent.uid == uid)).first()
        if agent is None:
            raise AgentAuthError("unknown agent")
        if agent.revoked_at is not None:
            raise AgentAuthError("agent revoked")
        try:
            key = parse_public_key(agent.public_key)
        except SigningError:
            raise AgentAuthError("agent key unusable") from None
        if not verify_signature(key, signature, signing_message(method, path_query, timestamp, nonce, body)):
            raise AgentAuthError("bad signature")
        expires = dt.datetime.fromtimestamp(timestamp + skew_seconds + 1, dt.UTC)
        result = AuthenticatedAgent(agent.id, agent.uid, agent.asset_id)
        try:
            with session.begin_nested():  # the nonce in the same transaction: one round trip per request
                session.add(AgentNonce(agent_id=result.id, nonce=nonce, expires_at=expires))
                session.flush()
        except IntegrityError:
            raise AgentAuthError("nonce already used (replayed request)") from None
    _maybe_prune(store, clock)
    return result


def _maybe_prune(store: Store, clock: float) -> None:
    with _prune_lock:
        if clock - _last_prune[0] < PRUNE_EVERY_SECONDS:
            return
        _last_prune[0] = clock
    cutoff = dt.datetime.fromtimestamp(clock, dt.UTC)
    with store.session() as session:
        session.execute(delete(AgentNonce).where(AgentNonce.expires_at < cutoff))
