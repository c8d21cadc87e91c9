"""``shieldwall ips validate`` and ``rules-for``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shieldwall.cli.main import app

pytestmark = pytest.mark.integration


def test_validate_accepts_and_refuses(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"modules": {"ips": {"mode": "prevent"}}}))
    result = CliRunner().invoke(app, ["ips", "validate", str(good)])
    assert result.exit_code == 0, result.output
    assert "valid: 12 rules {'drop': 12}" in result.output
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"custom_rules": ['alert http any any -> any any (msg:"x"; contentt:"y"; sid:9;)']}))
    refused = CliRunner().invoke(app, ["ips", "validate", str(bad)])
    assert refused.exit_code == 1 and "unknown rule keyword 'contentt'" in refused.output
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    assert CliRunner().invoke(app, ["ips", "validate", str(broken)]).exit_code == 2


def test_rules_for() -> None:
    result = CliRunner().invoke(app, ["ips", "rules-for", "cve-2014-6271", "CVE-2099-0001"])
    assert result.exit_code == 0
    assert "CVE-2014-6271: 1995010 [shieldwall]" in result.output
    assert "CVE-2099-0001: no network shield" in result.output
