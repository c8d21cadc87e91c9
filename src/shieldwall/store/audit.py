"""The audit trail: an append-only, hash-chained event log with Ed25519-signed checkpoints.

Each event has a sequence number (1, 2, 3...), a time, an actor, an action,
a target and details. Its ``hash`` is the SHA-256 of the canonical JSON
(sorted keys, no spaces, UTF-8) of all those fields plus ``prev_hash``, the
hash of the event before it (64 zeros for the first). Editing any field of
an event breaks its own hash; deleting, inserting or reordering events breaks
a sequence number or a ``prev_hash`` link. ``verify`` walks the chain in order
and names the first broken link.

A chain alone can be rewritten from a point on by someone who recomputes
every later hash, so every ``checkpoint_every`` events (and on demand) the
head is signed with an Ed25519 key that lives outside the database and the
data directory (a PEM file, mode 0600, under the configuration directory, or
``SHIELDWALL_AUDIT_KEY``): a rewrite up to a checkpoint no longer matches its
signature. ``verify`` also fails when a checkpoint the cadence requires is
missing (checkpoint rows deleted). Every checkpoint is also written to a
witness outside the database (``witness.py``): a re-chained and truncated
trail no longer matches what the witness saw. Events after the last
checkpoint are only chained; ``verify`` says how many.

Appends happen inside the caller's transaction, so a recorded change and its
audit event commit together or not at all. Concurrent appends are
serialised (an advisory transaction lock on PostgreSQL, ``BEGIN IMMEDIATE``
on SQLite) so two writers never fork the chain.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from shieldwall.errors import ConfigError, InputError
from shieldwall.store.core import Store
from shieldwall.store.schema import AuditCheckpoint, AuditEvent
from shieldwall.store.witness import WitnessEntry, witness_after_commit

GENESIS = "0" * 64
_ADVISORY_LOCK_ID = 0x5348_4C44_4155_4454 & 0x7FFF_FFFF_FFFF_FFFF  # "SHLDAUDT"
MAX_DETAILS_BYTES = 256 * 1024
VERIFY_BATCH = 5000


class AuditAction(StrEnum):
    """What an event records (free text is allowed; these are the ones Shieldwall writes)."""

    SCAN = "scan.recorded"
    VERDICT = "scan.verdict"
    EXCEPTION_ADDED = "exception.added"
    EXCEPTION_REVOKED = "exception.revoked"
    POLICY_CHANGED = "policy.changed"
    DB_UPDATED = "vulndb.updated"
    REMATCH = "rematch.completed"
    ALERT_SENT = "alert.sent"
    ALERT_FAILED = "alert.dead"
    CONFIG_CHANGED = "config.changed"
    ASSET_CHANGED = "asset.changed"
    CHECKPOINT = "audit.checkpoint"


def default_actor() -> str:
    """``user@host`` of the current process (``SHIELDWALL_ACTOR`` overrides it)."""
    explicit = os.environ.get("SHIELDWALL_ACTOR", "").strip()
    if explicit:
        return explicit
    try:
        user = os.getlogin()
    except OSError:
        import getpass

        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = f"uid{os.getuid()}"
    return f"{user}@{os.uname().nodename}"


def _now_text() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


def canonical_json(doc: Mapping[str, Any]) -> str:
    """Sorted keys, no spaces, non-ASCII kept: the one text an event's hash is computed over."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def event_document(
    seq: int, at: str, actor: str, action: str, target: str, details: str, prev_hash: str
) -> dict[str, Any]:
    """The fields an event's hash covers (``details`` is already canonical JSON text)."""
    return {
        "seq": seq,
        "at": at,
        "actor": actor,
        "action": action,
        "target": target,
        "details": details,
        "prev_hash": prev_hash,
    }


def event_hash(doc: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of an event document."""
    return hashlib.sha256(canonical_json(doc).encode("utf-8")).hexdigest()


def _row_hash(row: AuditEvent) -> str:
    return event_hash(event_document(row.seq, row.at, row.actor, row.action, row.target, row.details, row.prev_hash))


# -- the signing key ----------------------------------------------------------------------------


def load_or_create_key(path: Path) -> Ed25519PrivateKey:
    """The Ed25519 private key at ``path`` (PEM, PKCS#8); created with mode 0600 when missing."""
    if path.is_file():
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"{path}: not an unencrypted PEM private key ({exc})") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise ConfigError(f"{path}: the audit key must be an Ed25519 key")
        return key
    key = Ed25519PrivateKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first
        return load_or_create_key(path)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    path.with_name(path.stem + ".pub.pem").write_bytes(public)
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """An Ed25519 public key from a PEM file (a private key file works too)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    try:
        if b"PRIVATE KEY" in data:
            private = serialization.load_pem_private_key(data, password=None)
            if isinstance(private, Ed25519PrivateKey):
                return private.public_key()
        else:
            public = serialization.load_pem_public_key(data)
            if isinstance(public, Ed25519PublicKey):
                return public
    except (ValueError, TypeError) as exc:
        raise InputError(f"{path}: not a PEM key ({exc})") from None
    raise InputError(f"{path}: not an Ed25519 key")


def key_id(public: Ed25519PublicKey) -> str:
    """First 16 hex digits of the SHA-256 of the raw public key."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def checkpoint_message(seq: int, event_hash_hex: str, at: str, kid: str) -> bytes:
    """What a checkpoint signs."""
    doc = {"seq": seq, "hash": event_hash_hex, "at": at, "key_id": kid, "type": "shieldwall-audit-checkpoint"}
    return canonical_json(doc).encode("utf-8")


# -- appending ----------------------------------------------------------------------------------


def _lock_chain(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _ADVISORY_LOCK_ID})
    # SQLite: every store transaction is BEGIN IMMEDIATE, which already excludes other writers.


def _head(session: Session) -> tuple[int, str]:
    row = session.execute(select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)).first()
    return (int(row[0]), str(row[1])) if row else (0, GENESIS)


def append_event(
    store: Store,
    session: Session,
    action: str,
    target: str,
    details: Mapping[str, Any] | None = None,
    *,
    actor: str = "",
) -> AuditEvent:
    """Append one event inside ``session``'s transaction; sign a checkpoint when one is due."""
    body = canonical_json(dict(details or {}))
    if len(body.encode("utf-8")) > MAX_DETAILS_BYTES:
        body = canonical_json({"truncated": True, "size": len(body)})
    _lock_chain(session)
    seq, prev = _head(session)
    seq += 1
    at = _now_text()
    who = actor or default_actor()
    doc = event_document(seq, at, who, str(action), target, body, prev)
    row = AuditEvent(
        seq=seq, at=at, actor=who, action=str(action), target=target, details=body, prev_hash=prev, hash=event_hash(doc)
    )
    session.add(row)
    session.flush()
    if store.checkpoint_every and seq % store.checkpoint_every == 0:
        _sign(store, session, row)
    return row


def record(
    store: Store, action: str, target: str, details: Mapping[str, Any] | None = None, *, actor: str = ""
) -> AuditEvent:
    """Append one event in its own transaction."""
    with store.session() as session:
        return append_event(store, session, action, target, details, actor=actor)


def _sign(store: Store, session: Session, head: AuditEvent) -> AuditCheckpoint:
    key = load_or_create_key(store.audit_key_path)
    kid = key_id(key.public_key())
    at = _now_text()
    signature = key.sign(checkpoint_message(head.seq, head.hash, at, kid)).hex()
    checkpoint = AuditCheckpoint(seq=head.seq, event_hash=head.hash, at=at, key_id=kid, signature=signature)
    session.add(checkpoint)
    session.flush()
    entry = WitnessEntry(head.seq, head.hash, at, kid, signature)
    witness_after_commit(session, store.witness_path, entry, getattr(store, "http_witness", None))
    return checkpoint


def checkpoint(store: Store, *, actor: str = "") -> AuditCheckpoint | None:
    """Sign the current head now (after recording a checkpoint event); None on an empty trail."""
    with store.session() as session:
        _lock_chain(session)
        if _head(session)[0] == 0:
            return None
        event = append_event(store, session, AuditAction.CHECKPOINT, "audit", {}, actor=actor)
        existing = session.scalars(select(AuditCheckpoint).where(AuditCheckpoint.seq == event.seq)).first()
        return existing or _sign(store, session, event)


# -- verifying ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Break:
    """The first broken link: at which sequence number, and what is wrong there."""

    seq: int
    problem: str

    def __str__(self) -> str:
        return f"event {self.seq}: {self.problem}"


@dataclass(slots=True)
class VerifyReport:
    """The outcome of ``verify``: events and checkpoints checked, the first break, what is unsigned."""

    events: int = 0
    checkpoints: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS
    last_signed_seq: int = 0
    broken: Break | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no link is broken."""
        return self.broken is None

    @property
    def unsigned_events(self) -> int:
        """Events after the last valid checkpoint: chained, not yet signed."""
        return max(0, self.head_seq - self.last_signed_seq)


def _iter_events(session: Session) -> Iterator[AuditEvent]:
    last = None
    while True:
        query = select(AuditEvent).order_by(AuditEvent.seq).limit(VERIFY_BATCH)
        if last is not None:
            query = query.where(AuditEvent.seq > last)
        rows = list(session.scalars(query))
        if not rows:
            return
        yield from rows
        last = rows[-1].seq
        session.expunge_all()


def verify(
    store: Store,
    public_key: Ed25519PublicKey | Sequence[Ed25519PublicKey] | None = None,
    witness: Sequence[WitnessEntry] | None = None,
) -> VerifyReport:
    """Walk the chain, the checkpoints and a witness; report the first broken link (``report.ok`` when none).

    ``public_key`` defaults to the public half of the store's audit key (when
    the key file exists); without a key, checkpoint signatures cannot be
    checked and ``verify`` says so in ``notes``. Every event the cadence
    (``checkpoint_every``) or an ``audit.checkpoint`` event says was signed must
    have its checkpoint. ``witness`` (default: the store's witness file when it
    exists) lists checkpoints seen outside the database: the trail may not end
    before the last of them, nor differ from any of them.
    """
    report = VerifyReport()
    if public_key is None and store.audit_key_path.is_file():
        public_key = load_public_key(store.audit_key_path)
    # several keys: the current one and the public halves of rotated ones (docs/trust.md)
    keys = [public_key] if isinstance(public_key, Ed25519PublicKey) else list(public_key or ())
    if witness is None and store.witness_path is not None and store.witness_path.is_file():
        from shieldwall.store.witness import load_witness

        witness = load_witness(str(store.witness_path))
        report.notes.append(f"checked against the witness {store.witness_path} ({len(witness)} checkpoint(s))")
    witnessed = {w.seq: w for w in witness or ()}
    with store.session() as session:
        hashes_at_checkpoints = _check_chain(session, report, set(witnessed), store.checkpoint_every)
        _check_checkpoints(session, report, hashes_at_checkpoints, keys)
        _check_witness(report, hashes_at_checkpoints, witnessed)
    return report


def _check_witness(report: VerifyReport, hashes: Mapping[int, str], witnessed: Mapping[int, WitnessEntry]) -> None:
    if not witnessed:
        return
    last = max(witnessed)
    if report.head_seq < last and (report.broken is None or report.broken.seq > last):
        report.broken = Break(
            last,
            f"the trail ends at event {report.head_seq} but the witness saw a signed checkpoint at event {last}: "
            "the trail was truncated",
        )
        return
    for seq in sorted(witnessed):
        if report.broken is not None and report.broken.seq <= seq:
            return
        if hashes.get(seq) != witnessed[seq].hash:
            report.broken = Break(
                seq, "does not match the checkpoint the witness saw: the chain up to here was rewritten"
            )
            return


def _check_chain(
    session: Session, report: VerifyReport, witnessed: set[int] | None = None, every: int = 0
) -> dict[int, str]:
    checkpoint_seqs = set(session.scalars(select(AuditCheckpoint.seq)))
    wanted = checkpoint_seqs | (witnessed or set())
    required: list[int] = []
    seen: dict[int, str] = {}
    expected_seq, prev = 1, GENESIS
    for row in _iter_events(session):
        report.events += 1
        if report.broken is None:
            if row.seq != expected_seq:
                if row.seq > expected_seq:
                    missing = f"{expected_seq}" if row.seq == expected_seq + 1 else f"{expected_seq}-{row.seq - 1}"
                    problem = f"sequence jumps from {expected_seq - 1} to {row.seq}: event(s) {missing} deleted"
                else:  # pragma: no cover - the primary key forbids duplicates
                    problem = f"sequence number repeats (expected {expected_seq})"
                report.broken = Break(row.seq, problem)
            elif _row_hash(row) != row.hash:
                report.broken = Break(row.seq, "content does not match its hash: the event was edited or reordered")
            elif row.prev_hash != prev:
                report.broken = Break(
                    row.seq,
                    f"does not link to event {row.seq - 1} (prev_hash {row.prev_hash[:12]}… is not "
                    f"{prev[:12]}…): an event before it was deleted, inserted or replaced",
                )
        if row.seq in wanted:
            seen[row.seq] = row.hash
        if (every and row.seq % every == 0) or row.action == AuditAction.CHECKPOINT:
            required.append(row.seq)
        expected_seq, prev = row.seq + 1, row.hash
        report.head_seq, report.head_hash = row.seq, row.hash
    unsigned = next((seq for seq in required if seq not in checkpoint_seqs), None)
    if unsigned is not None and (report.broken is None or report.broken.seq > unsigned):
        cadence = bool(every) and unsigned % every == 0
        reason = f"the cadence (every {every} events)" if cadence else "an audit.checkpoint event"
        report.broken = Break(
            unsigned, f"no signed checkpoint where {reason} requires one: checkpoint rows were deleted"
        )
    return seen


def _check_checkpoints(
    session: Session, report: VerifyReport, hashes: Mapping[int, str], public_keys: Sequence[Ed25519PublicKey]
) -> None:
    by_kid = {key_id(k): k for k in public_keys}
    rows = list(session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.seq, AuditCheckpoint.id)))
    for cp in rows:
        report.checkpoints += 1
        if report.broken is not None and report.broken.seq <= cp.seq:
            continue
        actual = hashes.get(cp.seq)
        if actual is None:
            report.broken = Break(cp.seq, "a signed checkpoint names this event, which is missing (trail truncated)")
            continue
        if actual != cp.event_hash:
            report.broken = Break(cp.seq, "does not match the signed checkpoint: the chain up to here was rewritten")
            continue
        if not by_kid:
            continue
        key = by_kid.get(cp.key_id)
        if key is None:
            known = ", ".join(sorted(by_kid))
            report.notes.append(f"checkpoint at event {cp.seq} was signed by key {cp.key_id}, not {known}: not checked")
            continue
        try:
            key.verify(bytes.fromhex(cp.signature), checkpoint_message(cp.seq, cp.event_hash, cp.at, cp.key_id))
        except (InvalidSignature, ValueError):
            report.broken = Break(cp.seq, "checkpoint signature is invalid: the checkpoint was forged or edited")
            continue
        report.last_signed_seq = max(report.last_signed_seq, cp.seq)
    if not by_kid and rows:
        report.notes.append("no audit key available: checkpoint signatures were not checked")
    count = session.scalar(select(func.count()).select_from(AuditEvent)) or 0
    if count != report.events:  # pragma: no cover - rows added while verifying
        report.notes.append("events were appended while verifying")


# -- exporting ----------------------------------------------------------------------------------

EXPORT_FIELDS = ("seq", "at", "actor", "action", "target", "details", "prev_hash", "hash")


def iter_export(store: Store, since: str = "", until: str = "") -> Iterator[dict[str, Any]]:
    """Events whose time is within ``[since, until)`` (ISO 8601 texts; empty = open), in chain order."""
    since_key, until_key = _time_key(since, "since"), _time_key(until, "until")
    with store.session() as session:
        for row in _iter_events(session):
            if since_key and row.at < since_key:
                continue
            if until_key and row.at >= until_key:
                continue
            yield {name: getattr(row, name) for name in EXPORT_FIELDS}


def _time_key(value: str, label: str) -> str:
    if not value:
        return ""
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"--{label}: not an ISO 8601 date or time: {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC).isoformat(timespec="microseconds")


def export_text(store: Store, fmt: str, since: str = "", until: str = "") -> Iterator[str]:
    """The export as JSON Lines (``jsonl``) or CSV (``csv``) text chunks."""
    if fmt == "jsonl":
        for doc in iter_export(store, since, until):
            yield json.dumps(doc, ensure_ascii=False, sort_keys=True) + "\n"
        return
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=EXPORT_FIELDS, lineterminator="\n")
        writer.writeheader()
        yield buffer.getvalue()
        for doc in iter_export(store, since, until):
            buffer.seek(0)
            buffer.truncate()
            writer.writerow(doc)
            yield buffer.getvalue()
        return
    raise InputError(f"unknown export format {fmt!r} (choose jsonl or csv)")
