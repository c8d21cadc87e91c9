"""Go modules: ``go.mod`` files and the build info the Go linker embeds in every binary.

PURLs and versions follow syft's golang catalogers (go-module-file-cataloger,
go-module-binary-cataloger) so inventories can be compared:

* ``go.mod``: every ``require`` (direct and ``// indirect``) becomes a package;
  ``replace`` to another module swaps the package for the replacement; a
  ``replace`` to a local directory keeps the original path with no version.
  ``go.sum`` is not catalogued on its own (syft uses it only for h1 digests).
* binaries: the main module, each ``dep`` (with its ``=>`` replacement
  applied) and the Go standard library as ``stdlib`` with version ``go1.21.5``
  and PURL ``pkg:golang/stdlib@1.21.5``. A ``(devel)`` version becomes a
  version from ``-ldflags -X main.version=...`` or a VCS pseudo-version when
  the build settings allow, and stays ``(devel)`` otherwise, as syft 1.18
  reports it (the raw value is also kept in metadata).

Build info layout (Go 1.18+, see Go's ``debug/buildinfo``): a 32-byte header
``"\\xff Go buildinf:"`` (14 bytes), pointer size (1 byte), flags (1 byte;
bit 1 set means inline strings), 16 bytes of padding; then two strings, each
a uvarint length followed by the bytes: the Go version and the module info.
The module info is framed by 16 sentinel bytes on each side. Older binaries
store two pointers after the 16-byte prefix instead; those are followed
through the ELF program headers (other formats are skipped with a warning).
"""

from __future__ import annotations

import ast
import datetime as dt
import re
from dataclasses import dataclass, field

from shieldwall.analyze.base import EMPTY, AnalysisInput, AnalysisResult, AnalyzerError, FileInfo, basename
from shieldwall.analyze.common import golang_purl, make_package
from shieldwall.analyze.lang.executable import (
    BinaryFormatError,
    ElfView,
    is_executable_candidate,
    read_elf,
    read_executable,
)
from shieldwall.model import Package, PackageType

MAX_GO_MOD_SIZE = 4 * 1024 * 1024
DEVEL = "(devel)"

# --------------------------------------------------------------------------- go.mod


@dataclass(frozen=True, slots=True)
class GoRequire:
    """One ``require`` entry."""

    path: str
    version: str
    indirect: bool
    line: int


@dataclass(frozen=True, slots=True)
class GoReplace:
    """One ``replace`` entry; ``old_version`` and ``new_version`` may be empty."""

    old_path: str
    old_version: str
    new_path: str
    new_version: str
    line: int


@dataclass(frozen=True, slots=True)
class GoModFile:
    """The parts of a go.mod file that name dependencies."""

    module: str = ""
    go_version: str = ""
    requires: tuple[GoRequire, ...] = ()
    replaces: tuple[GoReplace, ...] = ()
    excludes: tuple[tuple[str, str], ...] = ()
    problems: tuple[str, ...] = ()


_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|`[^`]*`|//.*$|[^\s"`]+')
_BLOCK_DIRECTIVES = {"require", "replace", "exclude", "retract", "godebug", "tool", "ignore"}


def _unquote(token: str) -> str:
    if token.startswith("`") and token.endswith("`") and len(token) >= 2:
        return token[1:-1]
    if token.startswith('"') and token.endswith('"') and len(token) >= 2:
        try:
            value = ast.literal_eval(token)
        except (ValueError, SyntaxError):
            return token[1:-1]
        return value if isinstance(value, str) else token[1:-1]
    return token


def _split_line(line: str) -> tuple[list[str], str]:
    """Tokens of a go.mod line and the text of its trailing ``//`` comment."""
    tokens: list[str] = []
    comment = ""
    for match in _TOKEN.finditer(line):
        text = match.group(0)
        if text.startswith("//"):
            comment = text[2:].strip()
            break
        tokens.append(text)
    return tokens, comment


def _is_indirect(comment: str) -> bool:
    return comment == "indirect" or comment.startswith("indirect;")


def parse_go_mod(text: str) -> GoModFile:
    """Parse go.mod directives (single lines and parenthesised blocks) without the Go toolchain."""
    module = ""
    go_version = ""
    requires: list[GoRequire] = []
    replaces: list[GoReplace] = []
    excludes: list[tuple[str, str]] = []
    problems: list[str] = []
    block = ""
    for lineno, raw in enumerate(text.splitlines(), start=1):
        tokens, comment = _split_line(raw)
        if not tokens:
            continue
        if block:
            if tokens == [")"]:
                block = ""
                continue
            verb, args = block, tokens
        else:
            verb, args = tokens[0], tokens[1:]
            if verb in _BLOCK_DIRECTIVES and args == ["("]:
                block = verb
                continue
            if args[-1:] == ["("] and verb in _BLOCK_DIRECTIVES:
                block = verb
                continue
        values = [_unquote(a) for a in args]
        if verb == "module" and values:
            module = values[0]
        elif verb == "go" and values:
            go_version = values[0]
        elif verb == "require":
            if len(values) != 2:
                problems.append(f"line {lineno}: require needs a module path and a version")
                continue
            requires.append(GoRequire(values[0], values[1], _is_indirect(comment), lineno))
        elif verb == "exclude":
            if len(values) == 2:
                excludes.append((values[0], values[1]))
        elif verb == "replace":
            replace = _parse_replace(values, lineno)
            if replace is None:
                problems.append(f"line {lineno}: replace needs 'old [version] => new [version]'")
                continue
            replaces.append(replace)
    if block:
        problems.append(f"unterminated {block} block")
    return GoModFile(module, go_version, tuple(requires), tuple(replaces), tuple(excludes), tuple(problems))


def _parse_replace(values: list[str], lineno: int) -> GoReplace | None:
    if "=>" not in values:
        return None
    arrow = values.index("=>")
    old, new = values[:arrow], values[arrow + 1 :]
    if len(old) not in (1, 2) or len(new) not in (1, 2):
        return None
    return GoReplace(old[0], old[1] if len(old) == 2 else "", new[0], new[1] if len(new) == 2 else "", lineno)


def is_local_path(module: str) -> bool:
    """True for a replacement that points at a directory rather than a module."""
    return module.startswith((".", "/")) or (len(module) > 1 and module[1] == ":")


@dataclass(slots=True)
class _ModEntry:
    name: str
    version: str
    line: int
    metadata: dict[str, str] = field(default_factory=dict)


class GoModAnalyzer:
    """Packages declared by ``go.mod`` (require, with replace and exclude applied as syft does)."""

    name = "go-mod"
    version = 1

    def required(self, path: str, info: FileInfo) -> bool:
        return basename(path) == "go.mod" and info.size <= MAX_GO_MOD_SIZE

    def analyze(self, input: AnalysisInput) -> AnalysisResult:
        data = input.read()
        if len(data) > MAX_GO_MOD_SIZE:
            raise AnalyzerError(f"go.mod is {len(data)} bytes, over the {MAX_GO_MOD_SIZE}-byte limit")
        if b"\x00" in data:
            raise AnalyzerError("go.mod contains NUL bytes: not a text file")
        mod = parse_go_mod(data.decode("utf-8", errors="replace"))
        entries: dict[str, _ModEntry] = {}
        for req in mod.requires:
            entries[req.path] = _ModEntry(
                req.path, req.version, req.line, {"indirect": "true" if req.indirect else "false"}
            )
        for rep in mod.replaces:
            previous = entries.get(rep.old_path)
            meta = dict(previous.metadata) if previous else {}
            meta["replaces"] = f"{rep.old_path} {rep.old_version}".strip()
            if is_local_path(rep.new_path):
                meta["replaced_by"] = rep.new_path
                final = rep.old_path
            else:
                entries.pop(rep.old_path, None)
                final = rep.new_path
            entries[final] = _ModEntry(final, rep.new_version, rep.line, meta)
        excluded = set(mod.excludes)
        packages: list[Package] = []
        problems = list(mod.problems)
        for entry in sorted(entries.values(), key=lambda e: e.name):
            if (entry.name, entry.version) in excluded:
                continue
            purl = module_purl(entry.name, entry.version)
            if purl is None:
                problems.append(f"line {entry.line}: {entry.name!r} is not a module path")
                continue
            if mod.module:
                entry.metadata["main_module"] = mod.module
            packages.append(
                make_package(
                    PackageType.GOLANG,
                    entry.name,
                    entry.version,
                    input.path,
                    self.name,
                    purl=purl,
                    metadata=entry.metadata,
                    line=entry.line,
                )
            )
        return AnalysisResult(packages=tuple(packages), warnings=tuple(problems))


def module_purl(module: str, version: str) -> str | None:
    """The module's PURL, or ``None`` for a path no PURL can carry (empty last element: ``example.com/``)."""
    try:
        return golang_purl(module, version)
    except ValueError:
        return None


# --------------------------------------------------------------------------- binaries

BUILDINFO_MAGIC = b"\xff Go buildinf:"
BUILDINFO_HEADER_SIZE = 32
BUILDINFO_ALIGN = 16
FLAG_INLINE_STRINGS = 0x2
FLAG_BIG_ENDIAN = 0x1
_MAX_MODINFO = 16 * 1024 * 1024
_MAX_VERSION = 1024
_MAX_MAGIC_HITS = 64


@dataclass(frozen=True, slots=True)
class GoModule:
    """A module line of build info: ``mod``/``dep`` with an optional ``=>`` replacement."""

    path: str
    version: str
    sum: str = ""
    replace: GoModule | None = None


@dataclass(frozen=True, slots=True)
class GoBuildInfo:
    """What ``runtime/debug.ReadBuildInfo`` would report for a binary."""

    go_version: str
    path: str = ""
    main: GoModule | None = None
    deps: tuple[GoModule, ...] = ()
    settings: tuple[tuple[str, str], ...] = ()

    def setting(self, key: str) -> str:
        """The value of build setting ``key`` (empty when absent)."""
        return next((v for k, v in self.settings if k == key), "")


class BuildInfoError(Exception):
    """Build info was found but cannot be decoded."""


def _uvarint(data: bytes, pos: int, end: int) -> tuple[int, int]:
    value = 0
    shift = 0
    while pos < end and shift <= 63:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
    raise BuildInfoError("truncated or overlong varint")


def _inline_string(data: bytes, pos: int, end: int, limit: int) -> tuple[bytes, int]:
    length, pos = _uvarint(data, pos, end)
    if length > limit or pos + length > end:
        raise BuildInfoError("string length runs past the build info")
    return data[pos : pos + length], pos + length


def _strip_module_framing(mod: bytes) -> bytes:
    # modinfo is framed by 16-byte sentinels (cmd/go/internal/modload infoStart/infoEnd).
    if len(mod) >= 33 and mod[-17] == 0x0A:
        return mod[16:-16]
    return b""


def _read_pointer(blob: bytes, size: int, little: bool) -> int:
    if len(blob) < size:
        raise BuildInfoError("truncated pointer")
    return int.from_bytes(blob[:size], "little" if little else "big")


def _pointer_string(data: bytes, elf: ElfView, addr: int, ptr: int, little: bool, limit: int) -> bytes:
    """Follow a Go string header at virtual address ``addr`` to its bytes (pre-1.18 layout)."""
    header_at = elf.file_offset(addr)
    if header_at is None:
        raise BuildInfoError(f"string header address {addr:#x} is outside the file")
    header = data[header_at : header_at + 2 * ptr]
    str_addr = _read_pointer(header, ptr, little)
    length = _read_pointer(header[ptr:], ptr, little)
    if length == 0:
        return b""
    if length > limit:
        raise BuildInfoError("string longer than the build info limit")
    at = elf.file_offset(str_addr)
    if at is None or at + length > len(data):
        raise BuildInfoError(f"string address {str_addr:#x} is outside the file")
    return data[at : at + length]


def decode_buildinfo(data: bytes, start: int, elf: ElfView | None, end: int | None = None) -> tuple[str, str]:
    """Decode the Go version and module info of the header at ``data[start:end]``.

    ``end`` bounds inline strings (the end of the ``.go.buildinfo`` section when
    known, else the end of the file).
    """
    header = data[start : start + BUILDINFO_HEADER_SIZE]
    if len(header) < BUILDINFO_HEADER_SIZE or not header.startswith(BUILDINFO_MAGIC):
        raise BuildInfoError("truncated build info header")
    ptr = header[14]
    flags = header[15]
    if flags & FLAG_INLINE_STRINGS:
        stop = len(data) if end is None else min(end, len(data))
        version, pos = _inline_string(data, start + BUILDINFO_HEADER_SIZE, stop, _MAX_VERSION)
        mod, _ = _inline_string(data, pos, stop, _MAX_MODINFO)
    else:
        if elf is None:
            raise BuildInfoError("pre-Go 1.18 build info is only read from ELF binaries")
        if ptr not in (4, 8):
            raise BuildInfoError(f"unexpected pointer size {ptr}")
        little = not (flags & FLAG_BIG_ENDIAN)
        version_addr = _read_pointer(header[16:], ptr, little)
        mod_addr = _read_pointer(header[16 + ptr :], ptr, little)
        version = _pointer_string(data, elf, version_addr, ptr, little, _MAX_VERSION)
        mod = _pointer_string(data, elf, mod_addr, ptr, little, _MAX_MODINFO)
    if not version:
        raise BuildInfoError("empty Go version")
    text = _strip_module_framing(mod)
    return version.decode("utf-8", errors="replace"), text.decode("utf-8", errors="replace")


def _quoted_prefix(text: str) -> tuple[str, str]:
    """Split a Go-quoted string off the front of ``text``; returns (value, rest)."""
    i = 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == '"':
            return _unquote(text[: i + 1]), text[i + 1 :]
        i += 1
    return text[1:], ""


def _build_setting(rest: str) -> tuple[str, str] | None:
    if rest.startswith('"'):
        key, rest = _quoted_prefix(rest)
        if not rest.startswith("="):
            return None
        value = rest[1:]
    else:
        key, sep, value = rest.partition("=")
        if not sep:
            return None
    if value.startswith('"'):
        value, _ = _quoted_prefix(value)
    return key, value


def parse_modinfo(go_version: str, text: str) -> GoBuildInfo:
    """Parse the module info text (the format of ``runtime/debug.BuildInfo.String``)."""
    path = ""
    main: GoModule | None = None
    deps: list[GoModule] = []
    settings: list[tuple[str, str]] = []
    last: str = ""  # which module the next "=>" line replaces: "mod" or "dep"
    for line in text.splitlines():
        word, _, rest = line.partition("\t")
        if word == "path":
            path = rest
        elif word in ("mod", "dep"):
            fields = rest.split("\t")
            module = GoModule(fields[0], fields[1] if len(fields) > 1 else "", fields[2] if len(fields) > 2 else "")
            if not module.path:
                last = ""
                continue
            if word == "mod":
                main = module
            else:
                deps.append(module)
            last = word
        elif word == "=>":
            fields = rest.split("\t")
            replacement = GoModule(
                fields[0], fields[1] if len(fields) > 1 else "", fields[2] if len(fields) > 2 else ""
            )
            if last == "mod" and main is not None:
                main = GoModule(main.path, main.version, main.sum, replacement)
            elif last == "dep" and deps:
                prev = deps[-1]
                deps[-1] = GoModule(prev.path, prev.version, prev.sum, replacement)
            last = ""
        elif word == "build":
            setting = _build_setting(rest)
            if setting:
                settings.append(setting)
    return GoBuildInfo(go_version, path, main, tuple(deps), tuple(settings))


def find_buildinfo(data: bytes) -> tuple[tuple[str, str] | None, list[str]]:
    """Locate and decode Go build info; returns ((go version, modinfo) or None, warnings).

    ELF binaries are read at their ``.go.buildinfo`` section (an ELF with
    section headers but no such section is not a Go 1.13+ program); anything
    else, an ELF without section headers, or one whose headers are corrupt is
    searched for the magic, a bounded number of hits, each validated by decoding.
    """
    warnings: list[str] = []
    if BUILDINFO_MAGIC not in data:
        # Every Go 1.13+ binary carries the magic (in .go.buildinfo or wherever the
        # format puts it); one C-speed search spares parsing the headers of every
        # non-Go executable in an image.
        return None, warnings
    elf: ElfView | None = None
    try:
        elf = read_elf(data)
    except BinaryFormatError as exc:
        warnings.append(f"{exc}; scanning for Go build info instead")
    if elf is not None:
        where = elf.sections.get(".go.buildinfo")
        if where is not None:
            try:
                return decode_buildinfo(data, where[0], elf, where[0] + where[1]), warnings
            except BuildInfoError as exc:
                warnings.append(f".go.buildinfo section: {exc}")
                return None, warnings
        elif elf.sections:
            # Go 1.13+ always writes the section; an ELF with readable section headers
            # but without it is not a Go program, so skip the whole-file scan.
            return None, warnings
    errors: list[str] = []
    pos = data.find(BUILDINFO_MAGIC)
    hits = 0
    while pos >= 0 and hits < _MAX_MAGIC_HITS:
        hits += 1
        try:
            return decode_buildinfo(data, pos, elf), warnings
        except BuildInfoError as exc:
            errors.append(str(exc))
        pos = data.find(BUILDINFO_MAGIC, pos + 1)
    if errors:
        warnings.append(f"Go build info found but not decoded: {errors[0]}")
    return None, warnings


_LDFLAGS_PATTERNS = (
    r"\.[a-zA-Z0-9]*([rR]elease)?([gG]it)?([bB]uild)?[vV]er(sion)?=(\S+/)*(?P<version>v?\d+.\d+.\d+[-\w]*)",
    r"\.[a-zA-Z0-9]*([tT]ag)=(\S+/)*(?P<version>v?\d+.\d+.\d+[-\w]*)",
)


def version_from_ldflags(ldflags: str, main_module: str) -> str:
    """A main-module version set with ``-X main.version=...`` (syft's patterns), ``v``-prefixed."""
    if not ldflags:
        return ""
    owner = rf"(main|{re.escape(main_module)}/[^\s]*)"
    for pattern in _LDFLAGS_PATTERNS:
        match = re.search(owner + pattern, ldflags, re.MULTILINE | re.ASCII)
        if match:
            version = match.group("version")
            return version if version.startswith("v") else "v" + version
    return ""


def pseudo_version(revision: str, timestamp: str) -> str:
    """The Go pseudo-version ``v0.0.0-<utc time>-<12 hex>`` for a VCS revision."""
    try:
        when = dt.datetime.fromisoformat(timestamp).astimezone(dt.UTC).strftime("%Y%m%d%H%M%S")
    except ValueError:
        when = "00010101000000"
    return f"v0.0.0-{when}-{revision[:12]}"


_STDLIB_VERSION = re.compile(r"^go(\d+(?:\.\d+)*)((?:rc|beta)\d+)?$")


def stdlib_version(go_version: str) -> str:
    """``go1.21.5`` from ``go1.21.5 X:boringcrypto``; empty for development toolchains."""
    version = go_version.split(" ", 1)[0]
    return version if _STDLIB_VERSION.match(version.partition("+")[0]) else ""


class GoBinaryAnalyzer:
    """Modules compiled into a Go executable, read from its embedded build info."""

    name = "go-binary"
    version = 1

    def required(self, path: str, info: FileInfo) -> bool:
        return is_executable_candidate(path, info)

    def analyze(self, input: AnalysisInput) -> AnalysisResult:
        data = read_executable(input)
        found, warnings = find_buildinfo(data)
        if found is None:
            # Most executables are not Go programs; only report trouble with ones that looked like Go.
            return AnalysisResult(warnings=tuple(warnings)) if warnings else EMPTY
        info = parse_modinfo(*found)
        packages = self._packages(info, input.path, warnings)
        return AnalysisResult(packages=tuple(packages), warnings=tuple(warnings))

    def _packages(self, info: GoBuildInfo, path: str, warnings: list[str]) -> list[Package]:
        go_version = info.go_version.split(" ", 1)[0]
        main = info.main
        deps = list(info.deps)
        if main is None or main.path == "command-line-arguments":
            devel = [d for d in deps if d.version == DEVEL]
            if len(devel) == 1:
                main = devel[0]
                deps.remove(main)
            elif info.path and info.path != "command-line-arguments":
                main = GoModule(info.path, DEVEL)
            else:
                main = None
        main_path = main.path if main else ""
        common = {"go_version": go_version, "main_module": main_path}
        arch = info.setting("GOARCH")
        if arch:
            common["architecture"] = arch
        packages: list[Package] = []
        seen: set[tuple[str, str]] = set()

        def add(module: GoModule, version_override: str | None = None, extra: dict[str, str] | None = None) -> None:
            name, version, digest = module.path, module.version, module.sum
            meta = dict(common)
            if module.replace is not None:
                rep = module.replace
                if not is_local_path(rep.path):
                    name = rep.path
                else:
                    meta["replaced_by"] = rep.path
                version, digest = rep.version, rep.sum
                meta["replaces"] = f"{module.path} {module.version}".strip()
            if version == DEVEL:
                meta["version_raw"] = DEVEL
            if version_override is not None:
                version = version_override
            if digest:
                meta["h1_digest"] = digest
            meta.update(extra or {})
            if not name or (name, version) in seen:
                return
            purl = module_purl(name, version)
            if purl is None:
                warnings.append(f"build info: {name!r} is not a module path")
                return
            seen.add((name, version))
            packages.append(
                make_package(
                    PackageType.GOLANG,
                    name,
                    version,
                    path,
                    self.name,
                    purl=purl,
                    metadata=meta,
                )
            )

        if main is not None:
            override = None
            if main.replace is None and main.version == DEVEL:
                override = version_from_ldflags(info.setting("-ldflags"), main.path)
                revision, when = info.setting("vcs.revision"), info.setting("vcs.time")
                if not override and revision and when:
                    override = pseudo_version(revision, when)
            add(main, override or None, {"main": "true"})
        for dep in deps:
            add(dep)
        stdlib = stdlib_version(go_version)
        if stdlib:
            packages.append(
                make_package(
                    PackageType.GOLANG,
                    "stdlib",
                    stdlib,
                    path,
                    self.name,
                    purl=golang_purl("stdlib", stdlib.removeprefix("go")),
                    licenses=("BSD-3-Clause",),
                    metadata=common,
                )
            )
        return packages


ANALYZERS = (GoModAnalyzer, GoBinaryAnalyzer)
