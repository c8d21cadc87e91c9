"""``--skip-dirs`` / ``--skip-files``: leave paths out of a result, with trivy's glob syntax.

Patterns match paths inside the target (``/app/test``, ``app/test`` and
``./app/test`` are the same). ``*`` and ``?`` stay inside one path segment,
``**`` crosses segments (``**/node_modules``, ``**/*.min.js``). A directory
pattern covers everything below the directories it matches. A package is left
out when every place it was found is skipped; a finding when its location (or
its package) is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

from shieldwall.errors import InputError
from shieldwall.model import Package, ScanResult

MAX_PATTERNS = 1000


def _normalise(path: str) -> str:
    path = path.strip()
    while path.startswith("./"):
        path = path[2:]
    return path.strip("/")


def glob_regex(pattern: str) -> re.Pattern[str]:
    """The regular expression of one glob (``**`` crosses ``/``, ``*`` and ``?`` do not)."""
    text = _normalise(pattern)
    if not text:
        raise InputError(f"empty skip pattern {pattern!r}")
    out = []
    i = 0
    while i < len(text):
        if text.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif text.startswith("**", i):
            out.append(".*")
            i += 2
        elif text[i] == "*":
            out.append("[^/]*")
            i += 1
        elif text[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(text[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def split_patterns(values: Iterable[str] | None) -> tuple[str, ...]:
    """Repeatable, comma-separated flag values -> patterns."""
    patterns = tuple(p.strip() for v in values or () for p in v.split(",") if p.strip())
    if len(patterns) > MAX_PATTERNS:
        raise InputError(f"more than {MAX_PATTERNS} skip patterns")
    return patterns


@dataclass(frozen=True, slots=True)
class SkipRules:
    """Compiled ``--skip-dirs`` and ``--skip-files`` patterns."""

    dirs: tuple[re.Pattern[str], ...] = ()
    files: tuple[re.Pattern[str], ...] = ()

    @classmethod
    def compile(cls, dirs: Iterable[str], files: Iterable[str]) -> SkipRules:
        """Compile the patterns; an empty one is a usage error."""
        return cls(tuple(glob_regex(p) for p in dirs), tuple(glob_regex(p) for p in files))

    def __bool__(self) -> bool:
        return bool(self.dirs or self.files)

    def skips(self, path: str) -> bool:
        """True when ``path`` is a skipped file or lies under a skipped directory."""
        rel = _normalise(path.split("!", 1)[0])  # an archive member is skipped with its archive
        if not rel:
            return False
        if any(p.match(rel) for p in self.files):
            return True
        parts = rel.split("/")
        # every ancestor directory, and the path itself (a directory-valued location, such as a lock file's dir)
        return any(p.match("/".join(parts[:n])) for n in range(1, len(parts) + 1) for p in self.dirs)


def skip_paths(result: ScanResult, rules: SkipRules) -> ScanResult:
    """``result`` without what lies in skipped paths (package locations, packages, findings, warnings).

    A package found both in a skipped and in a kept place stays, with the kept
    locations only (its identity follows its first location, so references to
    it are renamed); its findings point at the first kept location.
    """
    if not rules:
        return result
    dropped: set[str] = set()
    renamed: dict[str, str] = {}
    kept: dict[str, Package] = {}
    for package in result.packages:
        locations = tuple(loc for loc in package.locations if not rules.skips(loc.path))
        if package.locations and not locations:
            dropped.add(package.id)
            continue
        now = package.evolve(locations=locations) if locations != package.locations else package
        renamed[package.id] = now.id
        kept[now.id] = now
    packages = tuple(
        p.evolve(dependency_ids=tuple(renamed[d] for d in p.dependency_ids if d in renamed))
        if any(renamed.get(d) != d for d in p.dependency_ids)
        else p
        for p in kept.values()
    )
    findings = []
    for finding in result.findings:
        if finding.package_id in dropped:
            continue
        package_id = renamed.get(finding.package_id, finding.package_id)
        if package_id != finding.package_id:
            finding = replace(finding, package_id=package_id)
        if finding.location is not None and rules.skips(finding.location.path):
            owner = kept.get(package_id)
            if owner is None or not owner.locations:
                continue
            finding = replace(finding, location=owner.locations[0])
        findings.append(finding)
    warnings = tuple(w for w in result.warnings if not (w.path.startswith("/") and rules.skips(w.path)))
    return replace(result, packages=packages, findings=tuple(findings), warnings=warnings)
