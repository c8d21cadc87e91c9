"""Python packages: installed distributions (dist-info, egg-info) and lock files.

Installed distributions follow syft's python-installed-package-cataloger: one
package per ``*.dist-info/METADATA``, ``*.egg-info/PKG-INFO`` or bare
``*.egg-info`` file, skipping the ``Python`` interpreter's own egg-info. Lock
files follow syft's python-package-cataloger: exactly pinned lines of
requirements files, ``poetry.lock``, ``Pipfile.lock`` and ``uv.lock``.

Package names keep the spelling the file uses; PURLs use the name as the PURL
spec normalises it for pypi (lower case, ``_`` becomes ``-``), which is also
what packageurl-python produces when it parses syft's PURLs.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from email.parser import HeaderParser
from email.policy import compat32
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from shieldwall.analyze.base import EMPTY, AnalysisInput, AnalysisResult, AnalyzerError, FileInfo, basename
from shieldwall.analyze.common import make_package, purl_for
from shieldwall.analyze.lang._bounded import read_bounded
from shieldwall.analyze.lang.loaders import (
    MAX_LOCK_BYTES,
    MAX_MANIFEST_BYTES,
    decode,
    load_json_object,
    load_toml,
    str_or_empty,
)
from shieldwall.model import Package, PackageType

# ---------------------------------------------------------------------------
# shared helpers


def pypi_purl(name: str, version: str) -> str:
    """``pkg:pypi/<name>@<version>`` with the name lower-cased and ``_`` turned into ``-``."""
    return purl_for(PackageType.PYPI, name.strip().lower().replace("_", "-"), version)


def _pypi_package(
    name: str,
    version: str,
    path: str,
    found_by: str,
    *,
    licenses: tuple[str, ...] = (),
    depends_on: list[str] | tuple[str, ...] = (),
    metadata: dict[str, str] | None = None,
    line: int | None = None,
) -> Package:
    return make_package(
        PackageType.PYPI,
        name,
        version,
        path,
        found_by,
        purl=pypi_purl(name, version),
        licenses=licenses,
        depends_on=depends_on,
        metadata=metadata,
        line=line,
    )


_EXTRA_MARKER = re.compile(r"\bextra\s*==")
_LEADING_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def requirement_name(spec: str) -> tuple[str, bool]:
    """Name of a PEP 508 requirement and whether it applies only to an extra.

    Falls back to the leading name token when ``packaging`` rejects the line
    (old metadata sometimes carries invalid markers).
    """
    try:
        req = Requirement(spec)
    except InvalidRequirement:
        match = _LEADING_NAME.match(spec)
        name = match.group(1) if match else ""
        marker = spec.partition(";")[2]
        return name, bool(_EXTRA_MARKER.search(marker))
    return req.name, bool(req.marker and _EXTRA_MARKER.search(str(req.marker)))


# ---------------------------------------------------------------------------
# installed distributions

# Trove classifier (last segment) -> SPDX identifier, only where the mapping is unambiguous.
_CLASSIFIER_SPDX = {
    "MIT License": "MIT",
    "MIT No Attribution License (MIT-0)": "MIT-0",
    "Apache Software License": "Apache-2.0",
    "ISC License (ISCL)": "ISC",
    "Python Software Foundation License": "PSF-2.0",
    "Mozilla Public License 1.1 (MPL 1.1)": "MPL-1.1",
    "Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
    "GNU General Public License v2 (GPLv2)": "GPL-2.0-only",
    "GNU General Public License v2 or later (GPLv2+)": "GPL-2.0-or-later",
    "GNU General Public License v3 (GPLv3)": "GPL-3.0-only",
    "GNU General Public License v3 or later (GPLv3+)": "GPL-3.0-or-later",
    "GNU Lesser General Public License v2 (LGPLv2)": "LGPL-2.0-only",
    "GNU Lesser General Public License v2 or later (LGPLv2+)": "LGPL-2.0-or-later",
    "GNU Lesser General Public License v3 (LGPLv3)": "LGPL-3.0-only",
    "GNU Lesser General Public License v3 or later (LGPLv3+)": "LGPL-3.0-or-later",
    "GNU Affero General Public License v3": "AGPL-3.0-only",
    "GNU Affero General Public License v3 or later (AGPLv3+)": "AGPL-3.0-or-later",
    "Eclipse Public License 1.0 (EPL-1.0)": "EPL-1.0",
    "Eclipse Public License 2.0 (EPL-2.0)": "EPL-2.0",
    "Boost Software License 1.0 (BSL-1.0)": "BSL-1.0",
    "The Unlicense (Unlicense)": "Unlicense",
    "zlib/libpng License": "Zlib",
    "Universal Permissive License (UPL)": "UPL-1.0",
    "Historical Permission Notice and Disclaimer (HPND)": "HPND",
    "European Union Public Licence 1.2 (EUPL 1.2)": "EUPL-1.2",
    "CEA CNRS Inria Logiciel Libre License, version 2.1 (CeCILL-2.1)": "CECILL-2.1",
    "CC0 1.0 Universal (CC0 1.0) Public Domain Dedication": "CC0-1.0",
}
_UNHELPFUL_LICENSE = {"", "unknown", "none", "n/a", "license", "other", "other/proprietary license"}
_MAX_SHORT_LICENSE = 100


def classifier_licenses(classifiers: list[str]) -> list[str]:
    """Licences named by ``License ::`` trove classifiers, as SPDX ids where obvious."""
    found: list[str] = []
    for raw in classifiers:
        parts = [p.strip() for p in raw.split("::")]
        if len(parts) < 2 or parts[0] != "License":
            continue
        last = parts[-1]
        if last == "OSI Approved" or last.lower() in _UNHELPFUL_LICENSE:
            continue
        found.append(_CLASSIFIER_SPDX.get(last, last))
    return found


def metadata_licenses(msg: Message) -> list[str]:
    """License-Expression, else a short License field, else licence classifiers."""
    expression = (msg.get("License-Expression") or "").strip()
    if expression:
        return [expression]
    license_field = (msg.get("License") or "").strip()
    if (
        license_field
        and "\n" not in license_field
        and len(license_field) <= _MAX_SHORT_LICENSE
        and license_field.lower() not in _UNHELPFUL_LICENSE
    ):
        return [license_field]
    return classifier_licenses([str(c) for c in msg.get_all("Classifier") or []])


def _installed_kind(path: str) -> str:
    """``dist-info``/``egg-info`` for a metadata path this module reads, else ``""``."""
    base = posixpath.basename(path)
    parent = posixpath.basename(posixpath.dirname(path)).lower()
    if base == "METADATA" and parent.endswith("dist-info"):
        return "dist-info"
    if base == "PKG-INFO" and parent.endswith("egg-info"):
        return "egg-info"
    if base.endswith(".egg-info"):
        return "egg-info"
    return ""


class PythonInstalledAnalyzer:
    """Installed Python distributions from their core metadata (PEP 566 / PEP 643)."""

    name = "python-installed"
    version = 1

    def required(self, path: str, info: FileInfo) -> bool:
        """Wheel ``METADATA`` in a dist-info dir, ``PKG-INFO`` in an egg-info dir, or an egg-info file."""
        return bool(_installed_kind(path))

    def analyze(self, input: AnalysisInput) -> AnalysisResult:
        """One package per metadata file; none for files without a Name or for the interpreter itself."""
        data = read_bounded(input, MAX_MANIFEST_BYTES, input.path)
        msg = HeaderParser(policy=compat32).parsestr(decode(data))
        name = (msg.get("Name") or "").strip()
        if not name:
            return AnalysisResult(warnings=(f"{input.path}: no Name field in the core metadata",))
        if name == "Python":  # the interpreter's own egg-info is not a package (as syft)
            return EMPTY
        version = (msg.get("Version") or "").strip()
        depends: list[str] = []
        for spec in msg.get_all("Requires-Dist") or []:
            dep, extra_only = requirement_name(str(spec))
            if dep and not extra_only:
                depends.append(dep)
        package = _pypi_package(
            name,
            version,
            input.path,
            self.name,
            licenses=tuple(metadata_licenses(msg)),
            depends_on=depends,
            metadata={"format": _installed_kind(input.path)},
        )
        return AnalysisResult(packages=(package,))


# ---------------------------------------------------------------------------
# requirements files


@dataclass(frozen=True, slots=True)
class PinnedRequirement:
    """One ``name==version`` line of a requirements file."""

    name: str
    version: str
    line: int
    extras: tuple[str, ...] = ()
    markers: str = ""


_COMMENT = re.compile(r"(^|\s)#.*$")
# pip's per-requirement options (--hash, --config-settings, --global-option...) start the tail of a line
_OPTIONS = re.compile(r"\s--[A-Za-z]")


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """Join ``\\`` continuations as pip does; yield (first line number, joined text)."""
    parts: list[str] = []
    start = 1
    for number, raw in enumerate(text.splitlines(), 1):
        if not parts:
            start = number
        stripped = raw.rstrip()
        if stripped.endswith("\\"):
            parts.append(stripped[:-1])
            continue
        parts.append(raw)
        yield start, " ".join(parts)
        parts = []
    if parts:
        yield start, " ".join(parts)


def parse_requirements(text: str) -> list[PinnedRequirement]:
    """Exactly pinned requirements (``==``/``===`` without wildcards); everything else is skipped.

    Options (``-r``, ``-e``, ``--index-url``...) and URL or path requirements
    carry no pinned version and are ignored; ``-r`` includes are not followed.
    """
    pinned: list[PinnedRequirement] = []
    for number, logical in _logical_lines(text):
        line = _COMMENT.sub("", logical).strip()
        if not line or line.startswith("-"):
            continue
        option = _OPTIONS.search(line)
        if option:
            line = line[: option.start()].strip()
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue
        if req.url:
            continue
        specs = list(req.specifier)
        if len(specs) != 1 or specs[0].operator not in ("==", "===") or "*" in specs[0].version:
            continue
        pinned.append(
            PinnedRequirement(
                name=req.name,
                version=specs[0].version,
                line=number,
                extras=tuple(sorted(req.extras)),
                markers=str(req.marker) if req.marker else "",
            )
        )
    return pinned


# ---------------------------------------------------------------------------
# lock files


@dataclass(frozen=True, slots=True)
class LockedPackage:
    """One entry of a lock file before it becomes a ``Package``."""

    name: str
    version: str
    depends_on: tuple[str, ...] = ()
    metadata: tuple[tuple[str, str], ...] = ()
    line: int | None = None


def _table_list(value: object) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _poetry_dependency_applies(spec: object) -> bool:
    """A poetry dependency counts unless every form of it is an optional (extra-only) one."""
    forms = spec if isinstance(spec, list) else [spec]
    return any(not (isinstance(f, dict) and f.get("optional") is True) for f in forms)


def parse_poetry_lock(doc: dict[str, Any]) -> list[LockedPackage]:
    """Every ``[[package]]`` of a poetry.lock, with its non-optional dependency names."""
    found: list[LockedPackage] = []
    for entry in _table_list(doc.get("package")):
        name, version = str_or_empty(entry.get("name")), str_or_empty(entry.get("version"))
        if not name or not version:
            continue
        deps = entry.get("dependencies")
        depends = tuple(k for k, v in deps.items() if _poetry_dependency_applies(v)) if isinstance(deps, dict) else ()
        meta = (("dev", "true"),) if entry.get("category") == "dev" else ()
        found.append(LockedPackage(name, version, depends, meta))
    return found


def parse_pipfile_lock(doc: dict[str, Any]) -> list[LockedPackage]:
    """The ``default`` and ``develop`` sections of a Pipfile.lock (develop ones marked dev)."""
    found: dict[tuple[str, str], LockedPackage] = {}
    for section, dev in (("default", False), ("develop", True)):
        entries = doc.get(section)
        if not isinstance(entries, dict):
            continue
        for name, entry in entries.items():
            if not isinstance(entry, dict):
                continue
            version = str_or_empty(entry.get("version")).lstrip("=").strip()
            if not version:  # VCS or path dependencies carry no version
                continue
            key = (canonicalize_name(name), version)
            if key in found:
                continue
            found[key] = LockedPackage(name, version, (), (("dev", "true"),) if dev else ())
    return list(found.values())


_UV_ROOT_SOURCES = ("virtual", "editable")


def parse_uv_lock(doc: dict[str, Any], *, include_projects: bool) -> list[LockedPackage]:
    """Every ``[[package]]`` of a uv.lock with its dependency names (extra-only ones skipped).

    Workspace members (``source = { virtual = ... }`` or ``{ editable = ... }``)
    are the project itself; syft lists them, so they are kept unless
    ``include_projects`` is false, and carry ``project=true`` and their source kind.
    """
    found: list[LockedPackage] = []
    for entry in _table_list(doc.get("package")):
        name, version = str_or_empty(entry.get("name")), str_or_empty(entry.get("version"))
        if not name or not version:
            continue
        source = entry.get("source")
        root_kind = next((k for k in _UV_ROOT_SOURCES if isinstance(source, dict) and k in source), "")
        if root_kind and not include_projects:
            continue
        depends = tuple(
            str_or_empty(d.get("name"))
            for d in _table_list(entry.get("dependencies"))
            if str_or_empty(d.get("name")) and not _EXTRA_MARKER.search(str_or_empty(d.get("marker")))
        )
        meta = (("project", "true"), ("source", root_kind)) if root_kind else ()
        found.append(LockedPackage(name, version, depends, meta))
    return found


def _is_requirements_file(path: str) -> bool:
    base = posixpath.basename(path)
    if not base.endswith(".txt"):
        return False
    return "requirements" in base or posixpath.basename(posixpath.dirname(path)) == "requirements"


_LOCK_NAMES = {"poetry.lock", "Pipfile.lock", "uv.lock"}


class PythonLockAnalyzer:
    """Declared Python dependencies: requirements files, poetry.lock, Pipfile.lock, uv.lock.

    ``include_projects`` keeps uv workspace members (the project being
    built) as syft does; turn it off to list third-party packages only.
    Entries identical up to name normalisation are reported once per file.
    """

    name = "python-lock"
    version = 1

    def __init__(self, *, include_projects: bool = True) -> None:
        self.include_projects = include_projects

    def required(self, path: str, info: FileInfo) -> bool:
        """``*requirements*.txt``, ``requirements/*.txt`` and the lock files by name (uv's ``*.py.lock`` too)."""
        base = basename(path)
        return base in _LOCK_NAMES or base.endswith(".py.lock") or _is_requirements_file(path)

    def analyze(self, input: AnalysisInput) -> AnalysisResult:
        """Packages the file pins; raises ``AnalyzerError`` for oversized or malformed lock files."""
        base = basename(input.path)
        if base == "Pipfile.lock":
            return self._result(parse_pipfile_lock(load_json_object(input, MAX_LOCK_BYTES)), input.path)
        data = read_bounded(input, MAX_LOCK_BYTES, input.path)
        locked: list[LockedPackage]
        if base == "poetry.lock":
            locked = parse_poetry_lock(load_toml(data, input.path))
        elif base == "uv.lock" or base.endswith(".py.lock"):
            locked = parse_uv_lock(load_toml(data, input.path), include_projects=self.include_projects)
        elif _is_requirements_file(input.path):
            locked = [
                LockedPackage(
                    r.name,
                    r.version,
                    (),
                    tuple(x for x in (("extras", ",".join(r.extras)), ("markers", r.markers)) if x[1]),
                    r.line,
                )
                for r in parse_requirements(decode(data))
            ]
        else:  # pragma: no cover - required() admits nothing else
            raise AnalyzerError(f"{input.path}: not a Python lock file")
        return self._result(locked, input.path)

    def _result(self, locked: list[LockedPackage], path: str) -> AnalysisResult:
        return AnalysisResult(packages=tuple(self._packages(locked, path)))

    def _packages(self, locked: list[LockedPackage], path: str) -> Iterator[Package]:
        seen: set[tuple[str, str]] = set()
        for item in locked:
            key = (canonicalize_name(item.name), item.version)
            if key in seen:
                continue
            seen.add(key)
            yield _pypi_package(
                item.name,
                item.version,
                path,
                self.name,
                depends_on=item.depends_on,
                metadata=dict(item.metadata),
                line=item.line,
            )


ANALYZERS = (PythonInstalledAnalyzer, PythonLockAnalyzer)
