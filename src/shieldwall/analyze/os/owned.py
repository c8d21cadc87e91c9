"""Which files an OS package owns, and the digest its package manager recorded for each.

dpkg keeps one ``/var/lib/dpkg/info/<package>[:<arch>].list`` (every path the
package installed) and ``.md5sums`` (``<md5>  <path without leading slash>``
for its regular files); distroless images keep the same files under
``/var/lib/dpkg/status.d/``. apk keeps everything in ``/lib/apk/db/installed``:
``P:`` names the package, ``F:`` a directory, ``R:`` a file in it and ``Z:`` its
SHA-1 (``Q1`` + base64). pip keeps ``<name>.dist-info/RECORD`` with the
SHA-256 of every file of an installed wheel. npm records no per-file digest;
a ``node_modules/<name>/package.json`` only tells which published package a
directory holds. rpm's header database is read by ``analyze.os.rpm``, which
emits the same ownership records (manager ``rpm``) from each header's file list.

Two analyzers share the parser: ``OwnedLanguageFilesAnalyzer`` (inventory)
keeps only the metadata files of language packages (``*.dist-info``,
``*.egg-info``, ``package.json``, jars, Go sources under ``/usr/share/gocode``)
so a distro-installed Python or Node package can be matched through the
distro package that owns it; ``PackageDigestsAnalyzer`` (secret family) keeps
every recorded digest so a secret finding in an unchanged distro file can be
set aside as distro content.
"""

from __future__ import annotations

import base64
import binascii
import json
import posixpath
import re

from shieldwall.analyze.base import EMPTY, AnalysisInput, AnalysisResult, FileInfo, FileRecord

DPKG_INFO_DIRS = ("/var/lib/dpkg/info/", "/var/lib/dpkg/status.d/")
APK_INSTALLED = ("/lib/apk/db/installed", "/usr/lib/apk/db/installed")
MAX_DB_BYTES = 64 * 1024 * 1024
MAX_RECORDS = 2_000_000
_MD5 = re.compile(r"^([0-9a-fA-F]{32}) [ *]?(.+)$")
_LANGUAGE_METADATA = re.compile(
    r"\.(?:dist|egg)-info(?:/|$)|/package\.json$|\.jar$|\.gemspec$|^/usr/share/gocode/src/.+/go\.mod$"
)


def is_language_metadata(path: str) -> bool:
    """True for the files language catalogers read (dist-info, egg-info, package.json, jars, go.mod)."""
    return bool(_LANGUAGE_METADATA.search(path))


def _dpkg_package(path: str, suffix: str) -> str:
    name = posixpath.basename(path)[: -len(suffix)]
    return name.split(":", 1)[0]


def parse_dpkg_md5sums(text: str, package: str) -> tuple[list[FileRecord], list[str]]:
    """Records of one ``.md5sums`` file; malformed lines become warnings."""
    records: list[FileRecord] = []
    warnings: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        match = _MD5.match(line)
        if match is None:
            if len(warnings) < 5:
                warnings.append(f"line {number}: not '<md5>  <path>'")
            continue
        path = "/" + match.group(2).lstrip("/")
        records.append(FileRecord(path, "md5:" + match.group(1).lower(), package, "dpkg"))
    return records, warnings


def parse_dpkg_list(text: str, package: str) -> list[FileRecord]:
    """Records (no digest) of one ``.list`` file: every absolute path the package installed."""
    return [FileRecord(line.rstrip("/"), "", package, "dpkg") for line in text.splitlines() if line.startswith("/")]


def parse_apk_installed(text: str) -> tuple[list[FileRecord], list[str]]:
    """Records of apk's ``installed`` database: ``R:`` files under ``F:`` directories, ``Z:`` SHA-1 digests."""
    records: list[FileRecord] = []
    warnings: list[str] = []
    package = directory = ""
    last: FileRecord | None = None
    for line in text.splitlines():
        if not line:
            package = directory = ""
            last = None
            continue
        key, _, value = line.partition(":")
        if key == "P":
            package = value
        elif key == "F":
            directory = value.strip("/")
        elif key == "R" and package:
            last = FileRecord("/" + posixpath.join(directory, value).lstrip("/"), "", package, "apk")
            records.append(last)
        elif key == "Z" and last is not None and value.startswith("Q1"):
            try:
                digest = base64.b64decode(value[2:], validate=True).hex()
            except (binascii.Error, ValueError):
                if len(warnings) < 5:
                    warnings.append(f"{package}: {last.path}: unreadable checksum")
                continue
            records[-1] = FileRecord(last.path, "sha1:" + digest, package, "apk")
            last = None
    return records, warnings


_NPM_MANIFEST = re.compile(r"/node_modules/(?:@[^/]+/)?[^/@][^/]*/package\.json$")


def parse_python_record(text: str, record_path: str) -> tuple[list[FileRecord], list[str]]:
    """Records of a wheel's ``RECORD`` (``path,sha256=<urlsafe base64>,size``), paths made absolute."""
    site = posixpath.dirname(posixpath.dirname(record_path))
    project = posixpath.basename(posixpath.dirname(record_path)).split("-", 1)[0]
    records: list[FileRecord] = []
    warnings: list[str] = []
    for line in text.splitlines():
        name, _, rest = line.partition(",")
        digest, _, _ = rest.partition(",")
        if not name or not digest.startswith("sha256="):
            continue
        try:
            raw = base64.urlsafe_b64decode(digest[7:] + "=" * (-len(digest[7:]) % 4))
        except (binascii.Error, ValueError):
            if len(warnings) < 5:
                warnings.append(f"{name}: unreadable sha256")
            continue
        if name.startswith("/") or ".." in name.split("/"):
            continue  # scripts installed beside the site directory (../../../bin/x) and anything escaping it
        path = posixpath.normpath(posixpath.join(site, name))
        records.append(FileRecord(path, "sha256:" + raw.hex(), project, "pip"))
    return records, warnings


def parse_npm_manifest(data: bytes, path: str) -> list[FileRecord]:
    """One record for a package directory under ``node_modules``: its published name and version, no digest."""
    try:
        doc = json.loads(data)
    except ValueError:
        return []
    if not isinstance(doc, dict) or not isinstance(doc.get("name"), str) or not isinstance(doc.get("version"), str):
        return []
    return [FileRecord(posixpath.dirname(path) + "/", "", f"{doc['name']}@{doc['version']}", "npm")]


def _read_records(input: AnalysisInput) -> tuple[list[FileRecord], list[str]]:
    path = input.path
    if input.info.size > MAX_DB_BYTES:
        return [], [f"{path}: {input.info.size} bytes is above the {MAX_DB_BYTES}-byte limit; file ownership unknown"]
    if path.endswith("/package.json"):
        return parse_npm_manifest(input.read(), path), []
    text = input.read().decode("utf-8", errors="replace")
    if path.endswith(".dist-info/RECORD"):
        return parse_python_record(text, path)
    if path in APK_INSTALLED:
        return parse_apk_installed(text)
    if path.endswith(".md5sums"):
        return parse_dpkg_md5sums(text, _dpkg_package(path, ".md5sums"))
    return parse_dpkg_list(text, _dpkg_package(path, ".list")), []


def _wanted(path: str) -> bool:
    if path in APK_INSTALLED:
        return True
    return path.startswith(DPKG_INFO_DIRS) and path.endswith((".md5sums", ".list"))


class PackageDigestsAnalyzer:
    """Every file digest the OS package manager recorded (scanner family ``secret``)."""

    name = "os-file-digests"
    version = 1
    scanner = "secret"

    def required(self, path: str, info: FileInfo) -> bool:
        """dpkg's ``.md5sums``, apk's ``installed``, wheels' ``RECORD`` and ``node_modules`` manifests."""
        if path.endswith(".dist-info/RECORD") or (path.endswith("/package.json") and _NPM_MANIFEST.search(path)):
            return info.size <= MAX_DB_BYTES
        return _wanted(path) and not path.endswith(".list")

    def analyze(self, input: AnalysisInput) -> AnalysisResult:
        """One record per file with a recorded digest (per package directory for npm, which records none)."""
        records, warnings = _read_records(input)
        records = [r for r in records if r.digest or r.manager == "npm"][:MAX_RECORDS]
        if not records and not warnings:
            return EMPTY
        return AnalysisResult(file_records=tuple(records), warnings=tuple(warnings))


class OwnedLanguageFilesAnalyzer:
    """Which OS package owns the metadata file of each language package (inventory)."""

    name = "os-owned-files"
    version = 1

    def required(self, path: str, info: FileInfo) -> bool:
        """dpkg's ``.list`` files and apk's ``installed`` database."""
        return _wanted(path) and not path.endswith(".md5sums")

    def analyze(self, input: AnalysisInput) -> AnalysisResult:
        """Records (digest dropped) of the language-metadata paths an OS package installed."""
        records, warnings = _read_records(input)
        owned = tuple(FileRecord(r.path, "", r.package, r.manager) for r in records if is_language_metadata(r.path))
        if not owned and not warnings:
            return EMPTY
        return AnalysisResult(file_records=owned, warnings=tuple(warnings))
