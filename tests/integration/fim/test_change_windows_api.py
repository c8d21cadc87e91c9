"""`shieldwall fim expect` against a real `serve` API: a window is stored, audited, and classifies events."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.api_server import ApiServer, api_settings, tokens
from shieldwall.api.tokens import Role
from shieldwall.store import Store

pytestmark = pytest.mark.integration
SRC = Path(__file__).resolve().parents[3] / "src"


@pytest.fixture
def api(tmp_path: Path) -> Iterator[ApiServer]:
    store = Store.open(f"sqlite:///{tmp_path / 'store.db'}", audit_key_path=tmp_path / "audit-key.pem")
    (tmp_path / "data").mkdir()
    (tmp_path / "cache").mkdir()
    server = ApiServer.start(store, api_settings(tmp_path / "data", tmp_path / "cache"))
    server.tokens = tokens(store)
    try:
        yield server
    finally:
        server.stop()
        store.close()


def cli(api: ApiServer, token: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(SRC),
        "SHIELDWALL_API_URL": api.url,
        "SHIELDWALL_API_TOKEN": token,
        "GITHUB_RUN_ID": "",
        "CI_PIPELINE_ID": "",
    }
    return subprocess.run(
        [sys.executable, "-m", "shieldwall", "fim", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_expect_from_ci_then_classify(api: ApiServer) -> None:
    operator = api.tokens[Role.OPERATOR]
    done = cli(api, operator, "expect", "--env", "prod", "--host", "web-*", "--path", "/srv/app", "--for", "15m",
               "--deploy-id", "pipeline-77")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "pipeline-77" in done.stdout and operator not in done.stdout + done.stderr

    with api.client(Role.VIEWER) as client:
        (window,) = client.get("/api/v1/fim/windows", params={"active": "true"}).json()
        assert (window["environment"], window["host"], window["path"]) == ("prod", "web-*", "/srv/app")
        now = dt.datetime.now(dt.UTC).isoformat()
        body = {"host": "web-2", "environment": "prod", "path": "/srv/app/app.py", "observed_at": now}
        assert client.post("/api/v1/fim/classify", json=body).json() == {
            "expected": True,
            "label": "expected (pipeline-77)",
            "deploy_id": "pipeline-77",
            "window_id": window["id"],
        }
        other = client.post("/api/v1/fim/classify", json={**body, "path": "/etc/shadow"}).json()
        assert other["expected"] is False and other["label"] == "unexpected"
        assert client.post("/api/v1/fim/windows", json={}).status_code == 403  # viewers cannot open windows
        events = client.get("/api/v1/audit/events", params={"action": "fim.window.created"}).json()["items"]
        assert events and "test-operator" in events[0]["actor"]  # the token's name is the actor

    listed = cli(api, api.tokens[Role.VIEWER], "windows", "--env", "prod")
    assert listed.returncode == 0 and '"pipeline-77"' in listed.stdout
    closed = cli(api, operator, "close", str(window["id"]))
    assert closed.returncode == 0, closed.stderr
    with api.client(Role.VIEWER) as client:
        assert client.get("/api/v1/fim/windows", params={"active": "true"}).json() == []


def test_refusals_are_exit_code_2(api: ApiServer) -> None:
    args = ("expect", "--env", "prod", "--host", "*", "--path", "/srv", "--deploy-id", "d")
    assert cli(api, "not-a-token", *args).returncode == 2
    assert cli(api, api.tokens[Role.VIEWER], *args).returncode == 2  # 403
    bad_path = cli(
        api, api.tokens[Role.OPERATOR], "expect", "--env", "p", "--host", "*", "--path", "rel", "--deploy-id", "d"
    )
    assert bad_path.returncode == 2 and "absolute" in bad_path.stderr
    assert cli(api, api.tokens[Role.OPERATOR], *args, "--for", "soon").returncode == 2
    no_id = cli(api, api.tokens[Role.OPERATOR], "expect", "--env", "p", "--host", "*", "--path", "/srv")
    assert no_id.returncode == 2 and "deploy ID" in no_id.stderr
    with api.client() as client:
        assert client.get("/api/v1/fim/windows").status_code == 401


def test_the_github_template_command_works(api: ApiServer) -> None:
    import shlex

    import yaml

    template = Path(__file__).resolve().parents[3] / "integrations" / "fim" / "github-deploy.yml"
    job = yaml.safe_load(template.read_text())["jobs"]["deploy"]
    (line,) = [s["run"] for s in job["steps"] if "shieldwall fim expect" in s.get("run", "")]
    env = {k: v for k, v in job["env"].items() if not k.startswith("SHIELDWALL_")}
    env["GITHUB_RUN_ID"] = "4242"
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        argv = [os.path.expandvars(a) for a in shlex.split(line)]
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    assert argv[:3] == ["shieldwall", "fim", "expect"]
    done = cli(api, api.tokens[Role.OPERATOR], *argv[2:])
    assert done.returncode == 0, done.stderr
    assert "web-*" in done.stdout and "deploy 4242" in done.stdout
