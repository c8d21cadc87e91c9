"""The CLI: formats, outputs, exit codes and one-line diagnoses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from helpers.images import build_docker_archive

OS_RELEASE = b'ID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME="Alpine Linux v3.19"\n'


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "shieldwall", *args], capture_output=True, text=True, timeout=120)


def test_scan_json_and_outputs(tmp_path: Path) -> None:
    archive = build_docker_archive(tmp_path / "i.tar", [{"/etc/os-release": OS_RELEASE}])
    out_json = tmp_path / "r.json"
    out_table = tmp_path / "r.txt"
    proc = run(
        "scan", str(archive), "-q", "--format", "json", "--output", f"json={out_json}", "--output", f"table={out_table}"
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["os"]["family"] == "alpine" and doc["target"]["tags"] == ["example/app:1.0"]
    assert json.loads(out_json.read_text())["os"]["version"] == "3.19.1"
    assert "Alpine Linux v3.19" in out_table.read_text()


def test_corrupt_input_exit_2_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tar"
    bad.write_bytes(b"garbage" * 50)
    proc = run("scan", f"docker-archive:{bad}")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().startswith("error:") and len(proc.stderr.strip().splitlines()) <= 2


def test_missing_target_exit_2() -> None:
    proc = run("scan", "/nonexistent/path/xyz")
    assert proc.returncode == 2 and "error:" in proc.stderr


def test_unknown_output_format_exit_2(tmp_path: Path) -> None:
    proc = run("scan", str(tmp_path), "--output", "pdf=x.pdf")
    assert proc.returncode == 2 and "unknown output format" in proc.stderr


def test_version() -> None:
    proc = run("version")
    assert proc.returncode == 0 and proc.stdout.strip()


def test_output_files_leave_only_the_summary_line_on_stdout(tmp_path: Path) -> None:
    archive = build_docker_archive(tmp_path / "i.tar", [{"/etc/os-release": OS_RELEASE}])
    out_json = tmp_path / "r.json"
    proc = run("scan", str(archive), "--scanners", "secret", "--output", f"json={out_json}")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("shieldwall: ") and "active finding(s)" in lines[0]
    assert "shieldwall: " not in proc.stderr  # said once
    assert json.loads(out_json.read_text())["target"]["tags"] == ["example/app:1.0"]
    # a format asked for explicitly is still printed
    asked = run("scan", str(archive), "--scanners", "secret", "-f", "json", "--output", f"json={out_json}")
    assert json.loads(asked.stdout)["target"]["tags"] == ["example/app:1.0"]


def test_quiet_prints_nothing_but_errors(tmp_path: Path) -> None:
    archive = build_docker_archive(tmp_path / "i.tar", [{"/etc/os-release": OS_RELEASE}])
    proc = run("scan", str(archive), "--scanners", "secret", "-q", "--output", f"json={tmp_path / 'r.json'}")
    assert proc.returncode == 0 and proc.stdout == "" and proc.stderr == ""
    bare = run("scan", str(archive), "--scanners", "secret", "-q")
    assert bare.returncode == 0 and bare.stdout == "" and bare.stderr == ""
    app = tmp_path / "app"
    app.mkdir()
    (app / "requirements.txt").write_text("jinja2==2.7.1\n")
    failing = run("scan", f"dir:{app}", "-q")  # no advisory database: the error is still printed
    assert failing.returncode == 2 and failing.stdout == "" and "not evaluated" in failing.stderr
