"""The local advisory database: one SQLite file, read by scans, rebuilt atomically by importers.

Layout (schema version ``SCHEMA_VERSION``, kept in the ``meta`` table):

- ``advisories``: one row per (source, advisory id), the ``Advisory`` in the
  compact encoding of ``vulndb.codec`` plus a digest used to tell what changed.
- ``affected_index``: (ecosystem, ecosystem_base, normalised name) -> advisory
  row, the only table a lookup touches.
- ``aliases``: alias -> advisory row (CVE, GHSA, PYSEC... and the id itself).
- ``sources``: every imported feed with its URL, HTTP validators, import time, count.
- ``kev``, ``epss``: prioritisation data keyed by CVE id.
- ``last_change``: the (ecosystem, name) pairs whose advisories the last
  build added, changed or removed, so a monitor re-matches only those;
  ``meta('generation')`` counts committed builds (1, 2, 3...) so a monitor
  can tell whether it missed one.

Readers open the file read-only. Writers never touch it in place:
``VulnDB.build(path)`` copies it next to itself, changes the copy and swaps it
in with ``os.replace`` when, and only when, the whole import succeeded.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType

from shieldwall import paths

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]
from shieldwall.errors import CorruptInputError, InputError
from shieldwall.vulndb import codec
from shieldwall.vulndb.model import (
    Advisory,
    DbStatus,
    EpssEntry,
    KevEntry,
    SourceInfo,
    normalize_name,
)

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sources (
    name TEXT PRIMARY KEY, kind TEXT NOT NULL DEFAULT '', url TEXT NOT NULL DEFAULT '',
    etag TEXT NOT NULL DEFAULT '', last_modified TEXT NOT NULL DEFAULT '',
    imported_at TEXT NOT NULL DEFAULT '', count INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS advisories (
    rowid INTEGER PRIMARY KEY, source TEXT NOT NULL, id TEXT NOT NULL, modified TEXT NOT NULL DEFAULT '',
    withdrawn INTEGER NOT NULL DEFAULT 0, digest BLOB NOT NULL, data BLOB NOT NULL, UNIQUE (source, id)
);
CREATE TABLE IF NOT EXISTS affected_index (
    ecosystem TEXT NOT NULL, ecosystem_base TEXT NOT NULL, name TEXT NOT NULL, advisory INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_affected_lookup ON affected_index (ecosystem, name);
CREATE INDEX IF NOT EXISTS ix_affected_base ON affected_index (ecosystem_base, name);
CREATE INDEX IF NOT EXISTS ix_affected_advisory ON affected_index (advisory);
CREATE TABLE IF NOT EXISTS aliases (alias TEXT NOT NULL, advisory INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS ix_aliases_alias ON aliases (alias);
CREATE INDEX IF NOT EXISTS ix_aliases_advisory ON aliases (advisory);
CREATE TABLE IF NOT EXISTS kev (
    cve_id TEXT PRIMARY KEY, source TEXT NOT NULL, vendor TEXT, product TEXT, name TEXT, date_added TEXT,
    due_date TEXT, known_ransomware TEXT, short_description TEXT, required_action TEXT, notes TEXT
);
CREATE TABLE IF NOT EXISTS epss (
    cve_id TEXT PRIMARY KEY, source TEXT NOT NULL, epss REAL NOT NULL, percentile REAL NOT NULL,
    model_version TEXT NOT NULL DEFAULT '', score_date TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS last_change (ecosystem TEXT NOT NULL, name TEXT NOT NULL, PRIMARY KEY (ecosystem, name));
"""

_DECODED_CACHE = 8192
"""Decoded advisories kept per open database (distro source packages are looked up once per binary)."""


def default_db_path(environ: Mapping[str, str] | None = None) -> Path:
    """``<data dir>/vulndb/vulndb.sqlite``: where scans read and ``db update`` writes by default."""
    return paths.data_dir(environ) / "vulndb" / "vulndb.sqlite"


def utc_now() -> str:
    """Current UTC time as ISO 8601 with seconds (the format of every timestamp in the database)."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def parse_time(text: str) -> datetime | None:
    """Parse a timestamp written by ``utc_now`` (or any ISO 8601 text); None when empty or invalid."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def ecosystem_base(ecosystem: str) -> str:
    """``Debian:12`` -> ``Debian``; ``PyPI`` -> ``PyPI``."""
    return ecosystem.split(":", 1)[0]


def _index_keys(advisory: Advisory) -> set[tuple[str, str]]:
    return {(a.ecosystem, normalize_name(a.ecosystem, a.name)) for a in advisory.affected if a.ecosystem and a.name}


@dataclass(frozen=True, slots=True)
class ImportStats:
    """What one ``replace_source`` did: advisories seen, and how many were new, changed, removed, unchanged."""

    source: str
    total: int = 0
    added: int = 0
    changed: int = 0
    removed: int = 0
    unchanged: int = 0


def _connect_ro(path: Path) -> sqlite3.Connection:
    uri = path.resolve().as_uri() + "?mode=ro"
    return sqlite3.connect(uri, uri=True, check_same_thread=False)


def _schema_version(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else 0


def _refuse_escaping_links(path: Path) -> None:
    """The database is written in its own directory: a link there (or as the file) leading elsewhere is refused."""
    parent = path.parent
    if parent.is_symlink():
        raise InputError(f"{parent} is a symbolic link: refusing to write the advisory database through it")
    if path.is_symlink() and path.resolve().parent != parent.resolve():
        raise InputError(f"{path} is a symbolic link out of {parent}: refusing to write the advisory database there")


class VulnDB:
    """A read-only view of an advisory database; see the module docstring for the layout."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self._path = path
        self._lock = threading.Lock()
        self._cache: dict[int, Advisory] = {}

    # ----------------------------------------------------------------- opening

    @classmethod
    def open(cls, path: Path | None = None, readonly: bool = True) -> VulnDB:
        """Open the database at ``path`` (default ``default_db_path()``).

        Raises ``InputError`` when the file is missing (with the commands that
        create one) and ``CorruptInputError`` when it is not a Shieldwall
        database of this schema version.
        """
        path = Path(path) if path is not None else default_db_path()
        if not path.is_file():
            raise InputError(
                f"no vulnerability database at {path}; run `shieldwall db update` (online) "
                "or `shieldwall db import` / `shieldwall db import-bundle` (offline)"
            )
        try:
            conn = _connect_ro(path) if readonly else sqlite3.connect(path, check_same_thread=False)
            version = _schema_version(conn)
        except sqlite3.DatabaseError as exc:
            raise CorruptInputError(f"{path} is not a Shieldwall vulnerability database: {exc}") from None
        if version != SCHEMA_VERSION:
            conn.close()
            raise CorruptInputError(
                f"{path} has database schema {version}; this Shieldwall reads schema {SCHEMA_VERSION}: "
                "run `shieldwall db update` or import a matching bundle"
            )
        return cls(conn, path)

    @classmethod
    @contextlib.contextmanager
    def build(cls, path: Path | None = None, *, fresh: bool = False) -> Iterator[VulnDBWriter]:
        """Change the database at ``path`` atomically.

        The current database (if any, and unless ``fresh``) is copied to a
        temporary file in the same directory; the writer changes the copy; on
        a clean exit the copy replaces ``path`` with ``os.replace``. Any
        exception removes the copy and leaves the previous database as it was.
        """
        path = Path(path) if path is not None else default_db_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        _refuse_escaping_links(path)
        with writer_lock(path):
            fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".building", dir=path.parent)
            os.close(fd)
            with _swap_on_success(path, Path(tmp_name), fresh) as writer:
                yield writer

    def backup_to(self, target: Path) -> None:
        """Write a consistent copy of the database to ``target`` (SQLite's online backup)."""
        dst = sqlite3.connect(target)
        try:
            with self._lock:
                self._conn.backup(dst)
        finally:
            dst.close()

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    def __enter__(self) -> VulnDB:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def path(self) -> Path:
        """The database file."""
        return self._path

    # ----------------------------------------------------------------- lookups

    def _decode_rows(self, rows: Iterable[tuple[int, bytes]]) -> list[tuple[int, Advisory]]:
        out = []
        for rowid, blob in rows:
            advisory = self._cache.get(rowid)
            if advisory is None:
                advisory = codec.decode(blob)
                if len(self._cache) >= _DECODED_CACHE:
                    self._cache.clear()
                self._cache[rowid] = advisory
            out.append((rowid, advisory))
        return out

    @staticmethod
    def _dedupe(items: list[tuple[int, Advisory]]) -> list[Advisory]:
        """One advisory per id: the most recently modified, then the most recently imported row."""
        best: dict[str, tuple[str, int, Advisory]] = {}
        for rowid, advisory in items:
            key = (advisory.modified, rowid)
            current = best.get(advisory.id)
            if current is None or key > current[:2]:
                best[advisory.id] = (advisory.modified, rowid, advisory)
        return sorted((v[2] for v in best.values()), key=lambda a: a.id)

    def lookup(self, ecosystem: str, name: str, *, include_withdrawn: bool = False) -> list[Advisory]:
        """Advisories naming package ``name`` in ``ecosystem``, sorted by id, one per id.

        ``ecosystem`` is OSV's spelling: ``PyPI``, ``npm``, ``Go``... or a
        release-scoped distro ecosystem such as ``Debian:12`` or
        ``Alpine:v3.19``, which matches that exact release plus advisories
        stated for the bare distro (``Debian``), never another release. The
        name goes through ``normalize_name``. Whole advisories are returned:
        a caller must still pick the ``affected[]`` entries of its package.
        Withdrawn advisories are left out unless asked for.
        """
        key = normalize_name(ecosystem, name)
        base = ecosystem_base(ecosystem)
        sql = (
            "SELECT DISTINCT a.rowid, a.data FROM affected_index i JOIN advisories a ON a.rowid = i.advisory "
            "WHERE i.ecosystem IN (?, ?) AND i.name = ?"
        )
        if not include_withdrawn:
            sql += " AND a.withdrawn = 0"
        with self._lock:
            rows = self._conn.execute(sql, (ecosystem, base, key)).fetchall()
            return self._dedupe(self._decode_rows(rows))

    def get(self, advisory_id: str) -> Advisory | None:
        """The advisory with this id (the most recently modified row when several sources carry it)."""
        with self._lock:
            rows = self._conn.execute("SELECT rowid, data FROM advisories WHERE id = ?", (advisory_id,)).fetchall()
            found = self._dedupe(self._decode_rows(rows))
        return found[0] if found else None

    def by_alias(self, alias: str) -> list[Advisory]:
        """Every advisory whose id or aliases include ``alias`` (a CVE id finds its GHSA, PYSEC, DSA...)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT DISTINCT a.rowid, a.data FROM aliases l JOIN advisories a ON a.rowid = l.advisory "
                "WHERE l.alias = ?",
                (alias,),
            ).fetchall()
            return self._dedupe(self._decode_rows(rows))

    def ecosystems(self) -> list[str]:
        """Every ecosystem the index holds (full spellings such as ``Debian:12``), sorted."""
        with self._lock:
            return [r[0] for r in self._conn.execute("SELECT DISTINCT ecosystem FROM affected_index ORDER BY 1")]

    def iter_advisories(self) -> Iterator[Advisory]:
        """Every stored row's advisory, in storage order (benchmarks, exports, consistency tests)."""
        cursor = self._conn.execute("SELECT data FROM advisories ORDER BY rowid")
        for (blob,) in cursor:
            yield codec.decode(blob)

    def kev(self, cve_id: str) -> KevEntry | None:
        """The CISA KEV entry of ``cve_id``, or None when it is not known to be exploited."""
        with self._lock:
            row = self._conn.execute(
                "SELECT cve_id, vendor, product, name, date_added, due_date, known_ransomware, "
                "short_description, required_action, notes FROM kev WHERE cve_id = ?",
                (cve_id.upper(),),
            ).fetchone()
        return KevEntry(*(v or "" for v in row)) if row else None

    def epss(self, cve_id: str) -> EpssEntry | None:
        """The EPSS score and percentile of ``cve_id``, or None when the feed has none."""
        with self._lock:
            row = self._conn.execute(
                "SELECT cve_id, epss, percentile, model_version, score_date FROM epss WHERE cve_id = ?",
                (cve_id.upper(),),
            ).fetchone()
        return EpssEntry(row[0], float(row[1]), float(row[2]), row[3], row[4]) if row else None

    def changed_packages(self) -> frozenset[tuple[str, str]]:
        """(ecosystem, normalised name) pairs whose advisories the last build added, changed or removed."""
        with self._lock:
            return frozenset((e, n) for e, n in self._conn.execute("SELECT ecosystem, name FROM last_change"))

    def meta(self, key: str) -> str:
        """A value of the ``meta`` table ('' when absent)."""
        with self._lock:
            row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else ""

    def sources(self) -> tuple[SourceInfo, ...]:
        """Every imported feed, by name."""
        with self._lock:
            return _read_sources(self._conn)

    def source(self, name: str) -> SourceInfo | None:
        """One imported feed by name."""
        return next((s for s in self.sources() if s.name == name), None)

    def generation(self) -> int:
        """How many builds produced this database (0 when unknown); consecutive builds differ by one."""
        text = self.meta("generation")
        return int(text) if text.isdigit() else 0

    def last_update(self) -> datetime | None:
        """When the database was last rebuilt (UTC), or None when unknown."""
        return parse_time(self.meta("updated_at"))

    def status(self, now: datetime | None = None) -> DbStatus:
        """Sources, advisory counts per ecosystem, KEV/EPSS sizes, last update and its age."""
        now = now or datetime.now(UTC)
        with self._lock:
            ecosystems = tuple(
                (str(e), int(n))
                for e, n in self._conn.execute(
                    "SELECT ecosystem, COUNT(DISTINCT advisory) FROM affected_index GROUP BY ecosystem ORDER BY 1"
                )
            )
            advisories = int(self._conn.execute("SELECT COUNT(*) FROM advisories").fetchone()[0])
            kev = int(self._conn.execute("SELECT COUNT(*) FROM kev").fetchone()[0])
            epss = int(self._conn.execute("SELECT COUNT(*) FROM epss").fetchone()[0])
            sources = _read_sources(self._conn)
        last = self.last_update()
        return DbStatus(
            path=str(self._path),
            schema_version=SCHEMA_VERSION,
            sources=sources,
            ecosystems=ecosystems,
            advisories=advisories,
            kev_entries=kev,
            epss_entries=epss,
            last_update=last.isoformat() if last else "",
            age_seconds=(now - last).total_seconds() if last else None,
        )


def check_db_age(db: VulnDB, max_age: timedelta, fail: bool, *, now: datetime | None = None) -> str | None:
    """Warn (return the text) when ``db`` was last updated more than ``max_age`` ago; None when fresh.

    With ``fail`` the same text is raised as ``InputError`` instead, so a
    pipeline can refuse to pass on stale data. A database whose update time
    is unknown counts as stale.
    """
    now = now or datetime.now(UTC)
    last = db.last_update()
    if last is not None and now - last <= max_age:
        return None
    if last is None:
        text = f"the vulnerability database {db.path} has no update time; run `shieldwall db update`"
    else:
        text = (
            f"the vulnerability database is {_human_age(now - last)} old (updated {last.isoformat()}), "
            f"older than the {_human_age(max_age)} allowed; run `shieldwall db update`"
        )
    if fail:
        raise InputError(text)
    return text


def parse_age(text: str) -> timedelta:
    """Parse ``--max-db-age`` values: ``36h``, ``7d``, ``2w``, ``90m`` or a bare number of hours."""
    value = text.strip().lower()
    units = {"m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
    unit = value[-1:] if value[-1:] in units else "h"
    number = value[:-1] if value[-1:] in units else value
    try:
        amount = float(number)
    except ValueError:
        raise InputError(f"invalid age {text!r}: use a number with m, h, d or w (e.g. 24h, 7d)") from None
    if amount < 0:
        raise InputError(f"invalid age {text!r}: must not be negative")
    return timedelta(seconds=amount * units[unit])


def _human_age(delta: timedelta) -> str:
    seconds = max(delta.total_seconds(), 0.0)
    if seconds >= 2 * 86400:
        return f"{seconds / 86400:.1f} days"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} hours"
    return f"{seconds / 60:.0f} minutes"


def _read_sources(conn: sqlite3.Connection) -> tuple[SourceInfo, ...]:
    rows = conn.execute(
        "SELECT name, url, etag, last_modified, kind, imported_at, count FROM sources ORDER BY name"
    ).fetchall()
    return tuple(SourceInfo(r[0], r[1], r[2], r[3], r[4], r[5], int(r[6])) for r in rows)


@contextlib.contextmanager
def writer_lock(path: Path) -> Iterator[None]:
    """Serialise builds of one database (a second ``db update`` waits instead of losing the first's work)."""
    lock_path = path.with_name(f".{path.name}.lock")
    with lock_path.open("a") as handle:
        if fcntl is not None:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@contextlib.contextmanager
def _swap_on_success(path: Path, tmp: Path, fresh: bool) -> Iterator[VulnDBWriter]:
    writer: VulnDBWriter | None = None
    try:
        if fresh or not path.is_file() or not _copy_if_compatible(path, tmp):
            tmp.unlink()
        writer = VulnDBWriter(tmp)
        yield writer
        writer.finish()
        _fsync(tmp)
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        if writer is not None:
            writer.abort()
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def _copy_if_compatible(path: Path, tmp: Path) -> bool:
    """Copy the database at ``path`` into ``tmp`` with SQLite's backup API; False when it is unusable."""
    try:
        src = _connect_ro(path)
    except sqlite3.DatabaseError:
        return False
    try:
        if _schema_version(src) != SCHEMA_VERSION:
            return False
        dst = sqlite3.connect(tmp)
        try:
            src.backup(dst)
        finally:
            dst.close()
        return True
    except sqlite3.DatabaseError:
        return False
    finally:
        src.close()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class VulnDBWriter:
    """Changes to a database being built; obtained from ``VulnDB.build`` only.

    Every ``replace_*`` call states a whole feed: what the feed no longer
    contains is removed. ``changed_packages`` accumulates over the build.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._conn = sqlite3.connect(path)
        self._conn.executescript(
            "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA temp_store = MEMORY; "
            "PRAGMA cache_size = -65536;"
        )
        self._conn.executescript(_SCHEMA)
        self._conn.execute("BEGIN")
        now = utc_now()
        self._conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        self._conn.execute("INSERT OR IGNORE INTO meta VALUES ('created_at', ?)", (now,))
        self._changed: set[tuple[str, str]] = set()
        self._closed = False

    @property
    def path(self) -> Path:
        """The temporary file being written."""
        return self._path

    @property
    def changed_packages(self) -> frozenset[tuple[str, str]]:
        """(ecosystem, normalised name) pairs whose advisories this build added, changed or removed."""
        return frozenset(self._changed)

    def sources(self) -> tuple[SourceInfo, ...]:
        """Feeds already in the database (copied from the previous one) or imported by this build."""
        return _read_sources(self._conn)

    def source(self, name: str) -> SourceInfo | None:
        """One feed by name."""
        return next((s for s in self.sources() if s.name == name), None)

    def _save_source(self, info: SourceInfo, count: int) -> None:
        self._conn.execute(
            "INSERT OR REPLACE INTO sources (name, kind, url, etag, last_modified, imported_at, count) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (info.name, info.kind, info.url, info.etag, info.last_modified, info.imported_at or utc_now(), count),
        )

    def touch_source(self, info: SourceInfo) -> None:
        """Record that ``info`` was checked and found unchanged (new validators, same advisories)."""
        current = self.source(info.name)
        self._save_source(info, current.count if current else info.count)

    def _old_keys(self, rowid: int) -> set[tuple[str, str]]:
        return {
            (e, n)
            for e, n in self._conn.execute("SELECT ecosystem, name FROM affected_index WHERE advisory = ?", (rowid,))
        }

    def _index(self, rowid: int, advisory: Advisory) -> None:
        keys = _index_keys(advisory)
        self._conn.executemany(
            "INSERT INTO affected_index (ecosystem, ecosystem_base, name, advisory) VALUES (?, ?, ?, ?)",
            [(e, ecosystem_base(e), n, rowid) for e, n in keys],
        )
        self._conn.executemany(
            "INSERT INTO aliases (alias, advisory) VALUES (?, ?)",
            [(alias, rowid) for alias in {advisory.id, *advisory.aliases}],
        )
        self._changed.update(keys)

    def _unindex(self, rowid: int) -> None:
        self._changed.update(self._old_keys(rowid))
        self._conn.execute("DELETE FROM affected_index WHERE advisory = ?", (rowid,))
        self._conn.execute("DELETE FROM aliases WHERE advisory = ?", (rowid,))

    def replace_source(self, info: SourceInfo, advisories: Iterable[Advisory]) -> ImportStats:
        """Make the advisories of feed ``info.name`` exactly ``advisories`` (a later duplicate id wins).

        Unchanged advisories (same encoded bytes) are left alone; the index
        entries of added, changed and removed ones go into ``changed_packages``.
        """
        old = {
            str(i): (int(r), bytes(d))
            for r, i, d in self._conn.execute("SELECT rowid, id, digest FROM advisories WHERE source = ?", (info.name,))
        }
        current = dict(old)
        seen: set[str] = set()
        for advisory in advisories:
            if not advisory.source:
                advisory = replace(advisory, source=info.name)
            blob = codec.encode(advisory)
            digest = hashlib.blake2b(blob, digest_size=16).digest()
            withdrawn = 1 if advisory.withdrawn else 0
            seen.add(advisory.id)
            previous = current.get(advisory.id)
            if previous is None:
                cursor = self._conn.execute(
                    "INSERT INTO advisories (source, id, modified, withdrawn, digest, data) VALUES (?, ?, ?, ?, ?, ?)",
                    (info.name, advisory.id, advisory.modified, withdrawn, digest, blob),
                )
                assert cursor.lastrowid is not None
                self._index(cursor.lastrowid, advisory)
                current[advisory.id] = (cursor.lastrowid, digest)
            elif previous[1] != digest:
                rowid = previous[0]
                self._unindex(rowid)
                self._conn.execute(
                    "UPDATE advisories SET modified = ?, withdrawn = ?, digest = ?, data = ? WHERE rowid = ?",
                    (advisory.modified, withdrawn, digest, blob, rowid),
                )
                self._index(rowid, advisory)
                current[advisory.id] = (rowid, digest)
        added = sum(1 for ident in seen if ident not in old)
        changed = sum(1 for ident in seen if ident in old and current[ident][1] != old[ident][1])
        unchanged = len(seen) - added - changed
        removed = 0
        for ident, (rowid, _) in old.items():
            if ident not in seen:
                self._unindex(rowid)
                self._conn.execute("DELETE FROM advisories WHERE rowid = ?", (rowid,))
                removed += 1
        count = len(seen)
        self._save_source(info, count)
        return ImportStats(info.name, count, added, changed, removed, unchanged)

    def remove_source(self, name: str) -> ImportStats:
        """Remove feed ``name`` and its advisories, KEV and EPSS rows."""
        stats = self.replace_source(SourceInfo(name), ())
        self._conn.execute("DELETE FROM kev WHERE source = ?", (name,))
        self._conn.execute("DELETE FROM epss WHERE source = ?", (name,))
        self._conn.execute("DELETE FROM sources WHERE name = ?", (name,))
        return stats

    def replace_kev(self, info: SourceInfo, entries: Iterable[KevEntry]) -> int:
        """Make the KEV rows of feed ``info.name`` exactly ``entries``; returns their number."""
        self._conn.execute("DELETE FROM kev WHERE source = ?", (info.name,))
        rows = [
            (
                e.cve_id.upper(),
                info.name,
                e.vendor,
                e.product,
                e.name,
                e.date_added,
                e.due_date,
                e.known_ransomware,
                e.short_description,
                e.required_action,
                e.notes,
            )
            for e in entries
        ]
        self._conn.executemany("INSERT OR REPLACE INTO kev VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        count = len({r[0] for r in rows})
        self._save_source(replace(info, kind=info.kind or "kev"), count)
        return count

    def replace_epss(self, info: SourceInfo, entries: Iterable[EpssEntry]) -> int:
        """Make the EPSS rows of feed ``info.name`` exactly ``entries``; returns their number."""
        self._conn.execute("DELETE FROM epss WHERE source = ?", (info.name,))
        count = 0
        batch: list[tuple[str, str, float, float, str, str]] = []
        for e in entries:
            batch.append((e.cve_id.upper(), info.name, e.epss, e.percentile, e.model_version, e.score_date))
            if len(batch) >= 10000:
                self._conn.executemany("INSERT OR REPLACE INTO epss VALUES (?, ?, ?, ?, ?, ?)", batch)
                count += len(batch)
                batch.clear()
        self._conn.executemany("INSERT OR REPLACE INTO epss VALUES (?, ?, ?, ?, ?, ?)", batch)
        count += len(batch)
        self._save_source(replace(info, kind=info.kind or "epss"), count)
        return count

    def finish(self) -> None:
        """Record the change set and update time, commit, and close (called by ``VulnDB.build``)."""
        if self._closed:
            return
        self._conn.execute("DELETE FROM last_change")
        self._conn.executemany("INSERT OR IGNORE INTO last_change VALUES (?, ?)", sorted(self._changed))
        self._conn.execute("INSERT OR REPLACE INTO meta VALUES ('updated_at', ?)", (utc_now(),))
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        generation = int(row[0]) + 1 if row and str(row[0]).isdigit() else 1
        self._conn.execute("INSERT OR REPLACE INTO meta VALUES ('generation', ?)", (str(generation),))
        self._conn.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        self._conn.commit()
        self._conn.execute("PRAGMA optimize")
        self._conn.close()
        self._closed = True

    def abort(self) -> None:
        """Close without committing (the temporary file is then removed by ``VulnDB.build``)."""
        if not self._closed:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            self._closed = True
