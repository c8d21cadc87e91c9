"""Host configuration files: sshd_config, sysctl, login.defs and Docker's daemon.json.

Each file kind is its own input kind (``host-sshd``, ``host-sysctl``,
``host-login-defs``, ``host-docker-daemon``) so a check's fixture is parsed
by the right parser whatever its name. A parser turns one file into one
whole-file resource whose ``data`` maps each setting to its value and the
file and line that set it. Host scans (``misconfig.hostscan``) build the same
values from several files the way the programs read them: sshd's ``Include``
drop-ins (first value wins), and the sysctl.d directories in systemd order
(last value wins).

Nothing here executes content; every file is bounded by ``MAX_BYTES``.
"""

from __future__ import annotations

import fnmatch
import json
import posixpath
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from shieldwall.analyze.base import AnalyzerError, FileInfo
from shieldwall.misconfig.check import ParsedFile, Resource
from shieldwall.misconfig.suppress import scan_lines

MAX_BYTES = 1024 * 1024
MAX_INCLUDE_DEPTH = 4

HOST_SSHD = "host-sshd"
HOST_SYSCTL = "host-sysctl"
HOST_LOGIN_DEFS = "host-login-defs"
HOST_DOCKER_DAEMON = "host-docker-daemon"
HOST_INPUTS = (HOST_SSHD, HOST_SYSCTL, HOST_LOGIN_DEFS, HOST_DOCKER_DAEMON)

SSHD_CONFIG = "/etc/ssh/sshd_config"
SYSCTL_CONF = "/etc/sysctl.conf"
SYSCTL_DIRS = ("/etc/sysctl.d", "/run/sysctl.d", "/usr/local/lib/sysctl.d", "/usr/lib/sysctl.d", "/lib/sysctl.d")
LOGIN_DEFS = "/etc/login.defs"
DOCKER_DAEMON_JSON = "/etc/docker/daemon.json"


@dataclass(frozen=True, slots=True)
class Setting:
    """One configured value and where it was set."""

    value: str
    path: str
    line: int


@dataclass(frozen=True, slots=True)
class HostConfig:
    """Effective settings of one configuration (keys normalised per kind), and the files it was read from."""

    kind: str
    settings: Mapping[str, Setting] = field(default_factory=dict)
    files: tuple[str, ...] = ()

    def get(self, key: str) -> Setting | None:
        """The effective setting ``key``, if configured."""
        return self.settings.get(key)

    def value(self, key: str) -> str | None:
        """The effective value of ``key``, if configured."""
        found = self.settings.get(key)
        return found.value if found is not None else None


@dataclass(frozen=True, slots=True)
class DockerDaemon:
    """``daemon.json``: the parsed object and the line of each top-level key."""

    options: Mapping[str, object]
    path: str
    lines: Mapping[str, int] = field(default_factory=dict)

    def line_of(self, key: str) -> int | None:
        """Line of a top-level key (None when absent)."""
        return self.lines.get(key)


def _text(content: bytes, path: str) -> str:
    if len(content) > MAX_BYTES:
        raise AnalyzerError(f"{path}: {len(content)} bytes is above the host configuration size limit")
    return content.decode("utf-8", errors="replace")


# --------------------------------------------------------------------------- sshd


def _sshd_words(line: str) -> list[str]:
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return []
    keyword, _, rest = stripped.replace("\t", " ").partition(" ")
    if "=" in keyword:  # "Keyword=value"
        keyword, _, first = keyword.partition("=")
        rest = f"{first} {rest}".strip()
    rest = rest.strip().removeprefix("=").strip()
    try:
        args = shlex.split(rest, comments=True)
    except ValueError:
        args = rest.split()
    return [keyword, *args]


def parse_sshd(
    path: str,
    text: str,
    settings: dict[str, Setting] | None = None,
    read: Callable[[str], list[tuple[str, str]]] | None = None,
    depth: int = 0,
) -> dict[str, Setting]:
    """Global sshd settings of ``text`` (first value wins, ``Match`` blocks skipped).

    ``read(pattern)`` returns (path, text) of the files an ``Include`` names, read in
    place as sshd does; without it includes are ignored.
    """
    out = settings if settings is not None else {}
    in_match = False
    for number, line in enumerate(text.splitlines(), start=1):
        words = _sshd_words(line)
        if not words:
            continue
        keyword = words[0].lower()
        if keyword == "match":
            in_match = True
            continue
        if in_match:
            continue
        if keyword == "include":
            if read is not None and depth < MAX_INCLUDE_DEPTH:
                for pattern in words[1:]:
                    full = pattern if pattern.startswith("/") else posixpath.join("/etc/ssh", pattern)
                    for inc_path, inc_text in read(full):
                        parse_sshd(inc_path, inc_text, out, read, depth + 1)
            continue
        if keyword not in out and len(words) > 1:
            out[keyword] = Setting(" ".join(words[1:]), path, number)
    return out


class SshdConfigInput:
    """Parser for ``host-sshd`` (one sshd_config file; includes are followed by host scans)."""

    input = HOST_SSHD

    def claims(self, path: str, info: FileInfo) -> bool:
        """``/etc/ssh/sshd_config`` and its drop-ins."""
        return info.size <= MAX_BYTES and (
            path == SSHD_CONFIG or fnmatch.fnmatch(path, "/etc/ssh/sshd_config.d/*.conf")
        )

    def parse(self, path: str, content: bytes) -> ParsedFile | None:
        """One ``sshd_config`` resource."""
        text = _text(content, path)
        config = HostConfig(self.input, parse_sshd(path, text), (path,))
        return host_parsed(path, self.input, "sshd_config", config, text)


# --------------------------------------------------------------------------- sysctl


def sysctl_key(raw: str) -> str:
    """``net/ipv4/ip_forward`` and ``net.ipv4.ip_forward`` are the same key."""
    key = raw.strip().lstrip("-")
    return key.replace("/", ".") if "/" in key and "." not in key.split("/")[0] else key


def parse_sysctl(path: str, text: str, settings: dict[str, Setting] | None = None) -> dict[str, Setting]:
    """``key = value`` lines (``#`` and ``;`` comments); a later value replaces an earlier one."""
    out = settings if settings is not None else {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped[0] in "#;" or "=" not in stripped:
            continue
        key, _, value = stripped.partition("=")
        out[sysctl_key(key)] = Setting(value.strip(), path, number)
    return out


def sysctl_file_order(paths: list[str]) -> list[str]:
    """systemd-sysctl order: ``*.conf`` of the sysctl.d directories by file name (a name in an earlier
    directory of ``SYSCTL_DIRS`` hides the same name in later ones), then ``/etc/sysctl.conf``."""
    chosen: dict[str, str] = {}
    for directory in SYSCTL_DIRS:
        for path in paths:
            if posixpath.dirname(path) == directory and path.endswith(".conf"):
                chosen.setdefault(posixpath.basename(path), path)
    ordered = [chosen[name] for name in sorted(chosen)]
    if SYSCTL_CONF in paths:
        ordered.append(SYSCTL_CONF)
    return ordered


class SysctlInput:
    """Parser for ``host-sysctl`` (one file; host scans merge every sysctl file)."""

    input = HOST_SYSCTL

    def claims(self, path: str, info: FileInfo) -> bool:
        """``/etc/sysctl.conf`` and ``*.conf`` in the sysctl.d directories."""
        return info.size <= MAX_BYTES and (
            path == SYSCTL_CONF or (path.endswith(".conf") and posixpath.dirname(path) in SYSCTL_DIRS)
        )

    def parse(self, path: str, content: bytes) -> ParsedFile | None:
        """One ``sysctl`` resource."""
        text = _text(content, path)
        config = HostConfig(self.input, parse_sysctl(path, text), (path,))
        return host_parsed(path, self.input, "sysctl", config, text)


# --------------------------------------------------------------------------- login.defs


def parse_login_defs(path: str, text: str) -> dict[str, Setting]:
    """``NAME value`` lines; keys upper-case; the last value wins, as shadow-utils reads it."""
    out: dict[str, Setting] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        parts = stripped.split(None, 1)
        if len(parts) == 2:
            out[parts[0].upper()] = Setting(parts[1].strip().strip('"'), path, number)
    return out


class LoginDefsInput:
    """Parser for ``host-login-defs``."""

    input = HOST_LOGIN_DEFS

    def claims(self, path: str, info: FileInfo) -> bool:
        """``/etc/login.defs``."""
        return path == LOGIN_DEFS and info.size <= MAX_BYTES

    def parse(self, path: str, content: bytes) -> ParsedFile | None:
        """One ``login.defs`` resource."""
        text = _text(content, path)
        config = HostConfig(self.input, parse_login_defs(path, text), (path,))
        return host_parsed(path, self.input, "login.defs", config, text)


# --------------------------------------------------------------------------- daemon.json


def parse_daemon_json(path: str, text: str) -> DockerDaemon:
    """The daemon.json object with the line of each top-level key; malformed JSON is ``AnalyzerError``."""
    try:
        raw = json.loads(text) if text.strip() else {}
    except (ValueError, RecursionError) as exc:
        raise AnalyzerError(f"{path}: not valid JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise AnalyzerError(f"{path}: daemon.json is not a JSON object")
    lines: dict[str, int] = {}
    for key in raw:
        needle = json.dumps(key)
        index = text.find(needle)
        if index >= 0:
            lines[key] = text.count("\n", 0, index) + 1
    return DockerDaemon(raw, path, lines)


class DockerDaemonInput:
    """Parser for ``host-docker-daemon``."""

    input = HOST_DOCKER_DAEMON

    def claims(self, path: str, info: FileInfo) -> bool:
        """``/etc/docker/daemon.json``."""
        return path == DOCKER_DAEMON_JSON and info.size <= MAX_BYTES

    def parse(self, path: str, content: bytes) -> ParsedFile | None:
        """One ``daemon.json`` resource."""
        text = _text(content, path)
        daemon = parse_daemon_json(path, text)
        resource = Resource(
            input=self.input,
            kind="daemon.json",
            name=path,
            path=path,
            data=daemon,
            line=1,
            end_line=max(text.count("\n"), 1),
            document=dict(daemon.options),
            scoped=False,
        )
        return ParsedFile(path, self.input, (resource,))


def host_parsed(path: str, input_kind: str, kind: str, config: HostConfig, text: str) -> ParsedFile:
    """A ``ParsedFile`` with one whole-file resource for ``config``."""
    resource = host_resource(path, input_kind, kind, config, max(text.count("\n"), 1))
    suppressions, quiet = scan_lines(text)
    first = min((s.line for s in config.settings.values() if s.path == path), default=1)
    return ParsedFile(path, input_kind, (resource,), suppressions, first - 1, quiet)


def host_resource(
    path: str, input_kind: str, kind: str, config: HostConfig, end_line: int | None = None, line: int | None = 1
) -> Resource:
    """The one resource of a host configuration (its document maps keys to values)."""
    return Resource(
        input=input_kind,
        kind=kind,
        name=path,
        path=path,
        data=config,
        line=line,
        end_line=end_line,
        document={k: s.value for k, s in config.settings.items()},
        scoped=False,
    )


def host_parsers() -> list[SshdConfigInput | SysctlInput | LoginDefsInput | DockerDaemonInput]:
    """One parser per host input kind."""
    return [SshdConfigInput(), SysctlInput(), LoginDefsInput(), DockerDaemonInput()]
