"""Package URL comparison for VEX statements and exception scopes."""

from __future__ import annotations

import fnmatch
import re

from packageurl import PackageURL

_PYPI_SEP = re.compile(r"[-_.]+")


def _parse(text: str) -> PackageURL | None:
    try:
        return PackageURL.from_string(text)
    except ValueError:
        return None


def _name(purl: PackageURL) -> str:
    name = str(purl.name).lower()
    return _PYPI_SEP.sub("-", name) if purl.type == "pypi" else name


def purl_matches(statement: str, package: str) -> bool:
    """True when the statement PURL names ``package``.

    Type, namespace and name must agree (case-insensitively, PyPI names
    normalised); the statement's version, when it has one, must be the
    package's; its qualifiers must be a subset of the package's.
    """
    want, have = _parse(statement), _parse(package)
    if want is None or have is None:
        return statement == package
    if (want.type, (want.namespace or "").lower(), _name(want)) != (
        have.type,
        (have.namespace or "").lower(),
        _name(have),
    ):
        return False
    if want.version and want.version != have.version:
        return False
    wanted = want.qualifiers if isinstance(want.qualifiers, dict) else {}
    present = have.qualifiers if isinstance(have.qualifiers, dict) else {}
    return all(present.get(k) == v for k, v in wanted.items())


def scope_matches(pattern: str, purl: str, name: str) -> bool:
    """An exception's package scope: a PURL glob (with or without version) or a package-name glob."""
    pattern = pattern.strip()
    if pattern.startswith("pkg:"):
        if any(ch in pattern for ch in "*?["):
            bare = purl.split("?", 1)[0]
            unversioned = bare.split("@", 1)[0]
            return any(fnmatch.fnmatchcase(c.lower(), pattern.lower()) for c in (purl, bare, unversioned))
        return purl_matches(pattern, purl)
    return fnmatch.fnmatchcase(name.lower(), pattern.lower())
