"""Tokens: shown once, stored as a SHA-256, one role each, revocation immediate, both audited."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlalchemy import select

from shieldwall.api.tokens import Role, authenticate, create_token, list_tokens, parse_role, revoke_token
from shieldwall.errors import InputError
from shieldwall.store import Store
from shieldwall.store.audit import verify
from shieldwall.store.schema import AuditEvent, Setting


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(f"sqlite:///{tmp_path / 'store.db'}", audit_key_path=tmp_path / "key.pem")


def test_a_token_is_stored_hashed_and_authenticates(store: Store) -> None:
    created = create_token(store, "ci", Role.OPERATOR, actor="alice")
    assert created.token.startswith(f"swt_{created.record.id}_") and len(created.token) > 50
    record = authenticate(store, created.token)
    assert record is not None and record.role is Role.OPERATOR and record.actor == f"token:ci#{created.record.id}"
    with store.session() as session:
        stored = " ".join(session.scalars(select(Setting.value)))
    assert created.token not in stored
    assert hashlib.sha256(created.token.encode()).hexdigest() in stored
    assert authenticate(store, created.token[:-1] + ("A" if created.token[-1] != "A" else "B")) is None
    assert authenticate(store, "swt_000000000000_" + "x" * 43) is None
    assert authenticate(store, "") is None


def test_revocation_is_immediate_and_audited(store: Store) -> None:
    created = create_token(store, "laptop", Role.VIEWER, actor="alice")
    revoked = revoke_token(store, created.record.id, actor="bob")
    assert not revoked.active and revoked.revoked_by == "bob"
    assert authenticate(store, created.token) is None
    with pytest.raises(InputError):
        revoke_token(store, created.record.id)
    with pytest.raises(InputError):
        revoke_token(store, "nope")
    with store.session() as session:
        events = [(e.action, e.actor) for e in session.scalars(select(AuditEvent).order_by(AuditEvent.seq))]
    assert events == [("token.created", "alice"), ("token.revoked", "bob")]
    assert verify(store).ok
    assert [t.active for t in list_tokens(store)] == [False]


def test_roles_include_the_ones_below() -> None:
    assert Role.ADMIN.allows(Role.OPERATOR) and Role.OPERATOR.allows(Role.VIEWER)
    assert not Role.VIEWER.allows(Role.OPERATOR) and not Role.OPERATOR.allows(Role.ADMIN)
    assert parse_role(" Admin ") is Role.ADMIN
    with pytest.raises(InputError, match="viewer, operator or admin"):
        parse_role("root")


def test_a_token_needs_a_printable_name(store: Store) -> None:
    for name in ("", " ", "a\nb", "x" * 101):
        with pytest.raises(InputError):
            create_token(store, name, Role.VIEWER)
