"""Version semantics per ecosystem, from the libraries each field trusts.

A ``VersionScheme`` turns a version string into a ``ParsedVersion`` that
orders like the ecosystem's own tools order it, or raises ``InvalidVersion``.
Nothing here compares version strings by hand:

- PyPI: ``packaging`` (PEP 440: dev < pre < release < post, local labels).
- Debian and Ubuntu: ``univers`` ``DebianVersion`` (epochs, ``~``).
- RPM distributions: ``univers`` ``RpmVersion`` (``epoch:version-release``, ``~``, ``^``).
- Alpine, Wolfi, Chainguard: ``univers`` ``AlpineLinuxVersion`` validation with
  its Gentoo ``vercmp`` (``-rN``, ``_p``, ``_rc``...). Only ``vercmp`` is used to
  compare: univers' ``<=``/``>=`` on Alpine versions compare the raw strings
  (``1.36.1-r2 <= 1.36.1-r15`` is False there).
- Maven, NuGet, RubyGems: ``univers`` (ports of the tools' own comparators).
- npm, crates.io, Go, Hex, Pub and OSV ``SEMVER`` ranges: ``semver`` (strict
  SemVer 2.0, build metadata ignored). univers' semver coerces invalid input
  (``1.2.3.4``) and leaves ``1.0.0+build`` neither equal to, below nor above
  ``1.0.0``; Go's ``+incompatible`` versions need build metadata ignored.
- Packagist: ``packaging``. Composer orders ``dev < alpha < beta < RC <
  stable``, case-insensitively, ``1.0.0.0 == 1.0.0``; PEP 440 normalisation gives
  exactly that, while univers' semver-based ``ComposerVersion`` puts ``RC1``
  below ``beta1`` (ASCII order) and ``beta10`` below ``beta9``.

docs/notes/version-schemes.md records what the fixtures found about univers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, cast

import packaging.version
import semver
from univers import gentoo
from univers.nuget import InvalidNuGetVersion
from univers.versions import (
    AlpineLinuxVersion,
    DebianVersion,
    MavenVersion,
    NugetVersion,
    RpmVersion,
    RubygemsVersion,
)
from univers.versions import InvalidVersion as UniversInvalidVersion

MAX_VERSION_LENGTH = 256
MAX_CACHED = 200_000

Compare = Callable[[Any, Any], int]


class InvalidVersion(ValueError):
    """A version string its ecosystem's scheme cannot parse."""


class UnknownEcosystemError(LookupError):
    """An OSV ecosystem with no version scheme here."""


class ParsedVersion:
    """A version of one scheme, ordered by that scheme's library comparator."""

    __slots__ = ("_compare", "_value", "scheme", "text")

    def __init__(self, text: str, scheme: str, value: object, compare: Compare) -> None:
        self.text = text
        self.scheme = scheme
        self._value = value
        self._compare = compare

    def _cmp(self, other: object) -> int:
        if not isinstance(other, ParsedVersion) or other.scheme != self.scheme:
            raise TypeError(f"cannot compare a {self.scheme} version with {other!r}")
        return self._compare(self._value, other._value)

    def __lt__(self, other: object) -> bool:
        return self._cmp(other) < 0

    def __le__(self, other: object) -> bool:
        return self._cmp(other) <= 0

    def __gt__(self, other: object) -> bool:
        return self._cmp(other) > 0

    def __ge__(self, other: object) -> bool:
        return self._cmp(other) >= 0

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ParsedVersion) or other.scheme != self.scheme:
            return NotImplemented
        return self._compare(self._value, other._value) == 0

    def __hash__(self) -> int:
        # Equal versions may be spelled differently (1.0 == 1.0.0): hash the scheme only.
        return hash(self.scheme)

    def __repr__(self) -> str:
        return f"ParsedVersion({self.scheme}:{self.text})"

    def __str__(self) -> str:
        return self.text


class VersionScheme(Protocol):
    """Parses the version strings of one ecosystem into ordered values."""

    @property
    def name(self) -> str:
        """Short scheme name (``pep440``, ``debian``, ``semver``...)."""
        ...

    def parse(self, text: str) -> ParsedVersion:
        """Return the parsed version; raise ``InvalidVersion`` when ``text`` is not one."""
        ...


def _by_operators(a: Any, b: Any) -> int:
    """Three-way comparison from a library type's own ``<`` and ``==``."""
    if a == b:
        return 0
    return -1 if a < b else 1


class LibraryScheme:
    """A scheme backed by a library parser and comparator, with a bounded parse cache."""

    def __init__(self, name: str, build: Callable[[str], object], compare: Compare = _by_operators) -> None:
        self._name = name
        self._build = build
        self._compare = compare
        self._cache: dict[str, ParsedVersion | InvalidVersion] = {}

    @property
    def name(self) -> str:
        """Short scheme name."""
        return self._name

    def parse(self, text: str) -> ParsedVersion:
        """Return the parsed version (cached); raise ``InvalidVersion`` when ``text`` is not one."""
        hit = self._cache.get(text)
        if hit is None:
            try:
                hit = self._parse(text)
            except InvalidVersion as exc:
                hit = exc
            if len(self._cache) < MAX_CACHED:
                self._cache[text] = hit
        if isinstance(hit, InvalidVersion):
            raise InvalidVersion(str(hit))
        return hit

    def _parse(self, text: str) -> ParsedVersion:
        cleaned = text.strip()
        if not cleaned or len(cleaned) > MAX_VERSION_LENGTH:
            raise InvalidVersion(f"not a {self._name} version: {text[:80]!r}")
        try:
            value = self._build(cleaned)
        except (ValueError, TypeError, IndexError, AttributeError, UniversInvalidVersion, InvalidNuGetVersion) as exc:
            raise InvalidVersion(f"not a {self._name} version: {text[:80]!r}") from exc
        return ParsedVersion(cleaned, self._name, value, self._compare)

    def __repr__(self) -> str:
        return f"LibraryScheme({self._name})"


def _pep440(text: str) -> object:
    return packaging.version.Version(text)


def _semver(text: str) -> object:
    return semver.Version.parse(text)


def _go(text: str) -> object:
    # Go module versions carry a "v" (v1.2.3, v0.0.0-2021...-abcdef, v2.0.0+incompatible);
    # OSV Go ranges and the stdlib ("1.21.5") do not. Both are SemVer after that.
    return semver.Version.parse(text[1:] if text[:1] == "v" else text)


def _semver_compare(a: Any, b: Any) -> int:
    result: int = a.compare(b)
    return result


def _univers(cls: type[Any]) -> Callable[[str], object]:
    def build(text: str) -> object:
        return cls(text).value

    return build


def _alpine(text: str) -> object:
    AlpineLinuxVersion(text)  # validation only (raises univers' InvalidVersion)
    return text


_alpine_compare = cast(Compare, gentoo.vercmp)


PEP440 = LibraryScheme("pep440", _pep440)
DEBIAN = LibraryScheme("debian", _univers(DebianVersion))
RPM = LibraryScheme("rpm", _univers(RpmVersion))
ALPINE = LibraryScheme("alpine", _alpine, _alpine_compare)
SEMVER = LibraryScheme("semver", _semver, _semver_compare)
GO = LibraryScheme("go", _go, _semver_compare)
MAVEN = LibraryScheme("maven", _univers(MavenVersion))
NUGET = LibraryScheme("nuget", _univers(NugetVersion))
RUBYGEMS = LibraryScheme("rubygems", _univers(RubygemsVersion))
COMPOSER = LibraryScheme("composer", _pep440)

ECOSYSTEM_SCHEMES: dict[str, VersionScheme] = {
    "PyPI": PEP440,
    "Debian": DEBIAN,
    "Ubuntu": DEBIAN,
    "Alpine": ALPINE,
    "Wolfi": ALPINE,
    "Chainguard": ALPINE,
    "Rocky Linux": RPM,
    "AlmaLinux": RPM,
    "Red Hat": RPM,
    "openEuler": RPM,
    "openSUSE": RPM,
    "SUSE": RPM,
    "Mageia": RPM,
    "Photon OS": RPM,
    "Azure Linux": RPM,
    "Mariner": RPM,
    "npm": SEMVER,
    "crates.io": SEMVER,
    "Hex": SEMVER,
    "Pub": SEMVER,
    "Go": GO,
    "Maven": MAVEN,
    "NuGet": NUGET,
    "RubyGems": RUBYGEMS,
    "Packagist": COMPOSER,
}


def ecosystem_base(ecosystem: str) -> str:
    """The OSV ecosystem without its release suffix: ``Debian`` for ``Debian:12``."""
    return ecosystem.split(":", 1)[0].strip()


def scheme_for(ecosystem: str) -> VersionScheme:
    """The version scheme of an OSV ecosystem; ``UnknownEcosystemError`` when there is none."""
    scheme = ECOSYSTEM_SCHEMES.get(ecosystem_base(ecosystem))
    if scheme is None:
        raise UnknownEcosystemError(f"no version scheme for ecosystem {ecosystem!r}")
    return scheme
