"""The store commands end to end (in process): scan --store, findings, assets, rematch, audit verify/export."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from helpers.images import build_docker_archive
from helpers.store_data import CRITICAL_VECTOR, osv
from helpers.store_fixtures import postgres_server, store_url
from shieldwall import paths
from shieldwall.cli.main import app
from shieldwall.store import Store
from shieldwall.vulndb.model import SourceInfo
from shieldwall.vulndb.store import VulnDB, default_db_path

__all__ = ["postgres_server", "store_url"]

OS_RELEASE = b'NAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n'
METADATA = b"Metadata-Version: 2.1\nName: Jinja2\nVersion: 2.11.2\n"
JINJA = osv("PYSEC-2021-66", "PyPI", "jinja2", "2.11.3", cvss=CRITICAL_VECTOR, aliases=("CVE-2020-28493",))
OTHER = osv("PYSEC-0000-1", "PyPI", "requests", "2.0.0", cvss=CRITICAL_VECTOR)


@pytest.fixture
def cli_env(store_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("SHIELDWALL_DATABASE_URL", store_url)
    monkeypatch.setenv("SHIELDWALL_ACTOR", "tester")
    return store_url


def _invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def _image(tmp_path: Path) -> Path:
    layers = [
        {"etc/os-release": OS_RELEASE},
        {"usr/lib/python3/dist-packages/Jinja2-2.11.2.dist-info/METADATA": METADATA},
    ]
    return build_docker_archive(tmp_path / "image.tar", layers, tag="example/app:1.0")


def _db(*advisories: object) -> None:
    with VulnDB.build(default_db_path()) as writer:
        writer.replace_source(SourceInfo("test"), list(advisories))  # type: ignore[arg-type]


def test_scan_store_findings_assets_and_audit(cli_env: str, tmp_path: Path) -> None:
    _db(JINJA)
    code, _, err = _invoke("scan", str(_image(tmp_path)), "--store", "--format", "json")
    assert code == 0, err
    assert "stored scan" in err
    code, out, _ = _invoke("findings", "--kind", "vulnerability", "--format", "json")
    assert code == 0
    [finding] = json.loads(out)
    assert finding["rule_id"] == "CVE-2020-28493" and finding["status"] == "open"
    assert finding["package"] == "Jinja2" and finding["fixed_version"] == "2.11.3"
    assert json.loads(_invoke("findings", "-k", "vulnerability", "--severity", "LOW", "--format", "json")[1]) == []
    kinds = {f["kind"] for f in json.loads(_invoke("findings", "--format", "json")[1])}
    assert kinds == {"vulnerability", "misconfig"}  # the image config checks (root user, no health check)
    assert json.loads(_invoke("findings", "--kind", "vulnerability", "--status", "active", "-f", "json")[1])
    code, out, _ = _invoke("findings")
    assert "CVE-2020-28493" in out
    code, out, _ = _invoke("assets", "--format", "json")
    [asset] = json.loads(out)
    assert asset["open_findings"] == 3 and asset["packages"] == 1
    code, out, _ = _invoke("assets", "golden", str(asset["id"]), "--on")
    assert code == 0 and "golden=yes" in out
    assert json.loads(_invoke("assets", "--golden", "--format", "json")[1])[0]["id"] == asset["id"]
    code, out, _ = _invoke("audit", "verify")
    assert code == 0 and "intact" in out
    code, out, _ = _invoke("audit", "export", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["action"] for r in rows] == ["scan.recorded", "asset.changed"]
    assert rows[0]["actor"] == "tester"
    exported = tmp_path / "trail.jsonl"
    assert _invoke("audit", "export", "-o", str(exported))[0] == 0
    assert len(exported.read_text().splitlines()) == 2


def test_audit_verify_fails_on_tampering(cli_env: str, tmp_path: Path) -> None:
    _db(JINJA)
    _invoke("scan", str(_image(tmp_path)), "--store", "-q", "--format", "json")
    _invoke("audit", "checkpoint")
    store = Store.open(cli_env)
    try:
        with store.engine.begin() as conn:
            conn.execute(text("UPDATE audit_events SET target = 'image:forged' WHERE seq = 1"))
    finally:
        store.close()
    code, _, err = _invoke("audit", "verify")
    assert code == 1
    assert "BROKEN at event 1" in err
    code, out, _ = _invoke("audit", "verify", "--format", "json")
    assert code == 1 and json.loads(out)["broken"]["seq"] == 1


def test_rematch_after_a_database_update(cli_env: str, tmp_path: Path) -> None:
    _db(OTHER)
    assert _invoke("scan", str(_image(tmp_path)), "--store", "-q", "--format", "json")[0] == 0
    assert json.loads(_invoke("findings", "-k", "vulnerability", "-f", "json")[1]) == []
    _db(OTHER, JINJA)
    code, out, err = _invoke("rematch", "--format", "json")
    assert code == 0, err
    report = json.loads(out)
    assert report["new"] == 1 and report["package_rows_read"] == 1 and not report["full"]
    vulns = json.loads(_invoke("findings", "-k", "vulnerability", "-f", "json")[1])
    assert [f["rule_id"] for f in vulns] == ["CVE-2020-28493"]
    code, out, _ = _invoke("rematch", "--all")
    assert code == 0 and "0 new" in out and "full" in out
    assert paths.data_dir().is_dir()


def test_unknown_filters_are_usage_errors(cli_env: str) -> None:
    code, _, err = _invoke("findings", "--severity", "bad")
    assert code == 2 and "unknown severity" in err
    code, _, err = _invoke("findings", "--asset", "sha256:nothing")
    assert code == 2 and "no asset matches" in err
