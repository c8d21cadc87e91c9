"""An HTTP witness served by Shieldwall: two real `shieldwall serve` instances.

Instance A (the audited one) sends every signed checkpoint to instance B's
witness route; B keeps them append-only behind its tokens; `audit verify
--witness URL` checks A's trail against B. A truncated trail fails, B refuses
to rewrite what it witnessed, and the egress policy applies to the witness URL.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from helpers.api_server import ApiServer, api_settings, tokens
from shieldwall.api.tokens import Role
from shieldwall.store import Store
from shieldwall.store.http_witness import HttpWitness

pytestmark = pytest.mark.integration

TRAIL = "instance-a"


@dataclass
class Pair:
    a: ApiServer
    b: ApiServer
    store_a: Store
    url_a: str
    witness_url: str
    env: dict[str, str]


def _serve(tmp_path: Path, name: str, env: dict[str, str]) -> tuple[Store, ApiServer, str]:
    home = tmp_path / name
    (home / "data").mkdir(parents=True)
    (home / "cache").mkdir()
    url = f"sqlite:///{home / 'store.db'}"
    store = Store.open(url, environ=env, audit_key_path=home / "audit-key.pem", checkpoint_every=2)
    server = ApiServer.start(store, api_settings(home / "data", home / "cache"))
    server.tokens = tokens(store)
    return store, server, url


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Pair]:
    store_b, b, _ = _serve(tmp_path, "b", {**os.environ, "SHIELDWALL_AUDIT_WITNESS": "off"})
    witness_url = f"{b.url}/api/v1/witness/{TRAIL}/checkpoints"
    env = {
        **os.environ,
        "SHIELDWALL_AUDIT_WITNESS": "off",  # the attacker below also removed any local file: only B remains
        "SHIELDWALL_AUDIT_WITNESS_URL": witness_url,
        "SHIELDWALL_AUDIT_WITNESS_TOKEN": b.tokens[Role.OPERATOR],
    }
    try:
        store_a, a, url_a = _serve(tmp_path, "a", env)
        try:
            yield Pair(a, b, store_a, url_a, witness_url, env)
        finally:
            a.stop()
            store_a.close()
    finally:
        b.stop()
        store_b.close()


def _activity(pair: Pair, count: int) -> None:
    """Audited actions on A through its API (each token creation is an audit event)."""
    with pair.a.client(Role.ADMIN) as client:
        for index in range(count):
            assert client.post("/api/v1/tokens", json={"name": f"ci-{index}", "role": "viewer"}).status_code == 201


def _witnessed(pair: Pair) -> list[int]:
    with pair.b.client(Role.VIEWER) as client:
        response = client.get(f"/api/v1/witness/{TRAIL}/checkpoints")
    assert response.status_code == 200
    return [int(line.split('"seq":')[1].split(",")[0]) for line in response.text.splitlines() if line]


def _verify(pair: Pair, witness: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shieldwall", "audit", "verify", "--witness", witness],
        capture_output=True,
        text=True,
        timeout=120,
        env={
            **pair.env,
            "SHIELDWALL_DATABASE_URL": pair.url_a,
            "SHIELDWALL_AUDIT_WITNESS_TOKEN": pair.b.tokens[Role.VIEWER],
            **env,
        },
    )


def _head(store: Store) -> int:
    with store.engine.begin() as conn:
        return int(conn.execute(text("SELECT max(seq) FROM audit_events")).scalar_one())


def test_checkpoints_reach_the_witness_and_verify_checks_against_it(pair: Pair) -> None:
    _activity(pair, 6)
    head = _head(pair.store_a)
    seen = _witnessed(pair)
    assert seen and seen == sorted(seen) and all(seq % 2 == 0 for seq in seen) and max(seen) <= head
    ok = _verify(pair, pair.witness_url)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "intact" in ok.stdout
    # the attacker truncates A's trail below the last witnessed checkpoint (and its checkpoint rows)
    with pair.store_a.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq > :k"), {"k": seen[0] - 1})
        conn.execute(text("DELETE FROM audit_checkpoints WHERE seq >= :k"), {"k": seen[0]})
    broken = _verify(pair, pair.witness_url)
    assert broken.returncode == 1 and "witness saw a signed checkpoint" in (broken.stdout + broken.stderr)


def test_the_witness_is_append_only_and_authenticated(pair: Pair) -> None:
    _activity(pair, 4)
    seen = _witnessed(pair)
    assert seen
    route = f"/api/v1/witness/{TRAIL}/checkpoints"
    first = {"seq": seen[0], "hash": "0" * 64}
    with pair.b.client(Role.OPERATOR) as client:
        assert client.post(route, json={"checkpoints": [first]}).status_code == 409  # rewrite refused
        older = {"seq": seen[0] - 1, "hash": "1" * 64}
        assert client.post(route, json={"checkpoints": [older]}).status_code == 409  # no going back
        assert client.delete(route).status_code == 405
        assert client.put(route, json={"checkpoints": [first]}).status_code == 405
    with pair.b.client(Role.VIEWER) as client:
        assert client.post(route, json={"checkpoints": [{"seq": 10**6, "hash": "2" * 64}]}).status_code == 403
    with httpx.Client(base_url=pair.b.url) as anonymous:
        assert anonymous.get(route).status_code == 401
        assert anonymous.post(route, json={"checkpoints": [{"seq": 10**6, "hash": "2" * 64}]}).status_code == 401
    assert _witnessed(pair) == seen  # nothing above changed the witness
    with pair.b.client(Role.OPERATOR) as client:  # a retry of what was witnessed is accepted, not duplicated
        lines = client.get(route).text.splitlines()
        again = [json.loads(line) for line in lines]
        for item in again:
            item.pop("type", None)
        response = client.post(route, json={"checkpoints": again})
        assert response.status_code == 200 and response.json()["accepted"] == 0
    assert _witnessed(pair) == seen


def test_egress_policy_applies_to_the_witness_url(pair: Pair, monkeypatch: pytest.MonkeyPatch) -> None:
    # sending: the server's policy denies loopback unless SHIELDWALL_EGRESS_ALLOW allows it
    env = {k: v for k, v in pair.env.items() if k != "SHIELDWALL_EGRESS_ALLOW"}
    witness = HttpWitness.from_environ(env)
    assert witness is not None
    before = _witnessed(pair)
    pair.store_a.http_witness = witness
    _activity(pair, 4)
    assert _witnessed(pair) == before  # never sent: refused by the egress policy
    # verifying: the CLI's policy refuses link-local (cloud metadata) addresses
    refused = _verify(pair, "http://169.254.169.254/latest/witness")
    assert refused.returncode == 2 and "egress policy" in refused.stderr
