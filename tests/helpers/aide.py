"""Debian's ``aide`` on a private configuration and database (never /etc/aide or /var/lib/aide)."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

AIDE_NORMAL = "ftype+p+i+u+g+s+sha256+l+xattrs"
"""AIDE attributes matching the FIM ``normal`` group (type, mode, inode, owner, group, size, hash, target, xattrs)."""


@dataclass(frozen=True)
class AideRun:
    """A private AIDE setup: configuration, database and the watched directories."""

    workdir: Path
    conf: Path

    def init(self) -> None:
        """``aide --init`` and move the new database into place."""
        subprocess.run(["aide", "--init", "-c", str(self.conf)], check=True, capture_output=True, timeout=3600)
        (self.workdir / "aide.db.new").replace(self.workdir / "aide.db")

    def check(self) -> dict[str, set[str]]:
        """``aide --check``: the added, removed and changed paths (exit codes 0-7 are results, not errors)."""
        out = subprocess.run(["aide", "--check", "-c", str(self.conf)], capture_output=True, text=True, timeout=3600)
        if out.returncode >= 14 or out.returncode < 0:
            raise RuntimeError(f"aide --check failed ({out.returncode}): {out.stderr[:500]}")
        report = json.loads(out.stdout) if out.stdout.strip() else {}
        return {k: set((report.get(k) or {}).keys()) for k in ("added", "removed", "changed")}


def aide_for(workdir: Path, directories: list[Path], group: str = AIDE_NORMAL) -> AideRun:
    """A configuration watching ``directories`` with ``group`` (paths must be plain: letters, digits, / _ -)."""
    if shutil.which("aide") is None:
        pytest.skip("aide is not installed (Debian package aide)")
    for directory in directories:
        if not all(c.isalnum() or c in "/_-" for c in str(directory)):
            raise ValueError(f"{directory}: AIDE selection lines are regular expressions; use a plain path")
    lines = [
        f"database_in=file:{workdir}/aide.db",
        f"database_out=file:{workdir}/aide.db.new",
        "report_format=json",
        "report_url=stdout",
        f"FIMNORMAL = {group}",
        *(f"{d} FIMNORMAL" for d in directories),
    ]
    conf = workdir / "aide.conf"
    conf.write_text("\n".join(lines) + "\n")
    return AideRun(workdir, conf)
