"""Drift rules over (path, change, stat): a table of what must and must not be drift."""

from __future__ import annotations

import base64
import io
import json
import tarfile

import pytest

from shieldwall.agent.modules.drift.classify import ADDED, DELETED, MODIFIED, classify, ignored, readonly_paths
from shieldwall.agent.modules.drift.docker import FileStat, _first_bytes, _parse_stat

ELF = b"\x7fELF\x02\x01\x01" + b"\0" * 20
RO = readonly_paths(["/usr/", "/opt/app"], {"io.shieldwall.drift.readonly": "/srv/www, /data/"})


def regular(path: str, mode: int, head: bytes) -> FileStat:
    return FileStat(path, 100, mode, False, False, "", head)


@pytest.mark.parametrize(
    ("path", "kind", "stat", "expected"),
    [
        ("/usr/local/bin/x", ADDED, regular("/usr/local/bin/x", 0o755, ELF), "drift.executable"),
        ("/app/run", MODIFIED, regular("/app/run", 0o644, ELF), "drift.executable"),
        ("/home/u/tool.sh", ADDED, regular("/home/u/tool.sh", 0o700, b"#!/bin/sh"), "drift.executable"),
        ("/usr/lib/x86_64-linux-gnu/libz.so.1", MODIFIED, regular("/x", 0o644, ELF), "drift.library"),
        ("/opt/plug/libhook.so", ADDED, regular("/x", 0o755, ELF), "drift.library"),
        ("/var/lib/dpkg/status", MODIFIED, None, "drift.package"),
        ("/lib/apk/db/installed", MODIFIED, None, "drift.package"),
        ("/var/lib/dpkg/info/curl:amd64.list", ADDED, regular("/x", 0o644, b"/usr"), "drift.package"),
        ("/etc/passwd", MODIFIED, regular("/etc/passwd", 0o644, b"root:x"), "drift.config"),
        ("/etc/cron.d/job", DELETED, None, "drift.config"),
        ("/srv/www/index.html", ADDED, regular("/x", 0o644, b"<html>"), "drift.readonly"),
        ("/usr/share/doc/x", DELETED, None, "drift.readonly"),
        ("/home/u/notes.txt", ADDED, regular("/x", 0o644, b"hello"), None),
        ("/etc/ssl", MODIFIED, FileStat("/etc/ssl", 0, 0o755, True, False), None),
        ("/var/lib/dpkg/info/curl.list", DELETED, None, None),
        ("/data", MODIFIED, FileStat("/data", 0, 0o755, True, False), None),
    ],
)
def test_classify_table(path: str, kind: int, stat: FileStat | None, expected: str | None) -> None:
    item = classify(path, kind, stat, RO)
    assert (item.kind if item else None) == expected


def test_ignore_globs_cover_directories_and_children() -> None:
    patterns = ("/tmp/*", "/var/log/*")
    assert ignored("/tmp/x/y", patterns) and ignored("/tmp", patterns) and ignored("/var/log", patterns)
    assert not ignored("/tmpfile", patterns) and not ignored("/var/lib/x", patterns)


def test_archive_stat_header_and_first_bytes() -> None:
    header = base64.b64encode(json.dumps({"name": "x", "size": 9, "mode": 0o755, "linkTarget": ""}).encode())
    stat = _parse_stat("/x", header.decode())
    assert stat.mode == 0o755 and not stat.is_dir and stat.size == 9
    directory = _parse_stat("/d", base64.b64encode(json.dumps({"mode": (1 << 31) | 0o755}).encode()).decode())
    assert directory.is_dir
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("a/" + "long-name-" * 20)
        payload = ELF + b"rest"
        info.size = len(payload)
        info.pax_headers = {"comment": "x" * 600}
        tar.addfile(info, io.BytesIO(payload))
    assert _first_bytes(buffer.getvalue()).startswith(b"\x7fELF")
    assert _first_bytes(b"short") == b""
