"""Idempotent scan recording: one row per (asset digest, scan request), claimed in the recording transaction.

A task queue delivers at least once: a worker killed after it recorded a scan
but before it acknowledged the task, or a broker that redelivers after its
visibility timeout, hands the same scan to a second worker. ``record_scan``
with a ``request_key`` first claims ``sha256(asset digest, request)`` in
``scan_idempotency`` (primary key, so the database itself refuses a second
row). On PostgreSQL a concurrent claim of the same key waits for the first
transaction and then fails its insert inside a savepoint; the claim then
reads the winner's row and the second delivery records nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shieldwall.model import ScanResult
from shieldwall.store.schema import Asset, ScanIdempotency


def idempotency_key(asset_digest: str, request: str) -> str:
    """The key of one scan request about one asset (hex SHA-256)."""
    return hashlib.sha256(f"{asset_digest}\n{request}".encode()).hexdigest()


@dataclass(slots=True)
class Claim:
    """A claimed key (``existing`` is set when the scan was recorded before)."""

    key: str
    existing: object | None = None


def _existing(session: Session, key: str) -> object | None:
    from shieldwall.store.records import ScanRecord

    row = session.scalars(
        select(ScanIdempotency).where(ScanIdempotency.key == key).execution_options(populate_existing=True)
    ).first()
    if row is None or row.scan_id is None or row.asset_id is None:
        return None
    asset = session.get(Asset, row.asset_id)
    return ScanRecord(
        scan_id=row.scan_id,
        asset_id=row.asset_id,
        asset_identifier=asset.identifier if asset is not None else row.asset_digest,
        golden=asset.golden if asset is not None else False,
        counts={},
        drift=0,
        duplicate=True,
    )


def claim_scan(session: Session, result: ScanResult, request: str, now: dt.datetime) -> Claim:
    """Claim (asset digest, request) in ``session``'s transaction, or return the record already made."""
    from shieldwall.store.records import asset_identity

    _, digest = asset_identity(result)
    key = idempotency_key(digest, request)
    found = _existing(session, key)
    if found is not None:
        return Claim(key, found)
    try:
        with session.begin_nested():
            session.add(ScanIdempotency(key=key, asset_digest=digest[:160], request=request[:256], created_at=now))
    except IntegrityError:
        # another worker recorded the same request first (PostgreSQL made this insert wait for it)
        found = _existing(session, key)
        if found is None:
            raise
        return Claim(key, found)
    return Claim(key)


def finish_claim(session: Session, claim: Claim, scan_id: int, asset_id: int) -> None:
    """Point the claimed key at the scan it recorded (same transaction as the scan)."""
    row = session.get(ScanIdempotency, claim.key)
    if row is not None:
        row.scan_id = scan_id
        row.asset_id = asset_id
