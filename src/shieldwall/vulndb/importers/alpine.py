"""Alpine secdb (``secfixes``) to advisories.

Each branch file (``v3.19/main.yaml`` or the ``main.json`` secdb.alpinelinux.org
serves) lists, per origin package, the package version that fixed each CVE::

    packages:
      - pkg:
          name: openssl
          secfixes:
            1.1.1d-r0: [CVE-2019-1547, CVE-2019-1563]
            0: [CVE-2019-0001]      # "0": never affected in Alpine -> skipped

Every (CVE, branch, package, version) becomes an affected entry of ecosystem
``Alpine:<branch>`` with one ECOSYSTEM range: introduced ``0``, fixed at that
version. Entries of one import are grouped by vulnerability into one
advisory ``ALPINE-<id>`` with the CVE as alias. A line may carry several ids
(``CVE-2016-9932 XSA-200``): the first CVE is the advisory, the others are
aliases. ``CVE_2019-2426`` is read as ``CVE-2019-2426``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from shieldwall.errors import CorruptInputError
from shieldwall.vulndb.importers.archive import DEFAULT_LIMITS, ArchiveLimits, walk_files
from shieldwall.vulndb.model import Advisory, Affected, RangeEvent, RangeType, VersionRange
from shieldwall.vulndb.osv import load_yaml_strings

_CVE_TYPO = re.compile(r"^CVE_(\d{4}-\d+)$", re.I)
_CVE = re.compile(r"^CVE-\d{4}-\d+$")
_BRANCH = re.compile(r"^(v\d+\.\d+|edge)$")


def parse_secdb(doc: object, name: str) -> list[tuple[str, tuple[str, ...], Affected]]:
    """``(primary id, other ids, affected entry)`` for every fix a secdb document lists.

    Raises ``CorruptInputError`` naming ``name`` when the document is not a
    secdb (no ``distroversion`` or ``packages``) or an entry has the wrong shape.
    """
    if not isinstance(doc, Mapping):
        raise CorruptInputError(f"{name}: not a secdb document (expected a mapping)")
    branch = str(doc.get("distroversion") or "").strip()
    if not _BRANCH.match(branch):
        raise CorruptInputError(f"{name}: missing or invalid distroversion {branch!r}")
    packages = doc.get("packages")
    if packages is None:
        return []
    if not isinstance(packages, list):
        raise CorruptInputError(f"{name}: packages must be a list")
    ecosystem = f"Alpine:{branch}"
    out: list[tuple[str, tuple[str, ...], Affected]] = []
    for entry in packages:
        pkg = entry.get("pkg") if isinstance(entry, Mapping) else None
        if not isinstance(pkg, Mapping) or not isinstance(pkg.get("name"), str):
            raise CorruptInputError(f"{name}: a packages[] entry has no pkg.name")
        package = pkg["name"].strip()
        secfixes = pkg.get("secfixes") or {}
        if not isinstance(secfixes, Mapping):
            raise CorruptInputError(f"{name}: {package}: secfixes must be a mapping")
        for version, ids in secfixes.items():
            fixed = str(version).strip()
            if fixed in ("0", ""):
                continue  # "0" means the package was never affected in Alpine
            if ids is None:
                continue
            if not isinstance(ids, list):
                raise CorruptInputError(f"{name}: {package} {fixed}: the ids must be a list")
            affected = Affected(
                ecosystem=ecosystem,
                name=package,
                ranges=(VersionRange(RangeType.ECOSYSTEM, (RangeEvent(introduced="0"), RangeEvent(fixed=fixed))),),
                purl=f"pkg:apk/alpine/{package}",
            )
            for line in ids:
                tokens = [_CVE_TYPO.sub(r"CVE-\1", t) for t in str(line).split()]
                if not tokens:
                    continue
                cves = [t for t in tokens if _CVE.match(t)]
                primary = cves[0] if cves else tokens[0]
                others = tuple(t for t in tokens if t != primary)
                out.append((primary, others, affected))
    return out


def advisories_from_fixes(fixes: Iterable[tuple[str, tuple[str, ...], Affected]], source: str = "") -> list[Advisory]:
    """Group fixes by vulnerability id into ``ALPINE-<id>`` advisories (sorted by id)."""
    grouped: dict[str, tuple[dict[str, None], dict[Affected, None]]] = {}
    for primary, others, affected in fixes:
        aliases, entries = grouped.setdefault(primary, ({}, {}))
        aliases.update(dict.fromkeys((primary, *others)))
        entries[affected] = None
    out = []
    for primary in sorted(grouped):
        aliases, entries = grouped[primary]
        refs = (f"https://security.alpinelinux.org/vuln/{primary}",) if _CVE.match(primary) else ()
        out.append(
            Advisory(
                id=f"ALPINE-{primary}",
                aliases=tuple(aliases),
                summary=f"{primary} fixed in Alpine packages",
                details="Converted from the Alpine secdb secfixes: each listed package is affected "
                "before the version that fixed it, in that branch.",
                affected=tuple(sorted(entries, key=lambda a: (a.ecosystem, a.name))),
                references=refs,
                source=source,
            )
        )
    return out


def load_secdb_bytes(data: bytes, name: str) -> Any:
    """Parse one secdb file: JSON when ``name`` ends in ``.json``, else YAML (scalars kept as strings)."""
    try:
        return json.loads(data) if name.endswith(".json") else load_yaml_strings(data)
    except (ValueError, yaml.YAMLError, RecursionError) as exc:
        raise CorruptInputError(f"{name}: not valid secdb JSON/YAML: {exc}") from None


def iter_alpine_secdb(
    root: Path, warnings: list[str], *, source: str = "", limits: ArchiveLimits = DEFAULT_LIMITS
) -> Iterator[Advisory]:
    """Advisories from one secdb file or a directory of them (``v3.x/main.yaml``...)."""
    files = (
        [(root, root.stat().st_size)] if root.is_file() else list(walk_files(root, (".yaml", ".yml", ".json"), limits))
    )
    fixes: list[tuple[str, tuple[str, ...], Affected]] = []
    for path, size in files:
        if size > limits.max_member_bytes:
            warnings.append(f"{path}: skipped, {size} bytes is above the {limits.max_member_bytes}-byte limit")
            continue
        try:
            fixes.extend(parse_secdb(load_secdb_bytes(path.read_bytes(), str(path)), str(path)))
        except CorruptInputError as exc:
            warnings.append(str(exc))
    yield from advisories_from_fixes(fixes, source)
