"""Alpine packages from the apk database ``/lib/apk/db/installed``.

The database is a list of entries separated by blank lines; every line is a
one-letter field, a colon and a value (``P:musl``). The fields read here:

==  =====================================================================
P   package name
V   version
A   architecture
o   origin: the aport (source package) the binary was built from
L   licence (an SPDX expression, or space-separated names in old entries)
D   dependencies, space-separated: ``name``, ``name>=1.2``, ``so:libc.so``,
    ``cmd:sh``, ``pc:zlib`` (provides-style) and ``!name`` (conflicts)
T   one-line description
U   project URL
==  =====================================================================

File records (F, R, a, M, Z) repeat inside an entry and are not needed here.
"""

from __future__ import annotations

import re

from shieldwall.analyze.base import EMPTY, AnalysisInput, AnalysisResult, AnalyzerError, FileInfo
from shieldwall.analyze.common import make_package, purl_for
from shieldwall.model import Package, PackageType

INSTALLED_DB = "/lib/apk/db/installed"

# Big Alpine images list tens of thousands of files: a few MiB. Past this it is hostile or broken.
MAX_DB_BYTES = 64 * 1024 * 1024
MAX_WARNINGS = 20

_SCALAR_FIELDS = frozenset("PVAoLDTU")
_VERSION_OPERATOR_RE = re.compile(r"[<>=~]")
_APK_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9+._\-]*$")
_EXPRESSION_RE = re.compile(r"\(|\)|\s(?:AND|OR|WITH)\s")


def dependency_names(field: str) -> list[str]:
    """Package names of a ``D:`` field: constraints stripped, conflicts and provides-style deps dropped.

    ``"!uclibc-utils scanelf musl=1.1.14-r10 so:libc.musl-x86_64.so.1"`` -> ``["scanelf", "musl"]``.
    """
    names: list[str] = []
    for token in field.split():
        if token.startswith("!"):
            continue
        name = _VERSION_OPERATOR_RE.split(token, maxsplit=1)[0]
        # "so:", "cmd:", "pc:" and the like name something a package provides, not a package.
        if ":" in name or not _APK_NAME_RE.match(name):
            continue
        if name not in names:
            names.append(name)
    return names


def license_names(field: str) -> list[str]:
    """Licences of an ``L:`` field: an SPDX expression stays whole, an old space-separated list is split.

    This is what syft does: ``"MIT BSD GPL2+"`` -> three names,
    ``"( Apache-2.0 OR MIT ) AND MPL-2.0"`` -> ``["(Apache-2.0 OR MIT) AND MPL-2.0"]``.
    """
    value = " ".join(field.split())
    if not value:
        return []
    if _EXPRESSION_RE.search(f" {value} "):
        return [value.replace("( ", "(").replace(" )", ")")]
    return list(dict.fromkeys(value.split()))


def apk_purl(name: str, version: str, arch: str, origin: str) -> str:
    """PURL as syft writes it: ``upstream`` only when the origin differs from the package name."""
    return purl_for(
        PackageType.APK,
        name,
        version,
        namespace="alpine",
        qualifiers={"arch": arch, "upstream": origin if origin != name else ""},
    )


def parse_entries(text: str) -> tuple[list[tuple[int, dict[str, str]]], list[str]]:
    """Split the database into (first line number, fields) entries; bad lines are reported and skipped.

    Only the first value of each scalar field is kept.
    """
    entries: list[tuple[int, dict[str, str]]] = []
    warnings: list[str] = []
    fields: dict[str, str] = {}
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip("\r")
        if not line.strip():
            if fields:
                entries.append((start, fields))
            fields = {}
            continue
        if not fields:
            start = number
            fields = {"": ""}  # marks an entry as started even if it holds only file records
        if len(line) < 2 or line[1] != ":":
            warnings.append(f"line {number}: not a 'X:value' line")
            continue
        key = line[0]
        if key in _SCALAR_FIELDS and key not in fields:
            fields[key] = line[2:].strip()
    if fields:
        entries.append((start, fields))
    return entries, warnings


class ApkAnalyzer:
    """Installed Alpine packages; an entry without name or version is skipped with a warning."""

    name = "apk"
    version = 1

    def required(self, path: str, info: FileInfo) -> bool:
        return path == INSTALLED_DB

    def analyze(self, input: AnalysisInput) -> AnalysisResult:
        data = input.read()
        if len(data) > MAX_DB_BYTES:
            raise AnalyzerError(f"apk database {input.path} is larger than {MAX_DB_BYTES} bytes")
        entries, problems = parse_entries(data.decode("utf-8", errors="replace"))
        warnings = list(problems)
        packages: list[Package] = []
        for line, fields in entries:
            name, version = fields.get("P", ""), fields.get("V", "")
            if not name or not version:
                missing = " and ".join(f for f, v in (("name", name), ("version", version)) if not v)
                label = f" ({name})" if name else ""
                warnings.append(f"entry at line {line}{label} has no {missing}; skipped")
                continue
            packages.append(self._package(input.path, line, fields))
        if not packages and not warnings:
            return EMPTY
        if len(warnings) > MAX_WARNINGS:
            warnings = [*warnings[:MAX_WARNINGS], f"{len(warnings) - MAX_WARNINGS} more warnings"]
        return AnalysisResult(packages=tuple(packages), warnings=tuple(warnings))

    def _package(self, path: str, line: int, fields: dict[str, str]) -> Package:
        name, version = fields["P"], fields["V"]
        arch = fields.get("A", "")
        origin = fields.get("o", "")
        metadata = {key: fields[field] for key, field in (("description", "T"), ("url", "U")) if fields.get(field)}
        return make_package(
            PackageType.APK,
            name,
            version,
            path,
            self.name,
            purl=apk_purl(name, version, arch, origin),
            licenses=license_names(fields.get("L", "")),
            source_name=origin or name,
            source_version=version,
            arch=arch,
            depends_on=dependency_names(fields.get("D", "")),
            metadata=metadata,
            line=line,
        )
