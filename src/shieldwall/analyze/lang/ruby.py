"""Ruby gems: Bundler lock files (``Gemfile.lock``) and installed gem specifications.

Both are read as text and never executed: a gemspec is Ruby code, so only
the literal assignments RubyGems writes into installed specifications are
extracted with regular expressions, as syft does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from shieldwall.analyze.base import EMPTY, AnalysisInput, AnalysisResult, AnalyzerError, FileInfo, basename
from shieldwall.analyze.common import make_package, purl_for
from shieldwall.analyze.lang._bounded import MiB, read_bounded
from shieldwall.model import Package, PackageType

MAX_LOCK_BYTES = 8 * MiB
MAX_GEMSPEC_BYTES = 1 * MiB

_LOCK_NAMES = frozenset({"Gemfile.lock", "gems.locked"})
# Sections whose ``specs:`` list gems; syft reads the same four.
_SPEC_SECTIONS = frozenset({"GEM", "GIT", "PATH", "PLUGIN SOURCE"})
_OTHER_SECTIONS = frozenset({"PLATFORMS", "DEPENDENCIES", "BUNDLED WITH", "RUBY VERSION", "CHECKSUMS"})

_GEM_NAME = r"[A-Za-z0-9][A-Za-z0-9._-]*"
# "    name (version)": a locked gem (exactly four spaces).
_SPEC_LINE = re.compile(rf"^ {{4}}({_GEM_NAME}) \(([^()\s]+)\)$")
# "      name" or "      name (constraints)": a dependency of the gem above (exactly six spaces).
_DEP_LINE = re.compile(rf"^ {{6}}({_GEM_NAME})(?: \([^()]*\))?$")
# "  remote: ...", "  revision: ...": attributes of a GIT/PATH/GEM source.
_SOURCE_ATTR = re.compile(r"^ {2}(remote|revision|branch|tag|ref):\s*(\S.*)$")


def split_platform(version: str) -> tuple[str, str]:
    """Split ``1.16.0-x86_64-linux`` into ``("1.16.0", "x86_64-linux")``.

    A RubyGems version has no ``-`` (pre-releases use ``.``), so in a lock
    file the first ``-`` always starts the platform; syft cuts there too.
    """
    base, _, platform = version.partition("-")
    return base, platform


def gem_purl(name: str, version: str) -> str:
    """``pkg:gem/<name>@<version>`` with any platform suffix removed from the version."""
    return purl_for(PackageType.GEM, name, split_platform(version)[0])


@dataclass(frozen=True, slots=True)
class _LockedGem:
    name: str
    version: str
    line: int
    source: str
    remote: str = ""
    revision: str = ""
    platforms: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()


def parse_gemfile_lock(text: str) -> tuple[list[_LockedGem], list[str]]:
    """Locked gems of a Bundler lock file, platform variants merged, plus warnings for skipped lines."""
    gems: dict[tuple[str, str], _LockedGem] = {}
    warnings: list[str] = []
    section = ""
    attrs: dict[str, str] = {}
    current: tuple[str, str] | None = None
    saw_section = False
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip()
        if not line:
            continue
        if not line[0].isspace():
            section = line.strip()
            saw_section = saw_section or section in _SPEC_SECTIONS or section in _OTHER_SECTIONS
            attrs = {}
            current = None
            continue
        if section not in _SPEC_SECTIONS:
            continue
        if match := _SOURCE_ATTR.match(line):
            attrs[match.group(1)] = match.group(2).strip()
            continue
        if match := _SPEC_LINE.match(line):
            name, full_version = match.groups()
            version, platform = split_platform(full_version)
            key = (name, version)
            known = gems.get(key)
            if known is None:
                known = _LockedGem(
                    name=name,
                    version=version,
                    line=lineno,
                    source=section.lower().replace(" ", "-"),
                    remote=attrs.get("remote", ""),
                    revision=attrs.get("revision", ""),
                )
            if platform and platform not in known.platforms:
                known = replace(known, platforms=(*known.platforms, platform))
            gems[key] = known
            current = key
            continue
        if match := _DEP_LINE.match(line):
            if current is not None:
                gem = gems[current]
                if match.group(1) not in gem.depends_on:
                    gems[current] = replace(gem, depends_on=(*gem.depends_on, match.group(1)))
            continue
        if line.startswith("    ") and not line.startswith("     "):
            warnings.append(f"line {lineno}: not a 'name (version)' gem entry, skipped")
            current = None
    if not saw_section and text.strip():
        raise AnalyzerError("no Bundler lock section (GEM, GIT, PATH, PLATFORMS...) found")
    return list(gems.values()), warnings


class GemfileLockAnalyzer:
    """Gems locked by Bundler in ``Gemfile.lock`` (GEM, GIT, PATH and PLUGIN SOURCE specs)."""

    name = "ruby-gemfile-lock"
    version = 1

    def required(self, path: str, info: FileInfo) -> bool:
        """Bundler lock files by their fixed names."""
        return basename(path) in _LOCK_NAMES

    def analyze(self, input: AnalysisInput) -> AnalysisResult:
        """One package per locked gem and version; dependency lines become ``depends_on``."""
        data = read_bounded(input, MAX_LOCK_BYTES, "Gemfile.lock")
        if b"\x00" in data:
            raise AnalyzerError("Gemfile.lock holds binary data")
        gems, warnings = parse_gemfile_lock(data.decode("utf-8", errors="replace"))
        if not gems and not warnings:
            return EMPTY
        packages = tuple(self._package(gem, input.path) for gem in gems)
        return AnalysisResult(packages=packages, warnings=tuple(warnings))

    def _package(self, gem: _LockedGem, path: str) -> Package:
        metadata = {"source": gem.source}
        if gem.remote:
            metadata["remote"] = gem.remote
        if gem.revision:
            metadata["revision"] = gem.revision
        if gem.platforms:
            metadata["platforms"] = ",".join(sorted(gem.platforms))
        return make_package(
            PackageType.GEM,
            gem.name,
            gem.version,
            path,
            self.name,
            purl=gem_purl(gem.name, gem.version),
            depends_on=gem.depends_on,
            metadata=metadata,
            line=gem.line,
        )


# A Ruby string literal as RubyGems writes it: "x", 'x', %q{x}, %q<x>, %q(x), %q[x] (``.freeze`` gone).
_STRING = (
    r"""(?:"((?:[^"\\\n]|\\.)*)"|'((?:[^'\\\n]|\\.)*)'"""
    r"""|%[qQ]?(?:\{([^}\n]*)\}|<([^>\n]*)>|\(([^)\n]*)\)|\[([^\]\n]*)\]))"""
)
_STRING_RE = re.compile(_STRING)


def _field(attr: str, prefix: str = "") -> re.Pattern[str]:
    return re.compile(rf"^[ \t]*\w+\.{attr}[ \t]*=[ \t]*{prefix}{_STRING}", re.MULTILINE)


_NAME = _field("name")
_VERSION = _field("version", prefix=r"(?:Gem::Version\.new[ \t]*\(?[ \t]*)?")
_PLATFORM = _field("platform")
_LICENSE = _field("license")
_LICENSES = re.compile(r"^[ \t]*\w+\.licenses[ \t]*=[ \t]*\[([^\]]*)\]", re.MULTILINE)
_LICENSES_WORDS = re.compile(r"^[ \t]*\w+\.licenses[ \t]*=[ \t]*%w[\[(]([^\])]*)[\])]", re.MULTILINE)
_RUNTIME_DEP = re.compile(rf"\.add_(?:runtime_)?dependency[ \t]*\(?[ \t]*{_STRING}")
_ELSE = re.compile(r"^[ \t]*else\b")
_END = re.compile(r"^[ \t]*end\b")


def _literal(match: re.Match[str]) -> str:
    """The content of the first string-literal group that matched, escapes undone."""
    groups = match.groups()[-6:]
    for index, value in enumerate(groups):
        if value is not None:
            return re.sub(r"\\(.)", r"\1", value) if index < 2 else value
    return ""


def _strings(fragment: str) -> list[str]:
    return [_literal(m) for m in _STRING_RE.finditer(fragment)]


def _runtime_dependencies(text: str) -> list[str]:
    """Runtime dependency names, ignoring the ``else`` branch old RubyGems wrote for legacy versions.

    Old specifications repeat every dependency (development ones included)
    as ``add_dependency`` in an ``else`` branch for RubyGems < 1.2; reading
    that branch would turn development dependencies into runtime ones.
    """
    names: list[str] = []
    in_else = False
    for line in text.splitlines():
        if _ELSE.match(line):
            in_else = True
            continue
        if in_else:
            if _END.match(line):
                in_else = False
            continue
        for match in _RUNTIME_DEP.finditer(line):
            names.append(_literal(match))
    return [n for n in names if n]


@dataclass(frozen=True, slots=True)
class GemSpec:
    """The literal fields of an installed gem specification."""

    name: str
    version: str
    platform: str = ""
    licenses: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()


def parse_gemspec(text: str) -> GemSpec:
    """Extract name, version, platform, licences and runtime dependencies without executing the file."""
    text = text.replace(".freeze", "")
    name_match = _NAME.search(text)
    version_match = _VERSION.search(text)
    name = _literal(name_match) if name_match else ""
    version = _literal(version_match) if version_match else ""
    if not name or not version:
        missing = " and ".join(f for f, v in (("name", name), ("version", version)) if not v)
        raise AnalyzerError(f"gemspec has no literal {missing} assignment")
    platform_match = _PLATFORM.search(text)
    platform = _literal(platform_match) if platform_match else ""
    licenses: list[str] = []
    if match := _LICENSES.search(text):
        licenses = _strings(match.group(1))
    elif match := _LICENSES_WORDS.search(text):
        licenses = match.group(1).split()
    elif match := _LICENSE.search(text):
        licenses = [_literal(match)]
    return GemSpec(
        name=name,
        version=version,
        platform="" if platform == "ruby" else platform,
        licenses=tuple(x.strip() for x in licenses if x.strip()),
        depends_on=tuple(dict.fromkeys(_runtime_dependencies(text))),
    )


class GemspecAnalyzer:
    """Installed gems: the ``specifications/*.gemspec`` files RubyGems writes for every installed gem."""

    name = "ruby-gemspec"
    version = 1

    def required(self, path: str, info: FileInfo) -> bool:
        """``*.gemspec`` below a ``specifications`` directory (syft's ``**/specifications/**/*.gemspec``)."""
        return path.endswith(".gemspec") and "/specifications/" in path

    def analyze(self, input: AnalysisInput) -> AnalysisResult:
        """One package for the gem the specification describes."""
        data = read_bounded(input, MAX_GEMSPEC_BYTES, "gemspec")
        if b"\x00" in data:
            raise AnalyzerError("gemspec holds binary data")
        spec = parse_gemspec(data.decode("utf-8", errors="replace"))
        metadata = {"platform": spec.platform} if spec.platform else {}
        package = make_package(
            PackageType.GEM,
            spec.name,
            spec.version,
            input.path,
            self.name,
            purl=gem_purl(spec.name, spec.version),
            licenses=spec.licenses,
            depends_on=spec.depends_on,
            metadata=metadata,
        )
        return AnalysisResult(packages=(package,))


ANALYZERS = (GemfileLockAnalyzer, GemspecAnalyzer)
