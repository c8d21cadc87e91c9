"""Witnesses of the audit trail: every signed checkpoint, also kept outside the database.

Someone with write access to the database can delete checkpoint rows, edit
an event, re-chain every later hash and truncate the tail; a chain checked
against itself cannot tell. A witness can: every checkpoint is also appended
to a JSON-lines file **outside the data directory** (default
``<config dir>/audit/witness-<store>.jsonl``, ``SHIELDWALL_AUDIT_WITNESS`` to move it,
``off`` to disable), made append-only with ``chattr +a`` where the file system
and privileges allow (best effort; ``SHIELDWALL_AUDIT_WITNESS_APPEND_ONLY=0``
skips it), and, when ``SHIELDWALL_AUDIT_SYSLOG=1``, sent to syslog/journald
(facility AUTH). Lines are written after the transaction that signed the
checkpoint commits, so a rolled-back checkpoint is never witnessed.

When ``SHIELDWALL_AUDIT_WITNESS_URL`` is set, every checkpoint is also POSTed to
an HTTP witness (another Shieldwall serves one: ``api/routes/witness.py``).

``audit verify --witness PATH|URL`` reads such a file (or the same lines served
over HTTP(S)) and fails when the trail is shorter than the last checkpoint the
witness saw, or when an event no longer has the hash a witnessed checkpoint
signed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from shieldwall import paths
from shieldwall.errors import InputError

if TYPE_CHECKING:
    from shieldwall.store.http_witness import HttpWitness

ENV_WITNESS = "SHIELDWALL_AUDIT_WITNESS"
ENV_APPEND_ONLY = "SHIELDWALL_AUDIT_WITNESS_APPEND_ONLY"
ENV_SYSLOG = "SHIELDWALL_AUDIT_SYSLOG"
MAX_WITNESS_BYTES = 64 * 1024 * 1024
_PENDING = "shieldwall_audit_witness"
log = logging.getLogger("shieldwall.audit")


@dataclass(frozen=True, slots=True)
class WitnessEntry:
    """One witnessed checkpoint: the event it signs, that event's hash, and the signature."""

    seq: int
    hash: str
    at: str = ""
    key_id: str = ""
    signature: str = ""

    def line(self) -> str:
        """The JSON line written to the witness file."""
        doc = {"type": "shieldwall-audit-checkpoint", "seq": self.seq, "hash": self.hash, "at": self.at}
        doc |= {"key_id": self.key_id, "signature": self.signature}
        return json.dumps(doc, sort_keys=True, separators=(",", ":")) + "\n"


def default_witness_path(environ: Mapping[str, str] | None = None, trail: str = "") -> Path | None:
    """``SHIELDWALL_AUDIT_WITNESS`` (``off`` disables), else ``<config dir>/audit/witness.jsonl``.

    ``trail`` names the store the witness belongs to (its URL without credentials):
    one configuration directory can serve several stores (SQLite and PostgreSQL, a test
    and a production store), and a witness must only ever hold one trail's checkpoints,
    so a named trail gets ``witness-<12 hex of its name>.jsonl``.
    """
    env = os.environ if environ is None else environ
    value = env.get(ENV_WITNESS, "").strip()
    if value.lower() in ("off", "none", "0"):
        return None
    if value:
        return Path(value).expanduser()
    name = f"witness-{hashlib.sha256(trail.encode()).hexdigest()[:12]}.jsonl" if trail else "witness.jsonl"
    return paths.config_dir(environ) / "audit" / name


def _make_append_only(path: Path) -> None:
    if os.environ.get(ENV_APPEND_ONLY, "1").strip() in ("0", "false", "no"):
        return
    chattr = shutil.which("chattr")
    if chattr is None:
        return
    with contextlib.suppress(OSError, subprocess.SubprocessError):  # unsupported file system or no privilege
        subprocess.run([chattr, "+a", str(path)], capture_output=True, timeout=10, check=False)


def append_witness(path: Path, entries: list[WitnessEntry]) -> None:
    """Append entries to the witness file (created 0600 and made append-only on first use)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    created = not path.exists()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as handle:
        for entry in entries:
            handle.write(entry.line())
        handle.flush()
        os.fsync(handle.fileno())
    if created:
        _make_append_only(path)


def _to_syslog(entries: list[WitnessEntry]) -> None:
    if os.environ.get(ENV_SYSLOG, "").strip() not in ("1", "true", "yes"):
        return
    import syslog

    for entry in entries:
        syslog.syslog(syslog.LOG_AUTH | syslog.LOG_NOTICE, "shieldwall-audit " + entry.line().strip())


def witness_after_commit(
    session: Session, path: Path | None, entry: WitnessEntry, http: HttpWitness | None = None
) -> None:
    """Queue ``entry`` to be witnessed once ``session``'s transaction commits (dropped on rollback).

    ``http``: also POST it to an HTTP witness (``http_witness.py``).
    """
    pending: list[WitnessEntry] | None = session.info.get(_PENDING)
    if pending is None:
        pending = session.info[_PENDING] = []

        def flush(committed: Session) -> None:
            entries = list(committed.info.pop(_PENDING, []))
            if not entries:
                return
            if path is not None:
                try:
                    append_witness(path, entries)
                except OSError as exc:  # the database checkpoint stands; the missing witness is visible
                    log.error("cannot write the audit witness %s: %s", path, exc)
            _to_syslog(entries)
            if http is not None:
                http.send_logged(entries)

        def drop(rolled_back: Session, _previous: object) -> None:
            rolled_back.info.pop(_PENDING, None)

        event.listen(session, "after_commit", flush, once=True)
        event.listen(session, "after_soft_rollback", drop)
    pending.append(entry)


def _parse_lines(text: str, label: str) -> list[WitnessEntry]:
    out: list[WitnessEntry] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            doc: Any = json.loads(line)
            out.append(
                WitnessEntry(
                    int(doc["seq"]),
                    str(doc["hash"]),
                    str(doc.get("at", "")),
                    str(doc.get("key_id", "")),
                    str(doc.get("signature", "")),
                )
            )
        except (ValueError, KeyError, TypeError):
            raise InputError(f"{label}:{number}: not a witness line") from None
    return out


def load_witness(source: str) -> list[WitnessEntry]:
    """Witnessed checkpoints from a JSON-lines file or an HTTP(S) URL serving the same lines."""
    if source.startswith(("http://", "https://")):
        from shieldwall.store.http_witness import fetch_witness

        body = fetch_witness(source, MAX_WITNESS_BYTES)  # egress policy and token: http_witness.py
        return _parse_lines(body.decode("utf-8", "replace"), source)
    path = Path(source)
    try:
        if path.stat().st_size > MAX_WITNESS_BYTES:
            raise InputError(f"{path}: witness larger than {MAX_WITNESS_BYTES} bytes")
        return _parse_lines(path.read_text(encoding="utf-8"), str(path))
    except OSError as exc:
        raise InputError(f"cannot read the witness {path}: {exc.strerror or exc}") from None
