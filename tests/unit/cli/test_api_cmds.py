"""``shieldwall token create|list|revoke`` against the SQLite store of the test's data directory."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from shieldwall.api.tokens import authenticate
from shieldwall.cli.main import app
from shieldwall.store import Store


def test_create_list_and_revoke_a_token() -> None:
    runner = CliRunner()
    created = runner.invoke(app, ["token", "create", "--role", "operator", "--name", "ci"])
    assert created.exit_code == 0, created.output
    token = created.stdout.strip().splitlines()[-1]
    assert token.startswith("swt_")
    with Store.open() as store:
        record = authenticate(store, token)
    assert record is not None and record.role == "operator"
    listed = runner.invoke(app, ["token", "list", "--format", "json"])
    assert [t["name"] for t in json.loads(listed.stdout)] == ["ci"]
    assert token not in listed.stdout
    revoked = runner.invoke(app, ["token", "revoke", record.id])
    assert revoked.exit_code == 0
    with Store.open() as store:
        assert authenticate(store, token) is None
    again = runner.invoke(app, ["token", "revoke", record.id])
    assert again.exit_code == 2


def test_an_unknown_role_is_a_usage_error() -> None:
    result = CliRunner().invoke(app, ["token", "create", "--role", "root", "--name", "x"])
    assert result.exit_code == 2
