"""Write a report where ``--output FORMAT=PATH`` says, without ever replacing what is not a regular file.

A regular file (or a new one) is written atomically: a temporary file in the
same directory, then a rename over it. A device, FIFO or terminal
(``/dev/null``, ``/dev/stdout``, a named pipe a CI step reads) is written
into: renaming over it would replace the system's ``/dev/null`` with a
regular file when run as root. A symbolic link to a regular file is
followed, and its target is replaced, never the link itself.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import tempfile
from pathlib import Path


def write_report(text: str, path: str) -> None:
    """Write ``text`` to ``path`` (``-`` is stdout); see the module docstring for the rules."""
    if path == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    out = Path(path)
    try:
        mode = out.stat().st_mode  # follows symbolic links
    except FileNotFoundError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(f"{path} is a directory")
        # O_APPEND-free plain write, no O_CREAT: the device or FIFO exists and stays what it is.
        fd = os.open(out, os.O_WRONLY | getattr(os, "O_NOCTTY", 0))
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        return
    target = out.resolve() if out.is_symlink() else out
    if not target.parent.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.fchmod(fd, stat.S_IMODE(mode) if mode is not None else 0o666 & ~_umask())
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
