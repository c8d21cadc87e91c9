"""The Analyzer protocol: every cataloger and detector answers two questions.

``required(path, info)``: do I need this file? It is called for every regular
file of every layer, so it must be cheap (a suffix or basename test).
``analyze(input)``: what is in it? It gets the bytes of one file.

An analyzer carries a ``name`` and an integer ``version``; the per-layer
cache key includes every analyzer's version, so bumping one invalidates only
what it produced. Analyzers receive their configuration through their
constructor, never from a global.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from shieldwall.errors import UnsafeInputError
from shieldwall.model import Finding, Location, OSInfo, Package, PackageType


@dataclass(frozen=True, slots=True)
class FileInfo:
    """Metadata of one regular file, as the layer or directory states it."""

    path: str
    size: int
    mode: int = 0o644

    @property
    def executable(self) -> bool:
        """True when any execute bit is set."""
        return bool(self.mode & 0o111)


@dataclass(frozen=True, slots=True)
class AnalysisInput:
    """One file handed to an analyzer.

    ``read()`` returns the whole content (bounded by the scan's limits); it is
    valid only during the ``analyze`` call.
    """

    path: str
    info: FileInfo
    read: Callable[[], bytes]

    def location(self, line: int | None = None) -> Location:
        """A location for this file (the runner attributes the layer later)."""
        return Location(self.path, None, line)

    def text(self) -> str:
        """Content decoded as UTF-8, undecodable bytes replaced."""
        return self.read().decode("utf-8", errors="replace")


@dataclass(frozen=True, slots=True)
class LicenseHint:
    """Licences found in a file other than the package database (dpkg copyright files)."""

    package_type: PackageType
    package_name: str
    licenses: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FileRecord:
    """What is known about one file beyond its bytes: its owning OS package and recorded digest.

    Package databases state it (``/var/lib/dpkg/info/<pkg>.md5sums`` and
    ``.list``, apk's ``installed``): ``manager`` is ``dpkg``/``apk``,
    ``package`` the owning package, ``digest`` ``md5:<hex>`` or
    ``sha1:<hex>`` ("" when the database records none). Detectors state the
    digests of files they flagged (``package`` empty) so the scan can tell an
    unchanged distro file from one edited after installation.
    """

    path: str
    digest: str = ""
    package: str = ""
    manager: str = ""


@dataclass(frozen=True, slots=True)
class AnalysisResult:
    """What one analyzer learned from one file."""

    packages: tuple[Package, ...] = ()
    os: OSInfo | None = None
    findings: tuple[Finding, ...] = ()
    license_hints: tuple[LicenseHint, ...] = ()
    warnings: tuple[str, ...] = ()
    file_records: tuple[FileRecord, ...] = ()

    @property
    def empty(self) -> bool:
        """True when nothing was learned."""
        return not (
            self.packages or self.os or self.findings or self.license_hints or self.warnings or self.file_records
        )


EMPTY = AnalysisResult()


@runtime_checkable
class Analyzer(Protocol):
    """A cataloger or detector; see the module docstring."""

    name: str
    version: int

    def required(self, path: str, info: FileInfo) -> bool:
        """Return True when this analyzer wants the content of ``path``."""
        ...

    def analyze(self, input: AnalysisInput) -> AnalysisResult:
        """Return what ``input`` contains; raise only on a bug (counted as a warning)."""
        ...


@runtime_checkable
class SetupWarnings(Protocol):
    """An analyzer whose setup can go wrong (rules that do not compile, lists that cannot be read).

    The scan takes these warnings once, before any layer is analysed, and
    reports them with the scan, so a serial and a parallel scan (where every
    worker process holds its own copy of the analyzer) report them the same
    way, and once. After the call, ``analyze`` no longer repeats them.
    """

    def take_setup_warnings(self) -> tuple[str, ...]:
        """The setup problems not handed out yet; later calls return ()."""
        ...


class AnalyzerError(Exception):
    """A file an analyzer cannot parse; recorded as a warning for that file."""


def normalize_path(raw: str) -> str:
    """Turn a member name into an absolute, normalised path inside the target.

    Raises ``UnsafeInputError`` for names that climb out of the root
    (``../etc/passwd``); absolute names are taken relative to the root as a
    tar extractor would, so they cannot escape either.
    """
    name = raw.replace("\\", "/")
    if name.startswith("./"):
        name = name[2:]
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnsafeInputError(f"member {raw!r} escapes the target root")
    return "/" + "/".join(parts)


def basename(path: str) -> str:
    """Last component of a target path."""
    return posixpath.basename(path)
