"""Who changed it: Linux audit watch rules (``auditctl -w``) and the audit log, read by the agent.

``install`` adds one watch rule (``-p wa``: writes and attribute changes) per
top rule path under a key unique to this agent run; ``remove`` deletes every
rule with that key (``auditctl -D -k``), so the host's own rules are never
touched. ``who`` reads the audit log from where it stopped, keeps the last
few thousand events carrying our key, and returns the process behind the
latest one that names the path: user and uid (and login uid), pid, parent
pid, executable, command (``comm``) and command line (``proctitle``, secrets
masked). When audit is missing, disabled or has no daemon writing a log, the
module is DEGRADED with that reason and events carry no ``who``: nothing is
ever guessed.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import time
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from shieldwall.agent.modules.fim.rules import Policy
from shieldwall.agent.modules.fim.walk import split, top_paths

DEFAULT_LOG = "/var/log/audit/audit.log"
_RECORD = re.compile(r"^type=(\w+) msg=audit\((\d+\.\d+):(\d+)\):\s?(.*)$")
_FIELD = re.compile(r'(\w+)=("[^"]*"|\S+)')
_MAX_EVENTS = 5000
_MAX_READ = 16 << 20


def audit_status(settings: Mapping[str, Any]) -> tuple[bool, str]:
    """Whether attribution can work here, and why not (the DEGRADED reason)."""
    if settings.get("audit") is False:
        return False, "audit attribution disabled in the agent settings"
    auditctl = str(settings.get("auditctl") or shutil.which("auditctl") or "")
    if not auditctl:
        return False, "auditctl is not installed (Debian package auditd)"
    try:
        out = subprocess.run([auditctl, "-s"], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"auditctl -s failed: {exc}"
    if out.returncode != 0:
        return False, f"kernel audit not available: {(out.stderr or out.stdout).strip()[:200]}"
    fields = dict(line.split(" ", 1) for line in out.stdout.splitlines() if " " in line)
    if fields.get("enabled", "0").strip() == "0":
        return False, "kernel audit is disabled (auditctl -s: enabled 0)"
    if fields.get("pid", "0").strip() == "0":
        return False, "no audit daemon is running (nothing writes the audit log)"
    log = Path(str(settings.get("audit_log") or DEFAULT_LOG))
    if not os.access(log, os.R_OK):
        return False, f"the audit log {log} is not readable"
    return True, ""


def _value(raw: str) -> str:
    if raw.startswith('"') and raw.endswith('"'):
        return raw[1:-1]
    if raw != "(null)" and len(raw) % 2 == 0 and re.fullmatch(r"[0-9A-F]+", raw) and len(raw) >= 2:
        try:
            return bytes.fromhex(raw).decode("utf-8", errors="replace")
        except ValueError:
            return raw
    return raw


def parse_line(line: str) -> tuple[str, str, str, dict[str, str]] | None:
    """``(type, time, serial, fields)`` of one raw or enriched audit log line, or ``None``."""
    match = _RECORD.match(line.split("\x1d", 1)[0].rstrip("\n"))
    if match is None:
        return None
    kind, stamp, serial, rest = match.groups()
    fields = {k: v for k, v in _FIELD.findall(rest)}
    if "\x1d" in line:
        for k, v in _FIELD.findall(line.split("\x1d", 1)[1]):
            fields["_" + k] = v
    return kind, stamp, serial, fields


class AuditLogReader:
    """Reads the audit log from where it stopped and finds the latest event of a key naming a path.

    Shared by FIM (``AuditAttributor``) and container drift (``drift.writers``); ``prefix`` starts
    this run's unique key.
    """

    def __init__(self, settings: Mapping[str, Any], prefix: str) -> None:
        self.auditctl = str(settings.get("auditctl") or shutil.which("auditctl") or "auditctl")
        self.log_path = Path(str(settings.get("audit_log") or DEFAULT_LOG))
        self.key = str(settings.get("audit_key") or f"{prefix}{uuid.uuid4().hex[:12]}")
        self.wait = float(settings.get("audit_wait", 2.0))
        self._offset = self._size()
        self._events: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def _size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    def _read_new(self) -> None:
        size = self._size()
        if size < self._offset:  # rotated
            self._offset = 0
        if size == self._offset:
            return
        with self.log_path.open("rb") as handle:
            handle.seek(self._offset)
            data = handle.read(min(_MAX_READ, size - self._offset))
        cut = data.rfind(b"\n") + 1
        self._offset += cut
        for raw in data[:cut].decode("utf-8", errors="replace").splitlines():
            parsed = parse_line(raw)
            if parsed is None:
                continue
            kind, stamp, serial, fields = parsed
            event = self._events.setdefault(serial, {"time": float(stamp), "paths": [], "cwd": ""})
            if kind == "SYSCALL":
                event["syscall"] = fields
            elif kind == "PATH" and "name" in fields:
                event["paths"].append(_value(fields["name"]))
            elif kind == "CWD":
                event["cwd"] = _value(fields.get("cwd", ""))
            elif kind == "PROCTITLE":
                event["proctitle"] = _value(fields.get("proctitle", "")).replace("\x00", " ").strip()
        while len(self._events) > _MAX_EVENTS:
            self._events.popitem(last=False)

    def _match(self, host: str, key: str) -> dict[str, Any] | None:
        for event in reversed(self._events.values()):
            syscall = event.get("syscall")
            if not syscall or _value(syscall.get("key", "")) != key:
                continue
            cwd = event.get("cwd", "")
            for name in event["paths"]:
                full = os.path.normpath(name if name.startswith("/") else os.path.join(cwd, name))
                if full == host:
                    return event
        return None

    def prepare(self) -> None:
        """Read the log until it stops growing for a moment (bounded by ``audit_wait``) before a batch of ``who``."""
        deadline = time.monotonic() + self.wait
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            before = self._offset
            self._read_new()
            now = time.monotonic()
            if self._offset != before:
                quiet_since = now
            elif now - quiet_since >= 0.2:
                return
            time.sleep(0.05)


class AuditAttributor(AuditLogReader):
    """Audit watch rules for one FIM policy and the log reader that answers ``who``."""

    def __init__(
        self,
        root: Path,
        policy: Policy,
        settings: Mapping[str, Any],
        log: logging.Logger,
        state_dir: Path | None = None,
    ) -> None:
        super().__init__(settings, "sw-fim-")
        self.root = root
        self.key_file = None if state_dir is None else state_dir / "audit.key"
        self.policy = policy
        self.log = log
        self.installed: list[str] = []

    def _forget_previous(self) -> None:
        """Delete the rules a previous run of this agent left (killed before ``stop``), by its recorded key."""
        if self.key_file is None:
            return
        try:
            previous = self.key_file.read_text(encoding="utf-8").strip()
        except OSError:
            previous = ""
        if previous.startswith("sw-fim-") and previous != self.key:
            subprocess.run([self.auditctl, "-D", "-k", previous], capture_output=True, timeout=10, check=False)
        self.key_file.write_text(self.key, encoding="utf-8")

    def install(self) -> None:
        """One ``auditctl -w PATH -p wa -k KEY`` per existing top rule path; ``OSError`` if one fails.

        The key is recorded in the state directory first, so rules left by a killed agent are deleted
        by its next start.
        """
        self._forget_previous()
        for top in top_paths(self.policy):
            host = os.path.join(self.root, *split(top))
            if not os.path.lexists(host):
                continue
            out = subprocess.run(
                [self.auditctl, "-w", host, "-p", "wa", "-k", self.key],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            )
            if out.returncode != 0:
                self.remove()
                raise OSError(f"auditctl -w {host}: {out.stderr.strip()[:200]}")
            self.installed.append(host)

    def remove(self) -> None:
        """Delete every rule with this run's key."""
        if not self.installed:
            return
        subprocess.run([self.auditctl, "-D", "-k", self.key], capture_output=True, timeout=10, check=False)
        self.installed = []

    def who(self, path: str, kind: str) -> Mapping[str, Any] | None:
        """The process behind the latest audited change of ``path``, or ``None`` (never a guess)."""
        self._read_new()
        event = self._match(os.path.normpath(os.path.join(self.root, *split(path))), self.key)
        return None if event is None else describe(event)


def describe(event: Mapping[str, Any]) -> dict[str, Any]:
    """The process of one audit event: user, uid, pids, exe, comm, masked command line, syscall."""
    from shieldwall.agent.modules.fim.textdiff import mask

    syscall: Mapping[str, str] = event["syscall"]

    def number(name: str) -> int | None:
        try:
            return int(syscall.get(name, ""))
        except ValueError:
            return None

    uid = number("uid")
    user = _value(syscall.get("_UID", "")) or _user_name(uid)
    proctitle = str(event.get("proctitle", ""))
    return {
        "user": user,
        "uid": uid,
        "auid": number("auid"),
        "pid": number("pid"),
        "ppid": number("ppid"),
        "exe": _value(syscall.get("exe", "")),
        "comm": _value(syscall.get("comm", "")),
        "cmdline": mask(proctitle.encode(), "proctitle")[:1024] if proctitle else "",
        "syscall": syscall.get("syscall", ""),
        "success": syscall.get("success", ""),
        "audit_time": event["time"],
    }


def _user_name(uid: int | None) -> str:
    if uid is None or uid == 4294967295:
        return ""
    import pwd

    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)
