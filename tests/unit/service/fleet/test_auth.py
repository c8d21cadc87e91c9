"""Signed agent requests: the manager refuses bad signatures, skew, replays, revoked agents, altered bodies."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from shieldwall.agent.signing import (
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    AgentKey,
    load_or_create_key,
)
from shieldwall.service.fleet.auth import verify_request
from shieldwall.service.fleet.enroll import enroll, revoke, rotate_key
from shieldwall.service.fleet.errors import AgentAuthError, EnrollmentError
from shieldwall.service.fleet.tokens import create_token
from shieldwall.store import Store

PATH = "/api/v1/agent/events?x=1"
BODY = b'{"events":[]}'


def _enrolled(store: Store, tmp_path: Path, name: str = "k") -> tuple[str, int, AgentKey]:
    key = load_or_create_key(tmp_path / f"{name}.key")
    token = create_token(store, name="t", max_uses=5).token
    agent = enroll(store, token, key.public_text, "host-a", {"os": "Linux"})
    return agent.uid, agent.id, key


def test_key_file_is_private_and_reused(tmp_path: Path) -> None:
    first = load_or_create_key(tmp_path / "state" / "agent.key")
    assert (tmp_path / "state" / "agent.key").stat().st_mode & 0o777 == 0o600
    assert load_or_create_key(tmp_path / "state" / "agent.key").public_text == first.public_text


def test_valid_request_is_accepted_once(store: Store, tmp_path: Path) -> None:
    uid, agent_id, key = _enrolled(store, tmp_path)
    headers = key.sign_headers(uid, "POST", PATH, BODY)
    who = verify_request(store, "POST", PATH, headers, BODY)
    assert (who.uid, who.id) == (uid, agent_id)
    with pytest.raises(AgentAuthError, match="replayed"):
        verify_request(store, "POST", PATH, headers, BODY)


def test_replay_refused_by_a_second_store_handle(store: Store, store_url: str, tmp_path: Path) -> None:
    """The nonce cache is in the database: another manager process refuses the replay too."""
    uid, _, key = _enrolled(store, tmp_path)
    headers = key.sign_headers(uid, "POST", PATH, BODY)
    verify_request(store, "POST", PATH, headers, BODY)
    other = Store.open(store_url, audit_key_path=tmp_path / "other.pem")
    try:
        with pytest.raises(AgentAuthError, match="replayed"):
            verify_request(other, "POST", PATH, headers, BODY)
    finally:
        other.close()


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [("POST", PATH, b'{"events":[1]}'), ("PUT", PATH, BODY), ("POST", "/api/v1/agent/events?x=2", BODY)],
    ids=["tampered-body", "other-method", "other-query"],
)
def test_altered_request_is_refused(store: Store, tmp_path: Path, method: str, path: str, body: bytes) -> None:
    uid, _, key = _enrolled(store, tmp_path)
    headers = key.sign_headers(uid, "POST", PATH, BODY)
    with pytest.raises(AgentAuthError, match="bad signature"):
        verify_request(store, method, path, headers, body)


def test_signature_of_another_key_is_refused(store: Store, tmp_path: Path) -> None:
    uid, _, _ = _enrolled(store, tmp_path)
    stranger = load_or_create_key(tmp_path / "stranger.key")
    with pytest.raises(AgentAuthError, match="bad signature"):
        verify_request(store, "POST", PATH, stranger.sign_headers(uid, "POST", PATH, BODY), BODY)


def test_garbage_signature_and_headers_are_refused(store: Store, tmp_path: Path) -> None:
    uid, _, key = _enrolled(store, tmp_path)
    headers = key.sign_headers(uid, "POST", PATH, BODY)
    for name, value, reason in (
        (HEADER_SIGNATURE, "not base64!", "bad signature"),
        (HEADER_NONCE, "xyz", "malformed nonce"),
        (HEADER_TIMESTAMP, "-5", "malformed timestamp"),
    ):
        with pytest.raises(AgentAuthError, match=reason):
            verify_request(store, "POST", PATH, {**headers, name: value}, BODY)
    with pytest.raises(AgentAuthError, match="missing header"):
        verify_request(store, "POST", PATH, {k: v for k, v in headers.items() if k != HEADER_SIGNATURE}, BODY)


def test_clock_skew_window(store: Store, tmp_path: Path) -> None:
    uid, _, key = _enrolled(store, tmp_path)
    now = time.time()
    inside = key.sign_headers(uid, "POST", PATH, BODY, now=now - 250)
    verify_request(store, "POST", PATH, inside, BODY, skew_seconds=300, now=now)
    for offset in (-400, 400):
        outside = key.sign_headers(uid, "POST", PATH, BODY, now=now + offset)
        with pytest.raises(AgentAuthError, match="clock skew"):
            verify_request(store, "POST", PATH, outside, BODY, skew_seconds=300, now=now)
    narrow = key.sign_headers(uid, "POST", PATH, BODY, now=now - 20)
    with pytest.raises(AgentAuthError, match="clock skew"):
        verify_request(store, "POST", PATH, narrow, BODY, skew_seconds=10, now=now)


def test_revoked_and_unknown_agents_are_refused(store: Store, tmp_path: Path) -> None:
    uid, _, key = _enrolled(store, tmp_path)
    revoke(store, uid, actor="tests")
    with pytest.raises(AgentAuthError, match="revoked"):
        verify_request(store, "POST", PATH, key.sign_headers(uid, "POST", PATH, BODY), BODY)
    ghost = "agt_" + "0" * 24
    with pytest.raises(AgentAuthError, match="unknown agent"):
        verify_request(store, "POST", PATH, key.sign_headers(ghost, "POST", PATH, BODY), BODY)


def test_key_rotation_retires_the_old_key(store: Store, tmp_path: Path) -> None:
    uid, agent_id, old = _enrolled(store, tmp_path)
    new = load_or_create_key(tmp_path / "new.key")
    rotate_key(store, agent_id, new.public_text)
    verify_request(store, "POST", PATH, new.sign_headers(uid, "POST", PATH, BODY), BODY)
    with pytest.raises(AgentAuthError, match="bad signature"):
        verify_request(store, "POST", PATH, old.sign_headers(uid, "POST", PATH, BODY), BODY)


def test_enrollment_tokens_expire_run_out_and_hash_only(store: Store, tmp_path: Path) -> None:
    key = load_or_create_key(tmp_path / "a.key")
    single = create_token(store, name="once", max_uses=1)
    assert single.row.token_hash != single.token and single.token not in single.row.prefix + "x"
    enroll(store, single.token, key.public_text, "h1", {})
    with pytest.raises(EnrollmentError, match="used up"):
        enroll(store, single.token, key.public_text, "h2", {})
    import datetime as dt

    expired = create_token(store, name="old", ttl=dt.timedelta(seconds=-1))
    with pytest.raises(EnrollmentError, match="expired"):
        enroll(store, expired.token, key.public_text, "h3", {})
    with pytest.raises(EnrollmentError, match="unknown"):
        enroll(store, "swe_not-a-token", key.public_text, "h4", {})
    with pytest.raises(EnrollmentError, match="public key"):
        enroll(store, create_token(store, name="x").token, "AAAA", "h5", {})
