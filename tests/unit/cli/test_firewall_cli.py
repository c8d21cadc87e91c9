"""``shieldwall firewall explain|compile`` on a committed policy document."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shieldwall.cli.main import app

runner = CliRunner()
POLICY = Path(__file__).parents[2] / "fixtures" / "firewall" / "policy.yaml"


def test_explain_shows_resolved_rules_with_origin() -> None:
    result = runner.invoke(app, ["firewall", "explain", str(POLICY)])
    assert result.exit_code == 0, result.output
    assert "base -> web-prod" in result.output
    lines = [ln for ln in result.output.splitlines() if "│" in ln and ("ssh" in ln or "smb" in ln or "https" in ln)]
    assert [ln.split("│")[1].strip() for ln in lines] == ["deny-smb", "ssh", "https"]
    assert "10.20.5.0/24" in result.output and "dns-out" not in result.output


def test_compile_prints_one_table_batch() -> None:
    result = runner.invoke(app, ["firewall", "compile", str(POLICY)])
    assert result.exit_code == 0, result.output
    batch = json.loads(result.output)
    comments = [c["add"]["rule"]["comment"] for c in batch["nftables"] if "rule" in c.get("add", {})]
    assert comments.count("sw:ssh") == 1 and "sw:https" in comments


def test_invalid_policy_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("use: a\npolicies:\n  a: {parent: b}\n  b: {parent: a}\n")
    result = runner.invoke(app, ["firewall", "explain", str(bad)])
    assert result.exit_code == 2
    assert "cycle" in result.output


@pytest.mark.integration
def test_compile_check_runs_nft_in_a_namespace() -> None:
    if os.geteuid() != 0 or shutil.which("nft") is None:
        pytest.skip("needs root and nft")
    import subprocess
    import uuid

    ns = f"swfw-cli-{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        result = runner.invoke(app, ["firewall", "compile", str(POLICY), "--check", "--netns", ns])
        assert result.exit_code == 0, result.output
        listed = subprocess.run(["ip", "netns", "exec", ns, "nft", "list", "tables"], capture_output=True, text=True)
        assert "shieldwall" not in listed.stdout  # a check commits nothing
    finally:
        subprocess.run(["ip", "netns", "delete", ns], check=False)
