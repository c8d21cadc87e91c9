"""The audit trail against an attacker with write access to the database (SQLite and PostgreSQL).

The attack of issue #11: delete the checkpoint rows, edit an event, re-chain
every later hash and truncate the tail. The chain alone cannot tell; the
checkpoint cadence and the witness outside the database can.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from shieldwall.store import Store
from shieldwall.store.audit import GENESIS, event_document, event_hash, record, verify
from shieldwall.store.witness import WitnessEntry, append_witness, load_witness


def _fill(store: Store, count: int) -> None:
    for index in range(count):
        record(store, "scan.recorded", f"image:sha256:{index:064x}", {"index": index}, actor="tester")


def _rechain(store: Store, edit_seq: int) -> None:
    """Edit one event and recompute every hash after it, as someone with the database but not the key would."""
    with store.engine.begin() as conn:
        rows = conn.execute(text("SELECT seq, at, actor, action, target, details FROM audit_events ORDER BY seq")).all()
        prev = GENESIS
        for seq, at, actor, action, target, details in rows:
            actor = "mallory" if seq == edit_seq else actor
            new = event_hash(event_document(seq, at, actor, action, target, details, prev))
            conn.execute(
                text("UPDATE audit_events SET actor = :a, prev_hash = :p, hash = :h WHERE seq = :s"),
                {"a": actor, "p": prev, "h": new, "s": seq},
            )
            prev = new


def _delete_checkpoints(store: Store) -> None:
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_checkpoints"))


def _truncate(store: Store, keep: int) -> None:
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq > :k"), {"k": keep})


@pytest.fixture
def witnessed(store: Store, tmp_path: Path) -> Store:
    store.witness_path = tmp_path / "outside-the-data-dir" / "witness.jsonl"
    return store


def test_every_checkpoint_is_witnessed_outside_the_database(witnessed: Store) -> None:
    _fill(witnessed, 12)
    assert witnessed.witness_path is not None
    entries = load_witness(str(witnessed.witness_path))
    assert [e.seq for e in entries] == [5, 10]
    assert witnessed.witness_path.stat().st_mode & 0o777 == 0o600
    report = verify(witnessed)
    assert report.ok, report.broken


def test_the_whole_attack_is_caught_by_the_witness(witnessed: Store) -> None:
    _fill(witnessed, 12)
    _delete_checkpoints(witnessed)
    _rechain(witnessed, edit_seq=2)
    _truncate(witnessed, keep=4)  # below the first checkpoint: the cadence asks for none
    assert witnessed.witness_path is not None
    blind = verify(witnessed, witness=[])
    assert blind.ok  # what the database alone can prove: nothing (this is why the witness exists)
    report = verify(witnessed)
    assert report.broken is not None and report.broken.seq == 10
    assert "truncated" in report.broken.problem and "ends at event 4" in report.broken.problem


def test_rechained_trail_without_truncation_is_caught(witnessed: Store) -> None:
    _fill(witnessed, 12)
    _delete_checkpoints(witnessed)
    _rechain(witnessed, edit_seq=2)
    cadence = verify(witnessed, witness=[])
    assert cadence.broken is not None and cadence.broken.seq == 5
    assert "cadence (every 5 events)" in cadence.broken.problem
    assert witnessed.witness_path is not None
    with_witness = verify(witnessed, witness=load_witness(str(witnessed.witness_path)))
    assert with_witness.broken is not None and with_witness.broken.seq == 5


def test_deleted_checkpoint_rows_alone_are_caught(store: Store) -> None:
    _fill(store, 7)
    _delete_checkpoints(store)
    report = verify(store, witness=[])
    assert (
        report.broken is not None and report.broken.seq == 5 and "checkpoint rows were deleted" in report.broken.problem
    )


def test_a_witnessed_checkpoint_that_no_longer_matches(witnessed: Store) -> None:
    _fill(witnessed, 6)
    forged = [WitnessEntry(5, "f" * 64)]
    report = verify(witnessed, witness=forged)
    assert report.broken is not None and report.broken.seq == 5 and "witness" in report.broken.problem


def test_a_rolled_back_checkpoint_is_not_witnessed(witnessed: Store) -> None:
    from shieldwall.store.audit import append_event

    _fill(witnessed, 4)
    with pytest.raises(RuntimeError), witnessed.session() as session:
        append_event(witnessed, session, "scan.recorded", "x", {}, actor="t")  # seq 5: signed, then rolled back
        raise RuntimeError("abort")
    assert witnessed.witness_path is not None and not witnessed.witness_path.exists()
    _fill(witnessed, 1)
    assert [e.seq for e in load_witness(str(witnessed.witness_path))] == [5]
    assert verify(witnessed).ok


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A real HTTP server (another host's witness copy) over a directory in tmp_path."""
    root = tmp_path / "served"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def test_verify_against_a_witness_served_over_http(witnessed: Store, served: tuple[Path, str]) -> None:
    root, base = served
    _fill(witnessed, 10)
    assert witnessed.witness_path is not None
    shutil.copy(witnessed.witness_path, root / "witness.jsonl")
    witnessed.witness_path = None  # the local copy is gone: only the remote witness remains
    _delete_checkpoints(witnessed)
    _rechain(witnessed, edit_seq=3)
    _truncate(witnessed, keep=4)
    report = verify(witnessed, witness=load_witness(f"{base}/witness.jsonl"))
    assert report.broken is not None and "truncated" in report.broken.problem


def test_the_witness_file_is_made_append_only_where_supported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if shutil.which("chattr") is None or shutil.which("lsattr") is None:
        pytest.skip("chattr/lsattr not installed")
    monkeypatch.setenv("SHIELDWALL_AUDIT_WITNESS_APPEND_ONLY", "1")
    path = tmp_path / "w.jsonl"
    try:
        append_witness(path, [WitnessEntry(5, "a" * 64)])
        flags = subprocess.run(["lsattr", str(path)], capture_output=True, text=True, check=False).stdout.split()
        if not flags or "a" not in flags[0]:
            pytest.skip("this file system or user cannot set the append-only attribute")
        with pytest.raises(PermissionError):
            path.write_text("")  # truncating an append-only file is refused, even to root
        append_witness(path, [WitnessEntry(10, "b" * 64)])  # appending still works
        assert [e.seq for e in load_witness(str(path))] == [5, 10]
    finally:
        subprocess.run(["chattr", "-a", str(path)], capture_output=True, check=False)


def test_key_and_witness_live_outside_the_data_directory(tmp_path: Path) -> None:
    from shieldwall.store.core import default_audit_key_path
    from shieldwall.store.witness import default_witness_path

    env = {"SHIELDWALL_DATA_DIR": str(tmp_path / "data"), "SHIELDWALL_CONFIG_DIR": str(tmp_path / "config")}
    assert default_audit_key_path(env) == tmp_path / "config" / "audit" / "ed25519-private.pem"
    assert default_witness_path(env) == tmp_path / "config" / "audit" / "witness.jsonl"
    assert default_witness_path({**env, "SHIELDWALL_AUDIT_WITNESS": "off"}) is None
    assert default_audit_key_path({**env, "SHIELDWALL_AUDIT_KEY": str(tmp_path / "k.pem")}) == tmp_path / "k.pem"
    legacy = tmp_path / "data" / "audit" / "ed25519-private.pem"  # an older install keeps its key until moved
    legacy.parent.mkdir(parents=True)
    legacy.write_text("x")
    assert default_audit_key_path(env) == legacy


def test_cli_audit_verify_with_a_witness(tmp_path: Path) -> None:
    import json
    import os
    import sys

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "SHIELDWALL_AUDIT_CHECKPOINT_EVERY": "5"}
    store = Store.open(checkpoint_every=5)
    try:
        _fill(store, 10)
        witness = store.witness_path
        assert witness is not None and witness.is_file()
        copy = tmp_path / "witness-copy.jsonl"
        shutil.copy(witness, copy)
        witness.unlink()  # the attacker also removed the local witness; the copy elsewhere survives
        _delete_checkpoints(store)
        _rechain(store, edit_seq=1)
        _truncate(store, keep=3)
    finally:
        store.close()

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "shieldwall", "audit", "verify", "--format", "json", *args]
        return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, check=False)

    assert run().returncode == 0  # nothing outside the database: the rewrite is invisible
    caught = run("--witness", str(copy))
    assert caught.returncode == 1
    assert "truncated" in json.loads(caught.stdout)["broken"]["problem"]


def test_key_rotation_keeps_old_checkpoints_verifiable(store: Store, tmp_path: Path) -> None:
    """The documented rotation: checkpoint, keep the old public key, start a new key, verify with both."""
    from shieldwall.store.audit import checkpoint, load_public_key

    _fill(store, 5)  # signed by the first key
    old_public = load_public_key(store.audit_key_path)
    checkpoint(store)
    store.audit_key_path = tmp_path / "new-key.pem"  # SHIELDWALL_AUDIT_KEY pointed at a new file
    _fill(store, 5)  # the next checkpoint creates and uses the new key
    new_public = load_public_key(store.audit_key_path)
    only_new = verify(store, new_public)
    assert only_new.ok and any("not checked" in n for n in only_new.notes)
    both = verify(store, [old_public, new_public])
    assert both.ok and not any("not checked" in n for n in both.notes) and both.last_signed_seq == 10
    with store.engine.begin() as conn:  # a forged old-key checkpoint is still caught after the rotation
        conn.execute(text("UPDATE audit_checkpoints SET signature = :s WHERE seq = 5"), {"s": "00" * 64})
    assert verify(store, [old_public, new_public]).broken is not None
