"""``shieldwall logs test`` on committed fixtures."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from shieldwall.cli.main import app

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "logrules"
LINE = "Dec 10 01:02:02 host testsshd[1]: Accepted password for root from 192.0.2.5 port 22 ssh2\n"


def test_wazuh_and_fail2ban_matches_as_json(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text(LINE + "Jan  5 01:31:41 www demo[12]: bad login for bob from 192.0.2.1 port 22\n")
    result = CliRunner().invoke(
        app,
        [
            "logs",
            "test",
            str(log),
            "--wazuh",
            str(FIXTURES / "wazuh"),
            "--fail2ban",
            str(FIXTURES / "fail2ban" / "demo.conf"),
            "--no-builtin",
        ],
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(x) for x in result.stdout.splitlines() if x.startswith("{")]
    assert [(r["line"], r["engine"], r["rule"]) for r in rows] == [
        (1, "wazuh", "100106"),
        (2, "fail2ban", "fail2ban:demo"),
    ]
    assert rows[0]["severity"] == "MEDIUM" and rows[0]["fields"]["user"] == "root"


def test_no_rule_set_is_an_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["logs", "test", "--no-builtin"], input="x\n")
    assert result.exit_code == 1
