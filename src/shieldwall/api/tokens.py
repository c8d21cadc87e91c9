"""API tokens: created and revoked by an admin, stored hashed, shown once, each with one role.

A token is ``swt_<id>_<secret>``: ``id`` (12 hex digits) names the record,
``secret`` is 32 random bytes (URL-safe base64). The store keeps the
SHA-256 of the whole token, never the token: a stolen database does not
grant access, and a high-entropy secret needs no slow hash. Records live in
the store's settings table under ``api.token.<id>``; creating and revoking
one is written to the audit trail in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import select

from shieldwall.errors import InputError
from shieldwall.store import Store, audit
from shieldwall.store.core import utcnow
from shieldwall.store.schema import Setting

PREFIX = "swt_"
SETTING_PREFIX = "api.token."
_TOKEN = re.compile(r"^swt_([0-9a-f]{12})_([A-Za-z0-9_-]{20,100})$")
MAX_NAME = 100


class Role(StrEnum):
    """What a token may do; each role includes the ones below it."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        """viewer < operator < admin."""
        return [Role.VIEWER, Role.OPERATOR, Role.ADMIN].index(self)

    def allows(self, needed: Role) -> bool:
        """True when this role includes ``needed``."""
        return self.rank >= needed.rank


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """A stored token (without its secret)."""

    id: str
    name: str
    role: Role
    created_at: str
    created_by: str
    revoked_at: str = ""
    revoked_by: str = ""

    @property
    def active(self) -> bool:
        """Not revoked."""
        return not self.revoked_at

    @property
    def actor(self) -> str:
        """How the audit trail names whoever uses this token."""
        return f"token:{self.name}#{self.id}"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data (the hash stays out)."""
        data = asdict(self)
        data["role"] = str(self.role)
        data["active"] = self.active
        return data


@dataclass(frozen=True, slots=True)
class CreatedToken:
    """A new token: the record and the secret text, which is shown once and never stored."""

    record: TokenRecord
    token: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _iso(value: dt.datetime) -> str:
    return value.isoformat(timespec="seconds")


def _record(data: dict[str, Any]) -> TokenRecord:
    return TokenRecord(
        id=str(data["id"]),
        name=str(data.get("name", "")),
        role=Role(str(data.get("role", "viewer"))),
        created_at=str(data.get("created_at", "")),
        created_by=str(data.get("created_by", "")),
        revoked_at=str(data.get("revoked_at", "")),
        revoked_by=str(data.get("revoked_by", "")),
    )


def parse_role(text: str) -> Role:
    """A role by name; ``InputError`` naming the choices otherwise."""
    try:
        return Role(text.strip().lower())
    except ValueError:
        raise InputError(f"unknown role {text!r} (choose viewer, operator or admin)") from None


def create_token(store: Store, name: str, role: Role, *, actor: str = "") -> CreatedToken:
    """Make a token, store its hash, audit it; the returned text is the only copy of the secret."""
    name = name.strip()
    if not name or len(name) > MAX_NAME or any(ord(c) < 32 for c in name):
        raise InputError(f"a token needs a name of 1 to {MAX_NAME} printable characters")
    token_id = secrets.token_hex(6)
    token = f"{PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
    who = actor or audit.default_actor()
    record = TokenRecord(token_id, name, role, _iso(utcnow()), who)
    doc = {**record.to_dict(), "sha256": _digest(token)}
    doc.pop("active")
    with store.session() as session:
        store.put_setting(SETTING_PREFIX + token_id, doc, session)
        audit.append_event(
            store,
            session,
            "token.created",
            f"token:{token_id}",
            {"name": name, "role": str(role)},
            actor=who,
        )
    return CreatedToken(record, token)


def revoke_token(store: Store, token_id: str, *, actor: str = "") -> TokenRecord:
    """Revoke a token (it stops working at once); audited. ``InputError`` when there is no such active token."""
    who = actor or audit.default_actor()
    with store.session() as session:
        row = session.get(Setting, SETTING_PREFIX + token_id.strip())
        data = json.loads(row.value) if row is not None else None
        if not isinstance(data, dict) or data.get("revoked_at"):
            raise InputError(f"no active token {token_id!r}")
        data["revoked_at"] = _iso(utcnow())
        data["revoked_by"] = who
        store.put_setting(SETTING_PREFIX + token_id.strip(), data, session)
        audit.append_event(
            store, session, "token.revoked", f"token:{token_id}", {"name": data.get("name", "")}, actor=who
        )
        return _record(data)


def list_tokens(store: Store) -> list[TokenRecord]:
    """Every token record (revoked ones included), oldest first."""
    with store.session() as session:
        rows = session.scalars(select(Setting).where(Setting.key.startswith(SETTING_PREFIX)))
        records = [_record(json.loads(row.value)) for row in rows]
    return sorted(records, key=lambda r: (r.created_at, r.id))


def get_token(store: Store, token_id: str) -> TokenRecord | None:
    """A token record by ID."""
    data = store.get_setting(SETTING_PREFIX + token_id)
    return _record(data) if isinstance(data, dict) else None


def authenticate(store: Store, token: str) -> TokenRecord | None:
    """The active record a presented token belongs to, or None (malformed, unknown, wrong secret, revoked)."""
    match = _TOKEN.match(token.strip())
    if match is None:
        return None
    data = store.get_setting(SETTING_PREFIX + match.group(1))
    if not isinstance(data, dict):
        return None
    expected = str(data.get("sha256", ""))
    if not expected or not hmac.compare_digest(expected, _digest(token.strip())):
        return None
    record = _record(data)
    return record if record.active else None
