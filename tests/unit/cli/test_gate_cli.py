"""The gate through the CLI: one test per documented exit code, config show, scan-files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shieldwall.cli.main import EXIT_INPUT, EXIT_INTERNAL, EXIT_OK, EXIT_POLICY, app

TOKEN = "ghp_4Zq8mR2vK7nW1xT9bL3cH6dJ0fP5sY8uQ2aE"  # a made-up token in GitHub's format


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shieldwall", *args], capture_output=True, text=True, timeout=120, cwd=cwd
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    (root / "app.env").write_text(f"TOKEN={TOKEN}\n")
    return root


def test_exit_0_when_gate_passes(repo: Path) -> None:
    (repo / "app.env").write_text("NAME=app\n")
    proc = run("scan", ".", "--scanners", "secret", "--fail-on", "low", "-q", "--format", "json", cwd=repo)
    assert proc.returncode == EXIT_OK, proc.stderr
    assert json.loads(proc.stdout)["gate"]["passed"] is True


def test_exit_1_on_policy_failure_with_reason(repo: Path) -> None:
    proc = run("scan", ".", "--scanners", "secret", "--fail-on", "high", "--format", "json", cwd=repo)
    assert proc.returncode == EXIT_POLICY
    assert "policy fail-on high: CRITICAL github-pat" in proc.stderr
    assert "gate: FAILED (1 violation(s))" in proc.stderr
    assert json.loads(proc.stdout)["gate"]["failures"][0]["rule_id"] == "github-pat"


def test_no_gate_configured_is_exit_0(repo: Path) -> None:
    proc = run("scan", ".", "--scanners", "secret", "-q", "--format", "json", cwd=repo)
    assert proc.returncode == EXIT_OK and json.loads(proc.stdout)["gate"]["policies"] == []


@pytest.mark.parametrize(
    ("args", "files", "needle"),
    [
        (["--fail-on", "severe"], {}, "flag --fail-on: fail_on"),
        (
            ["--policy", "policy.yaml"],
            {"policy.yaml": "name: empty\n"},
            "policy.yaml:1: policy 'empty' has no fail_when",
        ),
        ([], {"shieldwall.yaml": "fail_on: high\ncolour: red\n"}, "shieldwall.yaml:2: colour: unknown key"),
        ([], {".shieldwallignore.yaml": "exceptions:\n  - id: X\n"}, ".shieldwallignore.yaml:2: exceptions.0.reason"),
        (["--vex", "missing.json"], {}, "missing.json: VEX document not found"),
        (["--baseline", "b.json"], {"b.json": "[]"}, "not a Shieldwall JSON report"),
        (["--output", "pdf=x.pdf"], {}, "unknown output format"),
        (["--scanners", "antivirus"], {}, "unknown scanner(s) antivirus"),
    ],
)
def test_exit_2_on_usage_or_input_error(repo: Path, args: list[str], files: dict[str, str], needle: str) -> None:
    for name, text in files.items():
        (repo / name).write_text(text)
    proc = run("scan", ".", *args, cwd=repo)
    assert proc.returncode == EXIT_INPUT, proc.stderr
    assert needle in proc.stderr and "Traceback" not in proc.stderr


def test_exit_3_on_internal_error(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("shieldwall.cli.main.scan_target", broken)
    monkeypatch.chdir(repo)
    result = CliRunner().invoke(app, ["scan", ".", "--fail-on", "high"])
    assert result.exit_code == EXIT_INTERNAL
    assert "internal error: RuntimeError: boom" in result.output


def test_config_file_policy_and_outputs(repo: Path) -> None:
    (repo / "shieldwall.yaml").write_text(
        "scanners: [secret]\noutputs: [sarif=out/r.sarif, junit=out/r.xml, markdown=out/r.md, html=out/r.html]\n"
        "policy:\n  fail_when:\n    any:\n      - secret: true\n"
    )
    sub = repo / "deeper"
    sub.mkdir()
    (sub / "x.txt").write_text("nothing\n")
    proc = run("scan", str(repo), "-q", cwd=sub)  # config found at the git root
    assert proc.returncode == EXIT_POLICY, proc.stderr
    for name in ("r.sarif", "r.xml", "r.md", "r.html"):
        assert (sub / "out" / name).stat().st_size > 0


def test_exceptions_flag_suppresses(repo: Path) -> None:
    (repo / "judged.yaml").write_text(
        "exceptions:\n  - id: github-pat\n    reason: test token\n    by: me\n    expires: 2999-01-01\n"
    )
    proc = run(
        "scan", ".", "--scanners", "secret", "--fail-on", "low", "--exceptions", "judged.yaml", "-q", "--format",
        "json", cwd=repo,
    )  # fmt: skip
    assert proc.returncode == EXIT_OK, proc.stderr
    (finding,) = json.loads(proc.stdout)["findings"]
    assert finding["active"] is False and finding["suppressions"][0]["reason"] == "test token"


def test_config_show_origins(repo: Path) -> None:
    (repo / "shieldwall.yaml").write_text("scanners: [secret]\nfail_on: medium\n")
    proc = subprocess.run(
        [sys.executable, "-m", "shieldwall", "config", "show", "--json"],
        capture_output=True,
        text=True,
        cwd=repo,
        env={**__import__("os").environ, "SHIELDWALL_FAIL_ON": "high"},
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    rows = {r["key"]: r for r in json.loads(proc.stdout)["settings"]}
    assert rows["scanners"]["value"] == ["secret"] and rows["scanners"]["origin"].endswith("shieldwall.yaml:1")
    assert rows["fail_on"] == {"key": "fail_on", "value": "HIGH", "origin": "env SHIELDWALL_FAIL_ON"}
    assert rows["format"]["origin"] == "default"
    text = run("config", "show", cwd=repo).stdout
    assert "scanners" in text and "shieldwall.yaml:1" in text


def test_config_show_invalid_is_exit_2(repo: Path) -> None:
    (repo / "shieldwall.yaml").write_text("fail_on: sometimes\n")
    proc = run("config", "show", cwd=repo)
    assert proc.returncode == EXIT_INPUT and "shieldwall.yaml:1: fail_on" in proc.stderr


def test_scan_files_only_scans_given_files(repo: Path) -> None:
    (repo / "clean.txt").write_text("hello\n")
    assert run("scan-files", "clean.txt", "--fail-on", "low", "-q", cwd=repo).returncode == EXIT_OK
    proc = run("scan-files", "clean.txt", "app.env", "--fail-on", "low", "-q", cwd=repo)
    assert proc.returncode == EXIT_POLICY and "github-pat" in proc.stderr
    assert run("scan-files", "../outside.txt", cwd=repo).returncode == EXIT_INPUT
