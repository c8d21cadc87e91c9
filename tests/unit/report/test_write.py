"""Reports are written into devices and FIFOs, never renamed over them; regular files are replaced atomically."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from shieldwall.report.write import write_report


def _drain(fifo: Path, into: list[bytes]) -> threading.Thread:
    def read() -> None:
        with fifo.open("rb") as handle:
            into.append(handle.read())

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


def test_a_fifo_is_written_into_and_stays_a_fifo(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    thread = _drain(fifo, got)
    write_report('{"ok": true}\n', str(fifo))
    thread.join(10)
    assert got == [b'{"ok": true}\n']
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert [p.name for p in tmp_path.iterdir()] == ["pipe"]  # no temporary file left behind


def test_a_symlink_to_a_fifo_keeps_both(tmp_path: Path) -> None:
    """The shape of ``/dev/stdout`` (a link to a pipe): write through it, replace neither."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    link = tmp_path / "stdout"
    link.symlink_to(fifo)
    got: list[bytes] = []
    thread = _drain(fifo, got)
    write_report("report\n", str(link))
    thread.join(10)
    assert got == [b"report\n"]
    assert link.is_symlink() and stat.S_ISFIFO(fifo.lstat().st_mode)


def test_regular_files_are_replaced_atomically_keeping_their_mode(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "report.json"
    write_report("one", str(out))
    assert out.read_text() == "one"
    out.chmod(0o640)
    write_report("two", str(out))
    assert out.read_text() == "two" and stat.S_IMODE(out.stat().st_mode) == 0o640
    real = tmp_path / "real.json"
    real.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    write_report("new", str(link))
    assert link.is_symlink() and real.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.json", "real.json", "sub"]


def test_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError):
        write_report("x", str(tmp_path))


def test_scan_output_into_a_fifo_from_the_cli(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "README").write_text("nothing here\n")
    fifo = tmp_path / "out.json"
    os.mkfifo(fifo)
    got: list[bytes] = []
    thread = _drain(fifo, got)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "shieldwall",
            "scan",
            f"dir:{tmp_path / 'app'}",
            "-q",
            "--scanners",
            "secret",
            "--output",
            f"json={fifo}",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    thread.join(10)
    assert proc.returncode == 0, proc.stderr
    assert got and got[0].startswith(b"{") and stat.S_ISFIFO(fifo.lstat().st_mode)
