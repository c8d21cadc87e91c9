"""``shieldwall db update``: fetch OSV's per-ecosystem ``all.zip`` (and optionally KEV, EPSS) and rebuild.

Downloads are incremental and resumable, and kept in the cache directory:

- a completed download is kept as ``<cache>/vulndb/feeds/<name>.bin`` with
  its validators (``ETag``, ``Last-Modified``) in ``<name>.json``; the next
  run asks with ``If-None-Match`` / ``If-Modified-Since`` and a ``304``
  reuses the kept file without transferring it;
- an interrupted download stays as ``<name>.part`` (+ ``<name>.part.json``);
  the next run asks for the rest with ``Range`` and ``If-Range``, and starts
  over when the server answers with the whole body.

Every download finishes before the database is touched; the import then
runs inside ``VulnDB.build``, so a failed download or import leaves the
previous database as it was. Sources whose archive did not change are not
re-imported, only marked as checked.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import httpx

from shieldwall import __version__, paths
from shieldwall.errors import CorruptInputError, InputError, ShieldwallError
from shieldwall.match.versions import ECOSYSTEM_SCHEMES
from shieldwall.vulndb.importers import EPSS_SOURCE, KEV_SOURCE, FeedFormat, ImportResult, import_feed
from shieldwall.vulndb.model import SourceInfo
from shieldwall.vulndb.store import VulnDB, default_db_path

DEFAULT_OSV_URL = "https://osv-vulnerabilities.storage.googleapis.com"
OSV_URL_ENV = "SHIELDWALL_OSV_URL"
# Every ecosystem the matcher has a version scheme for (match/versions.py), so that `db update` leaves no
# inventoried ecosystem without data by default. "Mariner" is left out: osv.dev publishes no "Mariner"
# export (CBL-Mariner's successor is "Azure Linux", which is included).
DEFAULT_ECOSYSTEMS: tuple[str, ...] = tuple(e for e in ECOSYSTEM_SCHEMES if e != "Mariner")
MAX_DOWNLOAD_BYTES = 8 * 1024 * 1024 * 1024


class UpdateError(InputError):
    """A feed could not be fetched (network, HTTP status, interrupted transfer); the database is unchanged."""


class DownloadInterruptedError(UpdateError):
    """The connection ended before the whole body arrived; the partial file is kept for a resume."""


class UpdateProgress(Protocol):
    """What the updater reports while it works (the CLI draws Rich progress bars from it)."""

    def download_started(self, name: str, total: int | None, resumed_from: int) -> None:
        """A transfer begins; ``total`` is the full size when known, ``resumed_from`` bytes are already here."""
        ...

    def download_advanced(self, name: str, nbytes: int) -> None:
        """``nbytes`` more bytes arrived."""
        ...

    def download_finished(self, name: str, status: str) -> None:
        """A fetch ended: ``downloaded``, ``resumed`` or ``not-modified``."""
        ...

    def import_started(self, name: str) -> None:
        """A source starts importing."""
        ...

    def import_finished(self, name: str, result: ImportResult | None) -> None:
        """A source was imported (``None``: unchanged, only marked as checked)."""
        ...


class NullUpdateProgress:
    """Reports nothing (quiet mode, tests)."""

    def download_started(self, name: str, total: int | None, resumed_from: int) -> None:
        """Ignored."""

    def download_advanced(self, name: str, nbytes: int) -> None:
        """Ignored."""

    def download_finished(self, name: str, status: str) -> None:
        """Ignored."""

    def import_started(self, name: str) -> None:
        """Ignored."""

    def import_finished(self, name: str, result: ImportResult | None) -> None:
        """Ignored."""


@dataclass(frozen=True, slots=True)
class FeedRequest:
    """One feed to fetch: its source name in the database, URL and format."""

    name: str
    url: str
    format: FeedFormat


@dataclass(frozen=True, slots=True)
class FetchResult:
    """A fetched (or confirmed unchanged) feed file in the cache."""

    request: FeedRequest
    path: Path
    status: str
    etag: str = ""
    last_modified: str = ""
    transferred: int = 0


@dataclass(frozen=True, slots=True)
class UpdateOptions:
    """Everything ``db update`` can be told; empty values mean the documented defaults."""

    base_url: str = ""
    ecosystems: tuple[str, ...] = DEFAULT_ECOSYSTEMS
    kev_url: str = ""
    epss_url: str = ""
    db_path: Path | None = None
    cache_dir: Path | None = None
    timeout: float = 60.0
    max_download_bytes: int = MAX_DOWNLOAD_BYTES
    environ: Mapping[str, str] | None = None


@dataclass(frozen=True, slots=True)
class UpdateReport:
    """What an update did."""

    db_path: Path
    fetched: tuple[FetchResult, ...] = ()
    imported: tuple[ImportResult, ...] = ()
    unchanged: tuple[str, ...] = ()
    changed_packages: frozenset[tuple[str, str]] = field(default_factory=frozenset)

    @property
    def transferred(self) -> int:
        """Bytes received over the network in this run."""
        return sum(f.transferred for f in self.fetched)


def resolve_base_url(explicit: str = "", environ: Mapping[str, str] | None = None) -> str:
    """``--base-url``, else ``$SHIELDWALL_OSV_URL``, else the official OSV bucket (no trailing slash)."""
    env = os.environ if environ is None else environ
    url = explicit or env.get(OSV_URL_ENV, "") or DEFAULT_OSV_URL
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise InputError(f"invalid OSV base URL {url!r}: expected http(s)://host[/path]")
    return url.rstrip("/")


def osv_requests(base_url: str, ecosystems: tuple[str, ...]) -> list[FeedRequest]:
    """One request per ecosystem: ``<base>/<ecosystem>/all.zip``, recorded as source ``osv:<ecosystem>``."""
    return [
        FeedRequest(f"osv:{eco}", f"{base_url}/{urllib.parse.quote(eco, safe='')}/all.zip", FeedFormat.OSV)
        for eco in ecosystems
    ]


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)


def _read_json(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _write_json(path: Path, data: Mapping[str, str]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(dict(data), sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


class FeedCache:
    """Downloads feed files into a cache directory with conditional and ranged requests."""

    def __init__(
        self,
        client: httpx.Client,
        directory: Path,
        progress: UpdateProgress | None = None,
        max_bytes: int = MAX_DOWNLOAD_BYTES,
    ) -> None:
        self._client = client
        self._dir = directory
        self._progress = progress or NullUpdateProgress()
        self._max = max_bytes
        directory.mkdir(parents=True, exist_ok=True)

    def paths(self, name: str, url: str = "") -> tuple[Path, Path, Path, Path]:
        """(complete file, its metadata, partial file, its metadata) for feed ``name``.

        The complete file keeps the URL's extension (``.zip``, ``.json``,
        ``.csv.gz``...) so importers can tell an archive from a record.
        """
        stem = _slug(name)
        suffix = "".join(Path(urllib.parse.urlsplit(url).path).suffixes[-2:]) if url else ""
        suffix = suffix if re.fullmatch(r"(\.[A-Za-z0-9]{1,8}){1,2}", suffix or "-") else ".bin"
        d = self._dir
        return d / f"{stem}{suffix}", d / f"{stem}.meta.json", d / f"{stem}.part", d / f"{stem}.part.json"

    def forget(self, name: str) -> None:
        """Drop the kept file of ``name`` (after it failed to import) so the next run downloads it again."""
        for path in self._dir.glob(f"{_slug(name)}.*"):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def fetch(self, request: FeedRequest) -> FetchResult:
        """Bring the cached copy of ``request.url`` up to date; see the module docstring."""
        done, meta_path, part, part_meta_path = self.paths(request.name, request.url)
        meta = _read_json(meta_path) if done.is_file() else {}
        if meta.get("url") != request.url:
            meta = {}
        part_meta = _read_json(part_meta_path) if part.is_file() else {}
        if part_meta.get("url") != request.url:
            part_meta = {}
        offset = part.stat().st_size if part_meta else 0

        headers = {"Accept-Encoding": "identity"}  # byte ranges must address the stored bytes
        if meta.get("etag"):
            headers["If-None-Match"] = meta["etag"]
        if meta.get("last_modified"):
            headers["If-Modified-Since"] = meta["last_modified"]
        if offset > 0:
            headers["Range"] = f"bytes={offset}-"
            validator = part_meta.get("etag") or part_meta.get("last_modified")
            if validator:
                headers["If-Range"] = validator
        try:
            return self._transfer(request, headers, offset, meta, done, meta_path, part, part_meta_path)
        except httpx.TimeoutException as exc:
            raise UpdateError(f"{request.url}: timed out ({exc}); run the update again to resume") from None
        except httpx.HTTPError as exc:
            raise UpdateError(f"{request.url}: {type(exc).__name__}: {exc}") from None

    def _transfer(
        self,
        request: FeedRequest,
        headers: dict[str, str],
        offset: int,
        meta: dict[str, str],
        done: Path,
        meta_path: Path,
        part: Path,
        part_meta_path: Path,
    ) -> FetchResult:
        with self._client.stream("GET", request.url, headers=headers) as response:
            if response.status_code == 304 and meta:
                with contextlib.suppress(FileNotFoundError):
                    part.unlink()
                    part_meta_path.unlink()
                self._progress.download_finished(request.name, "not-modified")
                return FetchResult(request, done, "not-modified", meta.get("etag", ""), meta.get("last_modified", ""))
            if response.status_code == 416 and offset:
                # the partial file does not fit the current body: start over
                part.unlink()
                part_meta_path.unlink()
                response.close()
                headers = {k: v for k, v in headers.items() if k not in ("Range", "If-Range")}
                return self._transfer(request, headers, 0, meta, done, meta_path, part, part_meta_path)
            if response.status_code not in (200, 206):
                raise UpdateError(f"{request.url}: HTTP {response.status_code} {response.reason_phrase}".rstrip())
            etag = response.headers.get("ETag", "")
            last_modified = response.headers.get("Last-Modified", "")
            resumed = response.status_code == 206
            if resumed:
                start, total = _content_range(response.headers.get("Content-Range", ""))
                if start != offset:
                    raise UpdateError(f"{request.url}: server resumed at byte {start}, expected {offset}")
                part_meta = _read_json(part_meta_path)
                etag = etag or part_meta.get("etag", "")
                last_modified = last_modified or part_meta.get("last_modified", "")
            else:
                offset = 0
                length = response.headers.get("Content-Length")
                total = int(length) if length and length.isdigit() else None
            if total is not None and total > self._max:
                raise UpdateError(f"{request.url}: {total} bytes is above the {self._max}-byte download limit")
            _write_json(part_meta_path, {"url": request.url, "etag": etag, "last_modified": last_modified})
            self._progress.download_started(request.name, total, offset)
            received = offset
            transferred = 0
            with part.open("ab" if resumed else "wb") as out:
                try:
                    for chunk in response.iter_raw():  # as received: nothing buffered is lost on a cut
                        out.write(chunk)
                        received += len(chunk)
                        transferred += len(chunk)
                        if received > self._max:
                            raise UpdateError(f"{request.url}: body exceeds the {self._max}-byte download limit")
                        self._progress.download_advanced(request.name, len(chunk))
                except (httpx.TransportError, httpx.StreamError) as exc:
                    out.flush()
                    of = f" of {total}" if total is not None else ""
                    raise DownloadInterruptedError(
                        f"download of {request.url} interrupted after {received}{of} bytes ({exc}); "
                        "the database was not changed; run the update again to resume"
                    ) from None
            if total is not None and received != total:
                raise DownloadInterruptedError(
                    f"download of {request.url} stopped after {received} of {total} bytes; "
                    "the database was not changed; run the update again to resume"
                )
        os.replace(part, done)
        _write_json(meta_path, {"url": request.url, "etag": etag, "last_modified": last_modified})
        with contextlib.suppress(FileNotFoundError):
            part_meta_path.unlink()
        status = "resumed" if resumed else "downloaded"
        self._progress.download_finished(request.name, status)
        return FetchResult(request, done, status, etag, last_modified, transferred)


def _content_range(value: str) -> tuple[int, int | None]:
    m = re.fullmatch(r"\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*", value)
    if not m:
        raise UpdateError(f"unreadable Content-Range {value!r}")
    total = None if m.group(3) == "*" else int(m.group(3))
    return int(m.group(1)), total


def _unchanged(fetch: FetchResult, previous: SourceInfo | None) -> bool:
    return (
        fetch.status == "not-modified"
        and previous is not None
        and previous.url == fetch.request.url
        and previous.etag == fetch.etag
        and previous.last_modified == fetch.last_modified
    )


def update_database(
    options: UpdateOptions,
    progress: UpdateProgress | None = None,
    client_factory: Callable[[], httpx.Client] | None = None,
) -> UpdateReport:
    """Fetch every requested feed, then import what changed into the database in one atomic build.

    Raises ``UpdateError`` (network, HTTP, interrupted transfer: rerun to
    resume) or ``CorruptInputError`` (a fetched archive that cannot be read;
    its cached copy is dropped so the next run downloads it again). In every
    failure the previous database is left as it was.
    """
    progress = progress or NullUpdateProgress()
    db_path = options.db_path or default_db_path(options.environ)
    cache_dir = options.cache_dir or paths.cache_dir(options.environ) / "vulndb" / "feeds"
    base = resolve_base_url(options.base_url, options.environ)
    requests = osv_requests(base, options.ecosystems)
    if options.kev_url:
        requests.append(FeedRequest(KEV_SOURCE, options.kev_url, FeedFormat.KEV))
    if options.epss_url:
        requests.append(FeedRequest(EPSS_SOURCE, options.epss_url, FeedFormat.EPSS))
    if not requests:
        raise InputError("nothing to update: no ecosystems and no KEV/EPSS URL")

    def make_client() -> httpx.Client:
        return httpx.Client(
            timeout=httpx.Timeout(options.timeout, connect=min(options.timeout, 30.0)),
            follow_redirects=True,
            headers={"User-Agent": f"shieldwall/{__version__}"},
        )

    previous: dict[str, SourceInfo] = {}
    if db_path.is_file():
        with contextlib.suppress(ShieldwallError), VulnDB.open(db_path) as current:
            previous = {s.name: s for s in current.sources()}

    with (client_factory or make_client)() as client:
        cache = FeedCache(client, cache_dir, progress, options.max_download_bytes)
        fetched = tuple(cache.fetch(r) for r in requests)

    imported: list[ImportResult] = []
    unchanged: list[str] = []
    with VulnDB.build(db_path) as writer:
        for fetch in fetched:
            info = SourceInfo(
                fetch.request.name,
                fetch.request.url,
                fetch.etag,
                fetch.last_modified,
                fetch.request.format.value,
            )
            if _unchanged(fetch, previous.get(fetch.request.name)):
                writer.touch_source(info)
                unchanged.append(fetch.request.name)
                progress.import_finished(fetch.request.name, None)
                continue
            progress.import_started(fetch.request.name)
            try:
                result = import_feed(writer, fetch.path, fetch.request.format, source=info)
            except (CorruptInputError, InputError) as exc:
                cache.forget(fetch.request.name)
                raise CorruptInputError(
                    f"{fetch.request.url}: {exc}; the database was not changed and the download was discarded"
                ) from None
            imported.append(result)
            progress.import_finished(fetch.request.name, result)
        changed = writer.changed_packages
    return UpdateReport(db_path, fetched, tuple(imported), tuple(unchanged), changed)
