"""Host configuration checks for host scans: a directory target that is a root filesystem (``dir:/``, an
unpacked rootfs).

Host settings span several files, so they are checked once per scan over the
whole root rather than file by file: sshd_config with the drop-ins its
``Include`` lines name (first value wins, as sshd reads them), every sysctl
file in systemd-sysctl order (last value wins, unset keys fall back to the
kernel default), login.defs, Docker's daemon.json, and the mode bits of the
sensitive files and directories listed in ``checks.host_files``. Image scans
do not run these checks: a container does not apply its image's sysctl or
login policy, and its sshd is judged by the Dockerfile/image checks.

Files are read without following symbolic links (a link is skipped), bounded
by ``inputs.host.MAX_BYTES``; an unreadable or malformed file is a warning.
"""

from __future__ import annotations

import fnmatch
import os
import posixpath
import stat
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from shieldwall.analyze.base import AnalyzerError, FileInfo
from shieldwall.misconfig.check import Hit, InputKind, ParsedFile, Resource
from shieldwall.misconfig.checks import host_files
from shieldwall.misconfig.engine import run_checks, suppression_for
from shieldwall.misconfig.inputs.host import (
    DOCKER_DAEMON_JSON,
    HOST_LOGIN_DEFS,
    HOST_SSHD,
    HOST_SYSCTL,
    LOGIN_DEFS,
    MAX_BYTES,
    SSHD_CONFIG,
    SYSCTL_CONF,
    SYSCTL_DIRS,
    DockerDaemonInput,
    HostConfig,
    Setting,
    host_resource,
    parse_login_defs,
    parse_sshd,
    parse_sysctl,
    sysctl_file_order,
)
from shieldwall.misconfig.inputs.imageconfig import file_mode_resource
from shieldwall.misconfig.registry import CheckConfig, CheckSet, config_from_environment, load_checks
from shieldwall.misconfig.suppress import scan_lines
from shieldwall.model import Finding, ScanResult, ScanWarning, TargetKind
from shieldwall.postscan import PostScanOutput

if TYPE_CHECKING:
    from shieldwall.scanopts import ScanOptions

NAME = "misconfig-host"
MAX_DIR_ENTRIES = 1000


def is_host_root(root: Path) -> bool:
    """A directory that looks like a root filesystem (``etc`` and ``usr``), as the directory walker decides."""
    return (root / "etc").is_dir() and (root / "usr").is_dir()


class HostFiles:
    """Reads files of a root filesystem by their absolute in-target path, never following links."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.warnings: list[str] = []
        self._texts: dict[str, str] = {}

    def _real(self, path: str) -> str | None:
        """The real path of ``path`` when no component of it is a symbolic link, else None."""
        current = str(self.root)
        for part in [p for p in path.split("/") if p]:
            if part in (".", ".."):
                return None
            current = os.path.join(current, part)
            try:
                mode = os.lstat(current).st_mode
            except OSError:
                return None
            if stat.S_ISLNK(mode):
                return None
        return current

    def stat(self, path: str) -> tuple[FileInfo, bool] | None:
        """Mode and size of ``path`` (a file, directory or socket) and whether it is a regular file, or None."""
        real = self._real(path)
        if real is None:
            return None
        try:
            st = os.lstat(real)
        except OSError:
            return None
        return FileInfo(path, st.st_size, st.st_mode & 0o7777), stat.S_ISREG(st.st_mode)

    def read(self, path: str) -> str | None:
        """Text of a regular file up to ``MAX_BYTES`` (None when absent, a link, or too large)."""
        if path in self._texts:
            return self._texts[path]
        real = self._real(path)
        if real is None:
            return None
        try:
            st = os.lstat(real)
            if not stat.S_ISREG(st.st_mode):
                return None
            if st.st_size > MAX_BYTES:
                self.warnings.append(f"{path}: {st.st_size} bytes is above the host configuration size limit")
                return None
            fd = os.open(real, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            with os.fdopen(fd, "rb") as handle:
                text = handle.read(MAX_BYTES).decode("utf-8", errors="replace")
        except OSError as exc:
            self.warnings.append(f"{path}: cannot read: {exc.strerror or exc}")
            return None
        self._texts[path] = text
        return text

    def listdir(self, directory: str) -> list[str]:
        """Absolute paths of the entries of a directory (sorted; bounded)."""
        real = self._real(directory)
        if real is None:
            return []
        try:
            names = sorted(os.listdir(real))[:MAX_DIR_ENTRIES]
        except OSError:
            return []
        return [posixpath.join(directory, n) for n in names]

    def glob(self, pattern: str) -> list[str]:
        """Files matching ``pattern`` (wildcards in the last component only, as sshd's Include mostly uses)."""
        directory, name = posixpath.split(pattern)
        if not any(c in name for c in "*?["):
            return [pattern] if self.read(pattern) is not None else []
        return [p for p in self.listdir(directory) if fnmatch.fnmatch(posixpath.basename(p), name)]


def _sshd(files: HostFiles) -> tuple[Resource, list[str]] | None:
    text = files.read(SSHD_CONFIG)
    if text is None:
        return None
    seen: list[str] = [SSHD_CONFIG]

    def include(pattern: str) -> list[tuple[str, str]]:
        out = []
        for path in files.glob(pattern):
            body = files.read(path)
            if body is not None:
                seen.append(path)
                out.append((path, body))
        return out

    settings = parse_sshd(SSHD_CONFIG, text, read=include)
    config = HostConfig(HOST_SSHD, settings, tuple(seen))
    return host_resource(SSHD_CONFIG, HOST_SSHD, "sshd_config", config, text.count("\n") or 1), seen


def _sysctl(files: HostFiles) -> tuple[Resource, list[str]] | None:
    candidates = [p for d in SYSCTL_DIRS for p in files.listdir(d)]
    if files.read(SYSCTL_CONF) is not None:
        candidates.append(SYSCTL_CONF)
    ordered = [p for p in sysctl_file_order(candidates) if files.read(p) is not None]
    merged: dict[str, Setting] = {}
    for path in ordered:
        merged = parse_sysctl(path, files.read(path) or "", merged)
    config = HostConfig(HOST_SYSCTL, merged, tuple(ordered))
    # the resource stands for the host's whole kernel configuration; unset keys are reported against sysctl.conf
    resource = host_resource(SYSCTL_CONF, HOST_SYSCTL, "sysctl", config, None, None)
    return replace(resource, name=""), ordered


def _login_defs(files: HostFiles) -> tuple[Resource, list[str]] | None:
    text = files.read(LOGIN_DEFS)
    if text is None:
        return None
    config = HostConfig(HOST_LOGIN_DEFS, parse_login_defs(LOGIN_DEFS, text), (LOGIN_DEFS,))
    return host_resource(LOGIN_DEFS, HOST_LOGIN_DEFS, "login.defs", config, text.count("\n") or 1), [LOGIN_DEFS]


def _daemon_json(files: HostFiles) -> tuple[Resource, list[str]] | None:
    text = files.read(DOCKER_DAEMON_JSON)
    if text is None:
        return None
    parsed = DockerDaemonInput().parse(DOCKER_DAEMON_JSON, text.encode())
    if parsed is None or not parsed.resources:
        return None
    return parsed.resources[0], [DOCKER_DAEMON_JSON]


def host_resources(root: Path) -> tuple[list[tuple[Resource, list[str]]], HostFiles]:
    """The host configuration resources of a root filesystem, each with the files it was read from."""
    files = HostFiles(root)
    found: list[tuple[Resource, list[str]]] = []
    for build in (_sshd, _sysctl, _login_defs, _daemon_json):
        try:
            got = build(files)
        except AnalyzerError as exc:
            files.warnings.append(str(exc))
            continue
        if got is not None:
            found.append(got)
    return found, files


def mode_resources(files: HostFiles) -> Iterator[Resource]:
    """``file-mode`` resources for the sensitive paths that exist (SSH host keys found by pattern).

    Regular files the setuid analyzer already judged during the walk (setuid/setgid or world-writable
    system files: it runs every ``file-mode`` check) are left out, so no finding is reported twice.
    """
    from shieldwall.analyze.misconfig import SetuidAnalyzer

    walked = SetuidAnalyzer(CheckConfig(include_plugins=False))
    paths = list(host_files.WATCHED) + files.glob(host_files.SSH_HOST_KEYS)
    paths += [p for p in files.listdir("/etc/ssh/sshd_config.d") if p.endswith(".conf")]
    for path in dict.fromkeys(paths):
        got = files.stat(path)
        if got is None:
            continue
        info, regular = got
        if regular and walked.required(path, info):
            continue
        yield file_mode_resource(info)


def host_inputs(root: Path) -> set[str]:
    """Input kinds a host scan of ``root`` checks (for the compliance view); empty for non-root directories."""
    if not is_host_root(root):
        return set()
    resources, _ = host_resources(root)
    kinds = {resource.input for resource, _ in resources}
    return kinds | {InputKind.FILE_MODE}


def _suppressed(finding: Finding, resource: Resource, files: HostFiles) -> Finding:
    """Honour ``# shieldwall:ignore`` comments in the file the finding points at."""
    location = finding.location
    if location is None:
        return finding
    text = files.read(location.path)
    if text is None:
        return finding
    suppressions, quiet = scan_lines(text)
    if not suppressions:
        return finding
    # a comment before the file's first setting covers the whole file, as in every other input
    header = next((n for n in range(1, text.count("\n") + 2) if n not in quiet), 1) - 1
    parsed = ParsedFile(location.path, resource.input, (), suppressions, header, quiet)
    hit = Hit("", line=location.line, end_line=location.end_line)
    item = suppression_for(finding.rule_id, replace(resource, path=location.path), hit, parsed)
    return replace(finding, suppressed=item.reason) if item is not None else finding


class HostPostScanner:
    """Runs the host configuration and host file-permission checks on a root filesystem target."""

    name = NAME
    scanner = "misconfig"

    def __init__(self, checks: CheckSet) -> None:
        self.checks = checks

    def run(self, result: ScanResult) -> PostScanOutput:
        """Findings of the host's configuration (nothing for targets that are not a root filesystem)."""
        if result.target.ref.kind is not TargetKind.DIRECTORY:
            return PostScanOutput()
        root = Path(result.target.ref.value)
        if not root.is_dir() or not is_host_root(root):
            return PostScanOutput()
        findings: list[Finding] = []
        warnings: list[ScanWarning] = []
        resources, files = host_resources(root)
        for resource, _sources in resources:
            checks = self.checks.for_input(resource.input)
            output = run_checks(ParsedFile(resource.path, resource.input, (resource,)), checks)
            findings += [_suppressed(f, resource, files) for f in output.findings]
            warnings += [ScanWarning(NAME, w, resource.path) for w in output.warnings]
        perm_ids = {c.id for c in host_files.CHECKS}
        mode_checks = [c for c in self.checks.for_input(InputKind.FILE_MODE) if c.id in perm_ids]
        for resource in mode_resources(files):
            output = run_checks(ParsedFile(resource.path, InputKind.FILE_MODE, (resource,)), mode_checks)
            findings += output.findings
            warnings += [ScanWarning(NAME, w, resource.path) for w in output.warnings]
        warnings += [ScanWarning(NAME, w) for w in files.warnings]
        return PostScanOutput(tuple(_dedupe(findings)), tuple(warnings))


def _dedupe(findings: list[Finding]) -> list[Finding]:
    seen: set[str] = set()
    out = []
    for finding in findings:
        if finding.fingerprint not in seen:
            seen.add(finding.fingerprint)
            out.append(finding)
    return out


def host_post_scanner(options: ScanOptions, config: CheckConfig | None = None) -> HostPostScanner | None:
    """Factory for ``builtin_post_scanners`` (only when the misconfig scanner runs)."""
    if "misconfig" not in options.scanners:
        return None
    return HostPostScanner(load_checks(config if config is not None else config_from_environment()))
