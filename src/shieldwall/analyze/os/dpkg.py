"""Debian packages: the dpkg status database and the copyright files that hold their licences.

``DpkgStatusAnalyzer`` reads ``/var/lib/dpkg/status`` and the per-package files
of ``/var/lib/dpkg/status.d/`` that distroless images ship instead. Both are
RFC 822 style stanzas (deb822): ``Field: value`` lines, continuation lines that
start with a space or tab, and blank lines between packages.

``DpkgCopyrightAnalyzer`` reads ``/usr/share/doc/<package>/copyright`` and
hands the merger a ``LicenseHint``: machine-readable (DEP-5) files name their
licences in ``License:`` fields; for free-text files a few well-known licence
texts and ``/usr/share/common-licenses`` references are recognised.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass

from shieldwall.analyze.base import (
    EMPTY,
    AnalysisInput,
    AnalysisResult,
    AnalyzerError,
    FileInfo,
    LicenseHint,
)
from shieldwall.analyze.common import make_package, purl_for
from shieldwall.model import Package, PackageType

STATUS_FILE = "/var/lib/dpkg/status"
STATUS_DIR = "/var/lib/dpkg/status.d"
DOC_DIR = "/usr/share/doc"

# A real status file of a big desktop system is a few MiB; anything past this is hostile or broken.
MAX_STATUS_BYTES = 64 * 1024 * 1024
# Copyright files of huge source packages reach a few hundred KiB; licence names come early.
MAX_COPYRIGHT_BYTES = 1024 * 1024
# Parser complaints reported per file; the rest are counted in one last warning.
MAX_WARNINGS = 20

# Files that dpkg or image builders keep next to the stanza files in status.d.
_IGNORED_SUFFIXES = (".md5sums", ".conffiles", ".list")
_INSTALLED_WANTS = {"install", "hold"}

_SOURCE_RE = re.compile(r"^(?P<name>\S+)(?:\s*\((?P<version>[^)]*)\))?")
_DEB_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9+.\-_]*$")
_DEP_NOISE_RE = re.compile(r"\([^)]*\)|\[[^\]]*\]|<[^>]*>")


@dataclass(frozen=True, slots=True)
class Stanza:
    """One paragraph of a deb822 file: field names are case-insensitive, so they are kept lower-case."""

    line: int
    fields: Mapping[str, str]

    def get(self, name: str, default: str = "") -> str:
        """Value of field ``name`` (any case), or ``default`` when absent."""
        return self.fields.get(name.lower(), default)


def parse_stanzas(text: str) -> tuple[list[Stanza], list[str]]:
    """Split deb822 text into stanzas; malformed lines are skipped and reported, never fatal.

    A continuation line (leading space or tab) is appended to the previous
    field's value after a newline, without its first whitespace character.
    A repeated field inside one stanza keeps its first value, as dpkg does not
    allow repeats. Lines starting with ``#`` outside a field are comments.
    """
    stanzas: list[Stanza] = []
    warnings: list[str] = []
    fields: dict[str, str] = {}
    start = 0
    current = ""

    def close() -> None:
        nonlocal fields, current
        if fields:
            stanzas.append(Stanza(start, fields))
        fields = {}
        current = ""

    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip("\r")
        if not line.strip():
            close()
            continue
        if line[0] in " \t":
            if not current:
                warnings.append(f"line {number}: continuation line without a field")
                continue
            fields[current] += "\n" + line[1:]
            continue
        if line.startswith("#"):
            current = ""
            continue
        name, sep, value = line.partition(":")
        name = name.strip()
        if not sep or not name or any(c.isspace() for c in name):
            warnings.append(f"line {number}: not a 'Field: value' line")
            current = ""
            continue
        key = name.lower()
        if not fields:
            start = number
        if key in fields:
            warnings.append(f"line {number}: repeated field {name!r} ignored")
            current = ""
            continue
        fields[key] = value.strip()
        current = key
    close()
    return stanzas, warnings


def split_source(source: str) -> tuple[str, str]:
    """``"glibc (2.36-9)"`` -> ``("glibc", "2.36-9")``; ``"glibc"`` -> ``("glibc", "")``."""
    match = _SOURCE_RE.match(source.strip())
    if not match:
        return "", ""
    return match.group("name"), (match.group("version") or "").strip()


def dependency_names(*fields: str) -> list[str]:
    """Package names in Depends-style fields, every alternative kept, constraints dropped.

    ``"libc6 (>= 2.34), perl:any | awk [amd64] <!nocheck>"`` -> ``["libc6", "perl", "awk"]``.
    """
    names: list[str] = []
    for field in fields:
        for group in field.split(","):
            for alternative in group.split("|"):
                words = _DEP_NOISE_RE.sub(" ", alternative).split()
                if not words:
                    continue
                name = words[0].split(":", 1)[0]
                if _DEB_NAME_RE.match(name) and name not in names:
                    names.append(name)
    return names


def is_installed(status: str) -> bool:
    """True for ``install ok installed`` and ``hold ok installed`` (a held package is installed too).

    Removed packages whose configuration files remain (``deinstall ok
    config-files``), half-installed and not-installed ones are not.
    """
    parts = status.split()
    return len(parts) == 3 and parts[0] in _INSTALLED_WANTS and parts[1] == "ok" and parts[2] == "installed"


def deb_purl(name: str, version: str, arch: str, source: str, source_version: str) -> str:
    """PURL as syft writes it: ``upstream`` is the Source field's name, ``name@version`` when it has one.

    dpkg writes ``Source: name (version)`` only when the source version
    differs from the binary version, and syft omits ``upstream`` when there is
    no Source field at all. The vendor is ``debian`` until the merger knows the OS.
    """
    upstream = f"{source}@{source_version}" if source and source_version else source
    return purl_for(
        PackageType.DEB,
        name,
        version,
        namespace="debian",
        qualifiers={"arch": arch, "upstream": upstream},
    )


def _limited(warnings: list[str]) -> tuple[str, ...]:
    if len(warnings) <= MAX_WARNINGS:
        return tuple(warnings)
    extra = len(warnings) - MAX_WARNINGS
    return (*warnings[:MAX_WARNINGS], f"{extra} more warnings")


class DpkgStatusAnalyzer:
    """Installed Debian packages from ``/var/lib/dpkg/status`` and ``/var/lib/dpkg/status.d/*``.

    In the status file only installed packages are kept (see ``is_installed``).
    Distroless ``status.d`` files usually have no Status field at all; there a
    missing Status means installed, a present one is checked the same way.
    """

    name = "dpkg"
    version = 1

    def required(self, path: str, info: FileInfo) -> bool:
        if path == STATUS_FILE:
            return True
        return posixpath.dirname(path) == STATUS_DIR and not path.endswith(_IGNORED_SUFFIXES)

    def analyze(self, input: AnalysisInput) -> AnalysisResult:
        data = input.read()
        if len(data) > MAX_STATUS_BYTES:
            raise AnalyzerError(f"dpkg database {input.path} is larger than {MAX_STATUS_BYTES} bytes")
        stanzas, problems = parse_stanzas(data.decode("utf-8", errors="replace"))
        warnings = list(problems)
        status_optional = input.path != STATUS_FILE
        packages: list[Package] = []
        for stanza in stanzas:
            package = self._package(input.path, stanza, status_optional, warnings)
            if package is not None:
                packages.append(package)
        if not packages and not warnings:
            return EMPTY
        return AnalysisResult(packages=tuple(packages), warnings=_limited(warnings))

    def _package(self, path: str, stanza: Stanza, status_optional: bool, warnings: list[str]) -> Package | None:
        name = stanza.get("Package")
        if not name:
            warnings.append(f"stanza at line {stanza.line} has no Package field; skipped")
            return None
        status = stanza.get("Status")
        if not (status_optional and not status) and not is_installed(status):
            return None
        version = stanza.get("Version")
        if not version:
            warnings.append(f"package {name} at line {stanza.line} has no Version; skipped")
            return None
        arch = stanza.get("Architecture")
        declared_source, declared_source_version = split_source(stanza.get("Source"))
        metadata = {}
        summary = stanza.get("Description").split("\n", 1)[0].strip()
        if summary:
            metadata["description"] = summary
        return make_package(
            PackageType.DEB,
            name,
            version,
            path,
            self.name,
            purl=deb_purl(name, version, arch, declared_source, declared_source_version),
            source_name=declared_source or name,
            source_version=declared_source_version or version,
            arch=arch,
            depends_on=dependency_names(stanza.get("Pre-Depends"), stanza.get("Depends")),
            metadata=metadata,
            line=stanza.line,
        )


# --- licences -------------------------------------------------------------------------------

# Debian short names (and common spellings) that map one-to-one onto SPDX identifiers.
_SPDX_NAMES = {
    "apache-2": "Apache-2.0",
    "apache-2.0": "Apache-2.0",
    "apache-1.1": "Apache-1.1",
    "artistic-2.0": "Artistic-2.0",
    "expat": "MIT",
    "mit": "MIT",
    "mit/x11": "MIT",
    "bsd-2-clause": "BSD-2-Clause",
    "bsd-3-clause": "BSD-3-Clause",
    "bsd-4-clause": "BSD-4-Clause",
    "0bsd": "0BSD",
    "isc": "ISC",
    "zlib": "Zlib",
    "mpl-1.1": "MPL-1.1",
    "mpl-2": "MPL-2.0",
    "mpl-2.0": "MPL-2.0",
    "cc0": "CC0-1.0",
    "cc0-1.0": "CC0-1.0",
    "psf-2": "PSF-2.0",
    "psf-2.0": "PSF-2.0",
    "python-2.0": "Python-2.0",
    "openssl": "OpenSSL",
    "curl": "curl",
    "x11": "X11",
    "bsl-1.0": "BSL-1.0",
    "boost-1.0": "BSL-1.0",
    "unlicense": "Unlicense",
    "wtfpl": "WTFPL",
    "libpng": "Libpng",
    "sleepycat": "Sleepycat",
    "ofl-1.1": "OFL-1.1",
    "epl-1.0": "EPL-1.0",
    "epl-2.0": "EPL-2.0",
    "cc-by-3.0": "CC-BY-3.0",
    "cc-by-4.0": "CC-BY-4.0",
    "cc-by-sa-3.0": "CC-BY-SA-3.0",
    "cc-by-sa-4.0": "CC-BY-SA-4.0",
}
_GNU_RE = re.compile(r"^(AGPL|LGPL|GPL|GFDL)[-_ ]?v?(\d(?:\.\d)?)(\+|-or-later|-only)?$", re.IGNORECASE)
_EXCEPTION_RE = re.compile(r"\s+with\s+.*$", re.IGNORECASE)
_EXPRESSION_SPLIT_RE = re.compile(r"\s*[,|&]\s*(?:(?:or|and)\s+)?|\s+(?:or|and)\s+", re.IGNORECASE)
_BSD_CLAUSE_RE = re.compile(r"^BSD-?(\d)(?:-clause)?$", re.IGNORECASE)
_COMMON_LICENSE_RE = re.compile(r"/usr/share/common-licenses/([A-Za-z0-9_.+\-]+)")
_VERSION_RE = re.compile(r"version (\d(?:\.\d)?)", re.IGNORECASE)
_GNU_TEXT_RE = re.compile(r"GNU (?:(Lesser|Library) |(Affero) )?General Public License(.{0,200})", re.IGNORECASE)
_PHRASES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"Apache License,? (?:Version |v\. ?)2\.0", re.IGNORECASE), "Apache-2.0"),
    (
        re.compile(r"Permission is hereby granted, free of charge, to any person obtaining a copy", re.I),
        "MIT",
    ),
    (re.compile(r"Mozilla Public License,? (?:v\. |Version )2\.0", re.IGNORECASE), "MPL-2.0"),
    (
        re.compile(
            r"Permission to use, copy, modify, and(?:/or)? distribute this software for any purpose",
            re.IGNORECASE,
        ),
        "ISC",
    ),
    (re.compile(r"provided \W?as-is\W?, without any express or implied warranty", re.I), "Zlib"),
)
_BSD_RE = re.compile(r"Redistribution and use in source and binary forms", re.IGNORECASE)


def spdx_license_id(name: str) -> str:
    """Debian licence short name -> SPDX identifier where the mapping is obvious, else ``name`` unchanged.

    ``GPL-2+`` -> ``GPL-2.0-or-later``, ``LGPL-2.1`` -> ``LGPL-2.1-only``, ``Expat`` -> ``MIT``.
    """
    cleaned = name.strip().rstrip(".")
    fixed = _SPDX_NAMES.get(cleaned.lower())
    if fixed:
        return fixed
    bsd = _BSD_CLAUSE_RE.match(cleaned)
    if bsd:
        return f"BSD-{bsd.group(1)}-Clause"
    match = _GNU_RE.match(cleaned)
    if not match:
        return cleaned
    family = match.group(1).upper()
    number = match.group(2) if "." in match.group(2) else match.group(2) + ".0"
    later = match.group(3) in ("+", "-or-later")
    return f"{family}-{number}-{'or-later' if later else 'only'}"


def expression_names(expression: str) -> list[str]:
    """The licence names in a DEP-5 ``License:`` expression, exceptions dropped, SPDX-normalised.

    ``"GPL-2+ or Artistic"`` -> ``["GPL-2.0-or-later", "Artistic"]``;
    ``"GPL-3+ with OpenSSL exception"`` -> ``["GPL-3.0-or-later"]``.
    """
    names: list[str] = []
    for part in _EXPRESSION_SPLIT_RE.split(expression):
        part = _EXCEPTION_RE.sub("", part).strip(" ()")
        if not part or part.lower() == "none":
            continue
        normalized = spdx_license_id(part)
        if normalized and normalized not in names:
            names.append(normalized)
    return names


def _is_dep5(stanzas: list[Stanza]) -> bool:
    if not stanzas:
        return False
    header = stanzas[0]
    fmt = header.get("Format") or header.get("Format-Specification")
    return "copyright-format" in fmt or "dep5" in fmt.lower() or "dep-5" in fmt.lower()


def _gnu_name(family: str, version: str, later: bool) -> str:
    if not version:
        return family
    return spdx_license_id(f"{family}-{version}{'+' if later else ''}")


def _free_text_licenses(text: str) -> list[str]:
    """Licences recognised in a free-text copyright file.

    ``/usr/share/common-licenses/<name>`` references come first; a GNU licence
    takes its version and "or later" from the same paragraph, or else from
    the "GNU ... General Public License ... version N" wording elsewhere.
    """
    names: list[str] = []

    def add(value: str) -> None:
        if value and value not in names:
            names.append(value)

    resolved: set[str] = set()
    unresolved: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text):
        flat = " ".join(paragraph.split())
        later = "any later version" in flat.lower()
        for match in _COMMON_LICENSE_RE.finditer(flat):
            short = match.group(1).rstrip(".")
            gnu = re.fullmatch(r"(A?GPL|LGPL|GFDL)(?:-(\d(?:\.\d)?))?", short, re.IGNORECASE)
            if not gnu:
                add(spdx_license_id(short))
                continue
            family = gnu.group(1).upper()
            version = gnu.group(2) or ""
            if not version:
                found = _VERSION_RE.search(flat)
                version = found.group(1) if found else ""
            if version:
                add(_gnu_name(family, version, later))
                resolved.add(family)
            elif family not in unresolved:
                unresolved.append(family)
    flat = " ".join(text.split())
    for match in _GNU_TEXT_RE.finditer(flat):
        family = "LGPL" if match.group(1) else "AGPL" if match.group(2) else "GPL"
        found = _VERSION_RE.search(match.group(3))
        if family in resolved or not found:
            continue
        add(_gnu_name(family, found.group(1), "any later version" in match.group(3).lower()))
        resolved.add(family)
    for family in unresolved:
        if family not in resolved:
            add(family)
    for pattern, spdx in _PHRASES:
        if pattern.search(flat):
            add(spdx)
    if _BSD_RE.search(flat):
        lower = flat.lower()
        if "advertising materials" in lower:
            add("BSD-4-Clause")
        elif "neither the name" in lower or "endorse or promote" in lower:
            add("BSD-3-Clause")
        else:
            add("BSD-2-Clause")
    return names


def copyright_licenses(text: str) -> list[str]:
    """Licences named by a Debian copyright file, DEP-5 or free text, in order of first mention."""
    stanzas, _ = parse_stanzas(text)
    if not _is_dep5(stanzas):
        return _free_text_licenses(text)
    names: list[str] = []
    for stanza in stanzas:
        expression = stanza.get("License").split("\n", 1)[0]
        for name in expression_names(expression):
            if name not in names:
                names.append(name)
    return names


def doc_package(path: str) -> str:
    """``/usr/share/doc/<package>/copyright`` -> ``<package>``; any other path -> ``""``."""
    parts = path.split("/")
    # "", "usr", "share", "doc", <package>, "copyright"
    if len(parts) == 6 and path.startswith(DOC_DIR + "/") and parts[5] == "copyright":
        return parts[4]
    return ""


class DpkgCopyrightAnalyzer:
    """Licences of Debian packages from ``/usr/share/doc/<package>/copyright`` (first MiB only)."""

    name = "dpkg-copyright"
    version = 1

    def required(self, path: str, info: FileInfo) -> bool:
        return bool(doc_package(path))

    def analyze(self, input: AnalysisInput) -> AnalysisResult:
        package = doc_package(input.path)
        if not package:
            return EMPTY
        text = input.read()[:MAX_COPYRIGHT_BYTES].decode("utf-8", errors="replace")
        licenses = copyright_licenses(text)
        if not licenses:
            return EMPTY
        return AnalysisResult(license_hints=(LicenseHint(PackageType.DEB, package, tuple(licenses)),))
