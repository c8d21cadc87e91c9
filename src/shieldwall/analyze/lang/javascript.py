"""JavaScript packages: installed ``package.json`` files and npm, yarn and pnpm lock files.

The behaviour follows syft's javascript catalogers so that PURL sets match:

- ``package.json`` with both a name and a version is a package wherever it
  is (syft's javascript-package-cataloger globs ``**/package.json``, so an
  application's own manifest is listed too); ``node_modules_only`` narrows
  this to manifests of installed packages.
- ``package-lock.json`` and ``yarn.lock`` under a ``node_modules`` directory
  belong to a published package, not to the project, and are skipped.
- The project's own entries (the lock root ``""`` and workspace members of
  package-lock, berry ``workspace:`` entries) are kept, as syft keeps them,
  unless ``include_projects`` is false; they carry ``project=true``.

Versions that are not registry versions (``file:``, ``link:``, git URLs) give
no usable identity and are skipped. Every package keeps the dependency names
its lock entry states.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from shieldwall.analyze.base import EMPTY, AnalysisInput, AnalysisResult, AnalyzerError, FileInfo, basename
from shieldwall.analyze.common import make_package, npm_purl
from shieldwall.analyze.lang._bounded import read_bounded
from shieldwall.analyze.lang.loaders import (
    MAX_LOCK_BYTES,
    MAX_MANIFEST_BYTES,
    decode,
    is_true,
    load_json_object,
    load_yaml,
    str_or_empty,
)
from shieldwall.model import Package, PackageType

# ---------------------------------------------------------------------------
# shared helpers


@dataclass(slots=True)
class LockedNpm:
    """One lock-file entry before it becomes a ``Package`` (mutable while a file is parsed)."""

    name: str
    version: str
    depends_on: tuple[str, ...] = ()
    dev: bool = False
    licenses: tuple[str, ...] = ()
    line: int | None = None
    metadata: dict[str, str] = field(default_factory=dict)


def split_spec(spec: str) -> tuple[str, str]:
    """``@scope/name@range`` -> (``@scope/name``, ``range``); a bare name gets an empty range."""
    at = spec.find("@", 1)
    if at == -1:
        return spec, ""
    return spec[:at], spec[at + 1 :]


def is_registry_version(version: str) -> bool:
    """True for a plain version (``1.2.3-beta.1``); false for ``file:``, ``link:``, URLs and paths."""
    return bool(version) and not any(c in version for c in ":/ \t#")


def in_node_modules(path: str) -> bool:
    """True when any directory of ``path`` is named ``node_modules``."""
    return "node_modules" in path.split("/")[:-1]


def _names(*maps: object) -> tuple[str, ...]:
    names: list[str] = []
    for value in maps:
        if isinstance(value, dict):
            names.extend(str(k) for k in value)
    return tuple(dict.fromkeys(names))


def _license_values(value: object) -> list[str]:
    """Licences from a ``license``/``licenses`` field: a string, ``{type}`` or a list of either."""
    items = value if isinstance(value, list) else [value]
    found: list[str] = []
    for item in items:
        if isinstance(item, dict):
            item = item.get("type")
        if isinstance(item, str) and item.strip():
            found.append(item.strip())
    return found


def _dedupe(entries: Iterable[LockedNpm]) -> list[LockedNpm]:
    """One entry per name@version; an entry is dev only when every occurrence of it is."""
    merged: dict[tuple[str, str], LockedNpm] = {}
    for entry in entries:
        key = (entry.name, entry.version)
        first = merged.get(key)
        if first is None:
            merged[key] = entry
        else:
            first.dev = first.dev and entry.dev
            first.depends_on = tuple(dict.fromkeys(first.depends_on + entry.depends_on))
    return list(merged.values())


# ---------------------------------------------------------------------------
# package-lock.json / npm-shrinkwrap.json


def _name_from_lock_path(key: str) -> str:
    """``node_modules/a/node_modules/@s/b`` -> ``@s/b``; ``""`` for paths outside node_modules."""
    if "node_modules/" not in key:
        return ""
    return key.rsplit("node_modules/", 1)[1]


def _package_lock_v2(packages: dict[str, Any], include_projects: bool) -> Iterator[LockedNpm]:
    for key, entry in packages.items():
        if not isinstance(entry, dict) or is_true(entry.get("link")):
            continue
        declared = str_or_empty(entry.get("name"))
        project = key == "" or "node_modules/" not in key
        if project and not include_projects:
            continue
        name = declared or _name_from_lock_path(key)
        version = str_or_empty(entry.get("version"))
        if not name or not is_registry_version(version):
            continue
        yield LockedNpm(
            name,
            version,
            _names(entry.get("dependencies"), entry.get("optionalDependencies")),
            dev=is_true(entry.get("dev")),
            licenses=tuple(_license_values(entry.get("license"))),
            metadata={"project": "true"} if project else {},
        )


def _package_lock_v1(dependencies: dict[str, Any]) -> Iterator[LockedNpm]:
    stack: list[dict[str, Any]] = [dependencies]
    while stack:
        for name, entry in stack.pop().items():
            if not isinstance(entry, dict):
                continue
            nested = entry.get("dependencies")
            if isinstance(nested, dict):
                stack.append(nested)
            version = str_or_empty(entry.get("version"))
            if version.startswith("npm:"):  # alias: "version": "npm:real-name@1.2.3"
                name, version = split_spec(version[len("npm:") :])
            if not name or not is_registry_version(version):
                continue
            yield LockedNpm(name, version, _names(entry.get("requires")), dev=is_true(entry.get("dev")))


def parse_package_lock(doc: dict[str, Any], *, include_projects: bool = True) -> list[LockedNpm]:
    """Entries of a package-lock.json: the ``packages`` map (v2/v3) or nested ``dependencies`` (v1)."""
    packages = doc.get("packages")
    if isinstance(packages, dict) and packages:
        return _dedupe(_package_lock_v2(packages, include_projects))
    dependencies = doc.get("dependencies")
    if isinstance(dependencies, dict):
        return _dedupe(_package_lock_v1(dependencies))
    return []


# ---------------------------------------------------------------------------
# yarn.lock (classic v1 and berry)

_BERRY = re.compile(r"^__metadata:", re.MULTILINE)
_REGISTRY_URL = re.compile(r"^https?://registry\.(?:yarnpkg\.com|npmjs\.org)/(.+?)/-/")
_LOCAL_PROTOCOLS = {"link", "portal", "file", "exec"}


def _unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1]
    return text


def _yarn_key_value(line: str) -> tuple[str, str]:
    """``"@a/b" "^1"`` -> (``@a/b``, ``^1``); ``version "1.0"`` -> (``version``, ``1.0``)."""
    if line.startswith('"'):
        end = line.find('"', 1)
        if end == -1:
            return line.strip('"'), ""
        key, rest = line[1:end], line[end + 1 :]
    else:
        parts = line.split(None, 1)
        key, rest = parts[0], parts[1] if len(parts) > 1 else ""
    if key.endswith(":"):
        key = key[:-1]
    rest = rest.strip()
    if rest.startswith(":"):
        rest = rest[1:].strip()
    return key, _unquote(rest)


def _yarn_header_specs(header: str) -> list[str]:
    """``"a@^1", a@^1.1`` -> [``a@^1``, ``a@^1.1``]."""
    return [_unquote(part) for part in header.split(",") if part.strip()]


@dataclass(slots=True)
class _ClassicEntry:
    specs: list[str]
    line: int
    version: str = ""
    resolved: str = ""
    depends_on: list[str] = field(default_factory=list)


def _protocol(reference: str) -> str:
    """``npm`` for ``npm:^1``, ``file`` for ``file:./x``; ``""`` for a plain range."""
    head, colon, _ = reference.partition(":")
    return head if colon else ""


def _classic_is_local(entry: _ClassicEntry) -> bool:
    """Entries resolved from the local disk (``file:``, ``link:``...) name no published package."""
    return any(_protocol(split_spec(spec)[1]) in _LOCAL_PROTOCOLS for spec in entry.specs)


def _classic_name(entry: _ClassicEntry) -> str:
    """Registry URL name (as syft), else the target of an ``npm:`` alias, else the header name."""
    match = _REGISTRY_URL.match(entry.resolved)
    if match:
        return unquote(match.group(1))
    name, reference = split_spec(entry.specs[0]) if entry.specs else ("", "")
    if reference.startswith("npm:"):
        target, _ = split_spec(reference[len("npm:") :])
        if target:
            return target
    return name


def parse_yarn_classic(text: str) -> list[LockedNpm]:
    """Entries of a yarn v1 lock file (its own indentation-based format, not YAML)."""
    entries: list[_ClassicEntry] = []
    current: _ClassicEntry | None = None
    section = ""
    field_indent = 0
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(raw) - len(raw.lstrip(" \t"))
        if indent == 0:
            current = None
            if stripped.endswith(":"):
                current = _ClassicEntry(_yarn_header_specs(stripped[:-1]), number)
                entries.append(current)
                section, field_indent = "", 0
            continue
        if current is None:
            continue
        if not field_indent:
            field_indent = indent
        key, value = _yarn_key_value(stripped)
        if indent <= field_indent:
            section = key if (stripped.endswith(":") and not value) else ""
            if key == "version":
                current.version = value
            elif key == "resolved":
                current.resolved = value
        elif section in ("dependencies", "optionalDependencies") and key:
            current.depends_on.append(key)
    return _dedupe(
        LockedNpm(_classic_name(e), e.version, tuple(dict.fromkeys(e.depends_on)), line=e.line)
        for e in entries
        if e.specs and not _classic_is_local(e) and is_registry_version(e.version) and _classic_name(e)
    )


def parse_yarn_berry(doc: dict[str, Any], *, include_projects: bool = True) -> list[LockedNpm]:
    """Entries of a yarn 2+ lock file (YAML with ``__metadata``).

    The name comes from ``resolution`` (so ``npm:`` aliases name the real
    package); ``patch:`` entries collapse into the package they patch;
    ``link:``/``portal:``/``file:`` entries are local paths and are skipped.
    """
    found: list[LockedNpm] = []
    for key, entry in doc.items():
        if key == "__metadata" or not isinstance(entry, dict):
            continue
        resolution = str_or_empty(entry.get("resolution")) or next(iter(_yarn_header_specs(str(key))), "")
        name, reference = split_spec(resolution)
        protocol = _protocol(reference)
        if protocol in _LOCAL_PROTOCOLS:
            continue
        project = protocol == "workspace"
        if project and not include_projects:
            continue
        version = str_or_empty(entry.get("version"))
        if not name or not is_registry_version(version):
            continue
        found.append(
            LockedNpm(
                name,
                version,
                _names(entry.get("dependencies")),
                metadata={"project": "true"} if project else {},
            )
        )
    return _dedupe(found)


# ---------------------------------------------------------------------------
# pnpm-lock.yaml

_LOCKFILE_MAJOR = re.compile(r"^\s*'?\"?(\d+)")


def pnpm_lockfile_major(doc: dict[str, Any]) -> int:
    """Major ``lockfileVersion`` (5 for ``5.4``, 6 for ``'6.0'``, 9 for ``'9.0'``); 0 when absent."""
    match = _LOCKFILE_MAJOR.match(str_or_empty(doc.get("lockfileVersion")))
    return int(match.group(1)) if match else 0


def parse_pnpm_key(key: str, major: int) -> tuple[str, str]:
    """Name and version of a ``packages`` key, peer suffixes stripped.

    ``/name/1.2.3_peer@1`` (5.x), ``/@s/name@1.2.3(peer@1)`` (6.x),
    ``name@1.2.3`` (9.x). Keys of non-registry packages in 5.x/6.x
    (``github.com/...``) have no leading slash and give ``("", "")``.
    """
    key = key.split("(", 1)[0]
    if 0 < major < 9 and not key.startswith("/"):
        return "", ""
    key = key.lstrip("/")
    slash_style = major == 5 or (not major and key.find("@", 1) == -1)
    if slash_style:
        name, _, version = key.rpartition("/")
        return name, version.split("_", 1)[0]
    return split_spec(key)


def _pnpm_root_dependencies(doc: dict[str, Any]) -> Iterator[LockedNpm]:
    """Direct dependencies listed at the top of 5.x/6.x lock files (syft lists these too)."""
    for section in ("dependencies", "optionalDependencies", "devDependencies"):
        deps = doc.get(section)
        if not isinstance(deps, dict):
            continue
        for name, value in deps.items():
            raw = value.get("version") if isinstance(value, dict) else value
            version = re.split(r"[(_]", str_or_empty(raw), maxsplit=1)[0]
            if is_registry_version(version):
                yield LockedNpm(str(name), version, dev=section == "devDependencies")


def parse_pnpm_lock(doc: dict[str, Any]) -> list[LockedNpm]:
    """Entries of a pnpm lock file, lockfile versions 5.x, 6.x and 9.x."""
    major = pnpm_lockfile_major(doc)
    packages = doc.get("packages")
    if not isinstance(packages, dict):
        packages = {}
    snapshot_deps: dict[tuple[str, str], tuple[str, ...]] = {}
    snapshots = doc.get("snapshots")
    if isinstance(snapshots, dict):
        for key, snap in snapshots.items():
            if isinstance(snap, dict):
                ident = parse_pnpm_key(str(key), major)
                deps = _names(snap.get("dependencies"), snap.get("optionalDependencies"))
                snapshot_deps[ident] = tuple(dict.fromkeys(snapshot_deps.get(ident, ()) + deps))
    found: list[LockedNpm] = []
    for key, entry in packages.items():
        if not isinstance(entry, dict):
            continue
        ident = parse_pnpm_key(str(key), major)
        name, version = ident
        declared_name, declared_version = str_or_empty(entry.get("name")), str_or_empty(entry.get("version"))
        if declared_name and declared_version:  # non-registry packages state their identity
            name, version = declared_name, declared_version
        elif declared_version and not is_registry_version(version):
            version = declared_version
        if not name or not is_registry_version(version):
            continue
        depends = _names(entry.get("dependencies"), entry.get("optionalDependencies")) + snapshot_deps.get(ident, ())
        found.append(LockedNpm(name, version, tuple(dict.fromkeys(depends)), dev=is_true(entry.get("dev"))))
    if major < 9:
        found.extend(_pnpm_root_dependencies(doc))
    return _dedupe(found)


# ---------------------------------------------------------------------------
# analyzers


def _npm_package(entry: LockedNpm, path: str, found_by: str) -> Package:
    metadata = dict(entry.metadata)
    if entry.dev:
        metadata["dev"] = "true"
    return make_package(
        PackageType.NPM,
        entry.name,
        entry.version,
        path,
        found_by,
        purl=npm_purl(entry.name, entry.version),
        licenses=entry.licenses,
        depends_on=entry.depends_on,
        metadata=metadata,
        line=entry.line,
    )


_NPM_LOCKS = {"package-lock.json", "npm-shrinkwrap.json"}
_LOCK_NAMES = _NPM_LOCKS | {"yarn.lock", "pnpm-lock.yaml"}


class NpmLockAnalyzer:
    """Declared npm packages from package-lock.json (v1-v3), yarn.lock (classic, berry) and pnpm-lock.yaml.

    ``include_projects`` keeps the project's own entries (lock root, workspace
    members) as syft does; turn it off to list third-party packages only.
    """

    name = "javascript-lock"
    version = 1

    def __init__(self, *, include_projects: bool = True) -> None:
        self.include_projects = include_projects

    def required(self, path: str, info: FileInfo) -> bool:
        """Lock files by name."""
        return basename(path) in _LOCK_NAMES

    def analyze(self, input: AnalysisInput) -> AnalysisResult:
        """Packages the lock file lists; ``AnalyzerError`` for oversized or malformed files."""
        base = basename(input.path)
        if base != "pnpm-lock.yaml" and in_node_modules(input.path):
            return EMPTY  # a published package's own lock file (syft skips these too)
        entries: list[LockedNpm]
        if base in _NPM_LOCKS:
            doc = load_json_object(input, MAX_LOCK_BYTES)
            return self._result(parse_package_lock(doc, include_projects=self.include_projects), input.path)
        data = read_bounded(input, MAX_LOCK_BYTES, input.path)
        if base == "yarn.lock":
            text = decode(data)
            if _BERRY.search(text):
                doc = load_yaml(data, input.path)
                if not isinstance(doc, dict):
                    raise AnalyzerError(f"{input.path}: expected a YAML mapping")
                entries = parse_yarn_berry(doc, include_projects=self.include_projects)
            else:
                entries = parse_yarn_classic(text)
        else:
            doc = load_yaml(data, input.path)
            if doc is None or doc == "":
                return EMPTY
            if not isinstance(doc, dict):
                raise AnalyzerError(f"{input.path}: expected a YAML mapping")
            entries = parse_pnpm_lock(doc)
        return self._result(entries, input.path)

    def _result(self, entries: list[LockedNpm], path: str) -> AnalysisResult:
        return AnalysisResult(packages=tuple(_npm_package(e, path, self.name) for e in entries))


def is_installed_manifest(path: str) -> bool:
    """``.../node_modules/<name>/package.json`` or ``.../node_modules/@scope/<name>/package.json``."""
    parts = path.split("/")
    if len(parts) < 4 or parts[-1] != "package.json":
        return False
    if parts[-3] == "node_modules":
        return not parts[-2].startswith("@")  # a scope directory is not a package
    return len(parts) >= 5 and parts[-3].startswith("@") and parts[-4] == "node_modules"


def package_json_licenses(doc: dict[str, Any]) -> list[str]:
    """``license`` (string or legacy ``{type}``), else the legacy ``licenses`` array."""
    return _license_values(doc.get("license")) or _license_values(doc.get("licenses"))


class NpmInstalledAnalyzer:
    """npm packages from ``package.json`` manifests that state a name and a version.

    By default every such manifest counts, as in syft's image scans (an
    application's own package.json included, marked ``outside_node_modules``);
    ``node_modules_only`` keeps just the manifests of installed packages.
    """

    name = "javascript-installed"
    version = 1

    def __init__(self, *, node_modules_only: bool = False) -> None:
        self.node_modules_only = node_modules_only

    def required(self, path: str, info: FileInfo) -> bool:
        """``package.json`` files (only installed ones with ``node_modules_only``)."""
        if self.node_modules_only:
            return is_installed_manifest(path)
        return posixpath.basename(path) == "package.json"

    def analyze(self, input: AnalysisInput) -> AnalysisResult:
        """One package, or none for manifests without a name or version."""
        doc = load_json_object(input, MAX_MANIFEST_BYTES)
        name, version = doc.get("name"), doc.get("version")
        if not isinstance(name, str) or not isinstance(version, str) or not name.strip() or not version.strip():
            return EMPTY
        metadata: dict[str, str] = {}
        if is_true(doc.get("private")):
            metadata["private"] = "true"
        if not is_installed_manifest(input.path):
            metadata["outside_node_modules"] = "true"
        package = make_package(
            PackageType.NPM,
            name.strip(),
            version.strip(),
            input.path,
            self.name,
            purl=npm_purl(name.strip(), version.strip()),
            licenses=package_json_licenses(doc),
            depends_on=_names(doc.get("dependencies"), doc.get("optionalDependencies")),
            metadata=metadata,
        )
        return AnalysisResult(packages=(package,))


ANALYZERS = (NpmLockAnalyzer, NpmInstalledAnalyzer)
