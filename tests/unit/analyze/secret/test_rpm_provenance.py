"""A secret in a file an rpm installed, unchanged since: distro content by rpm's SHA-256; edited: still active."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

from helpers.secrets import ghp
from shieldwall.service.scan import ScanOptions, scan_target
from unit.analyze.os.test_rpm_analyzer import RPM_INT32, RPM_STRING, RPM_STRING_ARRAY, Value, header_blob


def _rootfs(root: Path, shipped: bytes, edited_original: bytes, edited: bytes) -> Path:
    entries: list[tuple[int, int, Value]] = [
        (1000, RPM_STRING, "tool"),
        (1001, RPM_STRING, "1.0"),
        (1002, RPM_STRING, "1.el9"),
        (1022, RPM_STRING, "noarch"),
        (1035, RPM_STRING_ARRAY, [hashlib.sha256(shipped).hexdigest(), hashlib.sha256(edited_original).hexdigest()]),
        (1116, RPM_INT32, [0, 1]),
        (1117, RPM_STRING_ARRAY, ["defaults.py", "tool.conf"]),
        (1118, RPM_STRING_ARRAY, ["/usr/lib/tool/", "/etc/tool/"]),
        (5011, RPM_INT32, 8),
    ]
    (root / "etc/tool").mkdir(parents=True)
    (root / "etc/os-release").write_text('ID="rocky"\nVERSION_ID="9.4"\n')
    (root / "etc/tool/tool.conf").write_bytes(edited)
    (root / "usr/lib/tool").mkdir(parents=True)
    (root / "usr/lib/tool/defaults.py").write_bytes(shipped)
    (root / "var/lib/rpm").mkdir(parents=True)
    connection = sqlite3.connect(root / "var/lib/rpm/rpmdb.sqlite")
    connection.execute("CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)")
    connection.execute("INSERT INTO Packages (blob) VALUES (?)", (header_blob(entries),))
    connection.commit()
    connection.close()
    return root


def test_unchanged_rpm_file_is_distro_content_and_an_edited_one_is_not(tmp_path: Path) -> None:
    shipped = f'GITHUB_TOKEN = "{ghp()}"\n'.encode()
    original = b"# default configuration\n"
    edited = original + f'token = "{ghp()}"\n'.encode()
    root = _rootfs(tmp_path / "root", shipped, original, edited)
    result = scan_target(f"dir:{root}", ScanOptions(scanners=frozenset({"secret"}), use_cache=False))
    reasons: dict[str, set[str]] = {}
    for finding in result.findings:
        if finding.location is not None:
            reasons.setdefault(finding.location.path, set()).add(finding.suppressed)
    assert reasons["/usr/lib/tool/defaults.py"] == {
        "distro content: /usr/lib/tool/defaults.py belongs to RPM package tool and matches the SHA256 "
        "its package manager recorded"
    }
    assert reasons["/etc/tool/tool.conf"] == {""}  # edited after installation: no longer rpm's bytes
