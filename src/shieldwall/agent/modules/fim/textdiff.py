"""Small text files for diffs: read bounded, secrets masked by the secret engine, unified diff.

The baseline keeps the masked text of small text files whose rule asks for a
diff (``diff: true``), never the raw bytes, so neither the state directory
nor an event ever holds a full secret. Binary files (a NUL byte or invalid
UTF-8) and files above ``diff_max_bytes`` get no diff.
"""

from __future__ import annotations

import difflib
import os
import threading

from shieldwall.analyze.secret.engine import SecretEngine
from shieldwall.analyze.secret.fingerprint import redact

MAX_DIFF_LINES = 400
_engine_lock = threading.Lock()
_engine: list[SecretEngine] = []


def secret_engine() -> SecretEngine:
    """The bundled secret rules (built once per process; Hyperscan when available)."""
    with _engine_lock:
        if not _engine:
            from shieldwall.analyze.secret.config import SecretsConfig, build_ruleset

            ruleset = build_ruleset(SecretsConfig())
            _engine.append(SecretEngine(ruleset.rules, ruleset.allowlist))
        return _engine[0]


def mask(data: bytes, path: str) -> str:
    """``data`` as text with every secret the engine confirms replaced by its redacted form."""
    matches = secret_engine().scan(data, path, binary=False)
    out: list[bytes] = []
    last = 0
    for match in sorted(matches, key=lambda m: m.start):
        if match.start < last:
            continue
        out.append(data[last : match.start])
        out.append(redact(match.secret).encode())
        last = match.end
    out.append(data[last:])
    return b"".join(out).decode("utf-8")


def read_text(name: str, dir_fd: int, limit: int) -> bytes | None:
    """The bytes of a small text file (``O_NOFOLLOW``), or ``None`` when larger than ``limit`` or binary."""
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        data = os.read(fd, limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit or b"\x00" in data:
        return None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return data


def unified(old: str | None, new: str | None, path: str) -> str:
    """A unified diff of two masked texts (``None`` = absent), at most ``MAX_DIFF_LINES`` lines."""
    lines = list(
        difflib.unified_diff(
            (old or "").splitlines(keepends=True),
            (new or "").splitlines(keepends=True),
            fromfile=f"a{path}" if old is not None else "/dev/null",
            tofile=f"b{path}" if new is not None else "/dev/null",
        )
    )
    if len(lines) > MAX_DIFF_LINES:
        lines = [*lines[:MAX_DIFF_LINES], f"... {len(lines) - MAX_DIFF_LINES} more diff lines\n"]
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)
