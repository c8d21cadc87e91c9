"""Air-gapped database bundles: a tar of the SQLite file and a manifest with its SHA-256.

``export_bundle`` snapshots the database (SQLite backup API, so a
concurrent reader or writer cannot tear it) and writes::

    manifest.json   {"format": "shieldwall-vulndb-bundle", "database": {"sha256", "size"}, sources...}
    vulndb.sqlite
    manifest.sig    (optional) Ed25519 signature of manifest.json's exact bytes

``import_bundle`` accepts only those member names as regular files, bounds
their sizes, streams the database into a temporary file next to the target
while hashing it, and swaps it in only when the digest (and, when a public
key is given, the signature) checks out. Anything else raises
``CorruptInputError`` and leaves the current database untouched.

Keys are PEM Ed25519 keys, e.g. ``openssl genpkey -algorithm ed25519 -out
key.pem`` and ``openssl pkey -in key.pem -pubout -out key.pub.pem``; signatures use the ``cryptography`` package.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import tarfile
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from shieldwall import __version__
from shieldwall.errors import CorruptInputError, InputError, UnsafeInputError
from shieldwall.target.tarinfo import BoundedTarInfo
from shieldwall.vulndb.store import SCHEMA_VERSION, VulnDB, default_db_path, utc_now, writer_lock

BUNDLE_FORMAT = "shieldwall-vulndb-bundle"
BUNDLE_VERSION = 1
MANIFEST = "manifest.json"
DATABASE = "vulndb.sqlite"
SIGNATURE = "manifest.sig"
MAX_MANIFEST_BYTES = 1024 * 1024
MAX_SIGNATURE_BYTES = 1024
MAX_DATABASE_BYTES = 64 * 1024 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class BundleManifest:
    """What a bundle says about itself."""

    sha256: str
    size: int
    schema_version: int
    created_at: str
    tool_version: str = ""
    advisories: int = 0
    updated_at: str = ""
    sources: tuple[str, ...] = ()
    signed: bool = False


def _crypto() -> Any:
    try:
        from cryptography.hazmat.primitives import serialization
    except ImportError:  # pragma: no cover - depends on the environment
        raise InputError(
            "bundle signatures need the `cryptography` package: pip install 'shieldwall[signing]'"
        ) from None
    return serialization


def _sign(manifest: bytes, key_path: Path) -> bytes:
    serialization = _crypto()
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise InputError(f"{key_path}: cannot load the signing key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InputError(f"{key_path}: not an Ed25519 private key")
    signature: bytes = key.sign(manifest)
    return signature


def _verify(manifest: bytes, signature: bytes, key_path: Path) -> None:
    serialization = _crypto()
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = serialization.load_pem_public_key(key_path.read_bytes())
    except (OSError, ValueError, TypeError) as exc:
        raise InputError(f"{key_path}: cannot load the public key: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise InputError(f"{key_path}: not an Ed25519 public key")
    try:
        key.verify(signature, manifest)
    except InvalidSignature:
        raise CorruptInputError(
            "bundle signature does not verify with the given key; the database was not changed"
        ) from None


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mtime: float) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(mtime)
    info.mode = 0o644
    tar.addfile(info, _BytesReader(data))


class _BytesReader:
    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def read(self, size: int = -1) -> bytes:
        end = len(self._data) if size < 0 else self._pos + size
        chunk = self._data[self._pos : end]
        self._pos += len(chunk)
        return chunk


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


def export_bundle(bundle: Path, db_path: Path | None = None, *, signing_key: Path | None = None) -> BundleManifest:
    """Write a bundle of the database at ``db_path`` (default database) to ``bundle``; returns its manifest."""
    db_path = db_path or default_db_path()
    with VulnDB.open(db_path) as db:
        status = db.status()
        bundle.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=bundle.parent, prefix=".bundle-") as work:
            snapshot = Path(work) / DATABASE
            db.backup_to(snapshot)
            size = snapshot.stat().st_size
            sha = _sha256_file(snapshot)
            doc = {
                "format": BUNDLE_FORMAT,
                "bundle_version": BUNDLE_VERSION,
                "schema_version": SCHEMA_VERSION,
                "created_at": utc_now(),
                "tool_version": __version__,
                "database": {"name": DATABASE, "sha256": sha, "size": size},
                "advisories": status.advisories,
                "updated_at": status.last_update,
                "sources": [{"name": s.name, "url": s.url, "imported_at": s.imported_at} for s in status.sources],
            }
            manifest = json.dumps(doc, indent=2, sort_keys=True).encode("utf-8")
            signature = _sign(manifest, signing_key) if signing_key else None
            tmp = Path(work) / "bundle.tar"
            now = time.time()
            with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
                _add_bytes(tar, MANIFEST, manifest, now)
                info = tar.gettarinfo(str(snapshot), arcname=DATABASE)
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                with snapshot.open("rb") as f:
                    tar.addfile(info, f)
                if signature is not None:
                    _add_bytes(tar, SIGNATURE, signature, now)
            os.replace(tmp, bundle)
    return _manifest_value(doc, signed=signature is not None)


def _manifest_value(doc: Mapping[str, Any], signed: bool) -> BundleManifest:
    database = doc.get("database")
    if doc.get("format") != BUNDLE_FORMAT or not isinstance(database, Mapping):
        raise CorruptInputError(f"not a Shieldwall database bundle (format {doc.get('format')!r})")
    sha, size = database.get("sha256"), database.get("size")
    if not isinstance(sha, str) or len(sha) != 64 or not isinstance(size, int) or size < 0:
        raise CorruptInputError("bundle manifest lacks a valid database sha256 and size")
    schema = doc.get("schema_version")
    sources = doc.get("sources") if isinstance(doc.get("sources"), list) else []
    assert isinstance(sources, list)
    return BundleManifest(
        sha256=sha.lower(),
        size=size,
        schema_version=schema if isinstance(schema, int) else 0,
        created_at=str(doc.get("created_at", "")),
        tool_version=str(doc.get("tool_version", "")),
        advisories=int(doc.get("advisories", 0) or 0),
        updated_at=str(doc.get("updated_at", "")),
        sources=tuple(str(s.get("name", "")) for s in sources if isinstance(s, Mapping)),
        signed=signed,
    )


def _read_member(tar: tarfile.TarFile, info: tarfile.TarInfo, limit: int) -> bytes:
    if info.size > limit:
        raise UnsafeInputError(f"bundle member {info.name!r} is {info.size} bytes, above the {limit}-byte limit")
    f = tar.extractfile(info)
    if f is None:
        raise CorruptInputError(f"bundle member {info.name!r} cannot be read")
    with f:
        return f.read(limit + 1)


def _copy_member(f: IO[bytes], out: IO[bytes], expected: int) -> tuple[str, int]:
    digest = hashlib.sha256()
    total = 0
    for block in iter(lambda: f.read(1024 * 1024), b""):
        total += len(block)
        if total > expected:
            break
        digest.update(block)
        out.write(block)
    return digest.hexdigest(), total


def import_bundle(
    bundle: Path,
    db_path: Path | None = None,
    *,
    public_key: Path | None = None,
) -> BundleManifest:
    """Verify ``bundle`` and make its database the one at ``db_path`` (default database); returns its manifest.

    The digest in the manifest is always checked; with ``public_key`` the
    bundle must also carry a valid Ed25519 signature of its manifest.
    """
    db_path = db_path or default_db_path()
    try:
        tar = tarfile.open(bundle, "r:*", tarinfo=BoundedTarInfo)  # noqa: SIM115 - closed by the `with tar:` below
    except (OSError, tarfile.TarError) as exc:
        raise CorruptInputError(f"{bundle}: not a readable bundle (tar): {exc}") from None
    with tar:
        members: dict[str, tarfile.TarInfo] = {}
        for info in tar.getmembers():
            if info.name not in (MANIFEST, DATABASE, SIGNATURE) or not info.isfile():
                raise UnsafeInputError(f"{bundle}: unexpected bundle member {info.name!r}; the bundle is refused")
            if info.name in members:
                raise UnsafeInputError(f"{bundle}: bundle member {info.name!r} appears twice; the bundle is refused")
            members[info.name] = info
        if MANIFEST not in members or DATABASE not in members:
            raise CorruptInputError(f"{bundle}: a bundle needs {MANIFEST} and {DATABASE}")
        manifest_bytes = _read_member(tar, members[MANIFEST], MAX_MANIFEST_BYTES)
        try:
            doc = json.loads(manifest_bytes)
        except (ValueError, RecursionError) as exc:
            raise CorruptInputError(f"{bundle}: manifest is not valid JSON: {exc}") from None
        if not isinstance(doc, Mapping):
            raise CorruptInputError(f"{bundle}: manifest is not a JSON object")
        manifest = _manifest_value(doc, signed=SIGNATURE in members)
        if public_key is not None:
            if SIGNATURE not in members:
                raise CorruptInputError(f"{bundle}: the bundle is not signed but a public key was given")
            _verify(manifest_bytes, _read_member(tar, members[SIGNATURE], MAX_SIGNATURE_BYTES), public_key)
        if manifest.schema_version != SCHEMA_VERSION:
            raise CorruptInputError(
                f"{bundle}: bundle database schema {manifest.schema_version}, this Shieldwall reads {SCHEMA_VERSION}"
            )
        info = members[DATABASE]
        if info.size != manifest.size or info.size > MAX_DATABASE_BYTES:
            raise CorruptInputError(
                f"{bundle}: database member is {info.size} bytes, the manifest says {manifest.size}; "
                "the database was not changed"
            )
        db_path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{db_path.name}.", suffix=".bundle", dir=db_path.parent)
        tmp = Path(tmp_name)
        try:
            source = tar.extractfile(info)
            if source is None:
                raise CorruptInputError(f"{bundle}: database member cannot be read")
            with source, os.fdopen(fd, "wb") as out:
                sha, total = _copy_member(source, out, manifest.size)
                out.flush()
                os.fsync(out.fileno())
            if sha != manifest.sha256 or total != manifest.size:
                raise CorruptInputError(
                    f"{bundle}: database digest mismatch (sha256 {sha}, manifest says {manifest.sha256}): "
                    "the bundle was altered or damaged; the database was not changed"
                )
            with writer_lock(db_path):
                _record_changes(tmp, db_path)
                os.replace(tmp, db_path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            raise
    return manifest


def _record_changes(new: Path, old: Path) -> None:
    """Fill ``last_change`` of the incoming database with what differs from the current one."""
    try:
        conn = sqlite3.connect(new.resolve().as_uri(), uri=True)
    except sqlite3.DatabaseError as exc:
        raise CorruptInputError(f"the bundled database cannot be opened: {exc}") from None
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if not row or int(row[0]) != SCHEMA_VERSION:
            raise CorruptInputError("the bundled database is not of this Shieldwall's schema")
        conn.execute("DELETE FROM last_change")
        usable_old = False
        if old.is_file():
            try:
                conn.execute("ATTACH DATABASE ? AS o", (old.resolve().as_uri() + "?mode=ro",))
                conn.execute("SELECT 1 FROM o.advisories LIMIT 1").fetchall()
                usable_old = True
            except sqlite3.DatabaseError:
                with contextlib.suppress(sqlite3.DatabaseError):
                    conn.execute("DETACH DATABASE o")
        previous = 0
        if usable_old:
            row = conn.execute("SELECT value FROM o.meta WHERE key = 'generation'").fetchone()
            previous = int(row[0]) if row and str(row[0]).isdigit() else 0
        conn.execute("INSERT OR REPLACE INTO meta VALUES ('generation', ?)", (str(previous + 1),))
        if usable_old:
            conn.execute(
                "INSERT OR IGNORE INTO last_change SELECT i.ecosystem, i.name FROM affected_index i "
                "JOIN advisories n ON n.rowid = i.advisory WHERE NOT EXISTS (SELECT 1 FROM o.advisories p "
                "WHERE p.source = n.source AND p.id = n.id AND p.digest = n.digest)"
            )
            conn.execute(
                "INSERT OR IGNORE INTO last_change SELECT i.ecosystem, i.name FROM o.affected_index i "
                "JOIN o.advisories p ON p.rowid = i.advisory WHERE NOT EXISTS (SELECT 1 FROM advisories n "
                "WHERE n.source = p.source AND n.id = p.id AND n.digest = p.digest)"
            )
        else:
            conn.execute("INSERT OR IGNORE INTO last_change SELECT DISTINCT ecosystem, name FROM affected_index")
        conn.commit()
    except sqlite3.DatabaseError as exc:
        raise CorruptInputError(f"the bundled database is not usable: {exc}") from None
    finally:
        conn.close()
