"""``shieldwall secrets baseline`` and ``scan --secrets-baseline/--fail-on-secrets``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers.secrets import ghp, token
from shieldwall.analyze.secret.baseline import (
    BaselineEntry,
    SecretsBaseline,
    apply_baseline,
    load_baseline,
    new_secrets,
    write_baseline,
)
from shieldwall.cli.main import app
from shieldwall.errors import ConfigError
from shieldwall.model import Finding, FindingKind, Location, ScanResult, Severity, Target, TargetKind, TargetRef

runner = CliRunner()


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, list[str]]:
    root = tmp_path / "src"
    root.mkdir()
    secrets = [ghp(), "sk_live_" + token(30)]
    (root / "deploy.sh").write_text(f"export GH={secrets[0]}\n")
    (root / "billing.py").write_text(f'STRIPE = "{secrets[1]}"\n')
    return root, secrets


def test_baseline_then_only_new_secrets_fail(tree: tuple[Path, list[str]], tmp_path: Path) -> None:
    root, secrets = tree
    baseline = tmp_path / "baseline.json"
    made = runner.invoke(app, ["secrets", "baseline", f"dir:{root}", "--output", str(baseline)])
    assert made.exit_code == 0, made.output
    text = baseline.read_text()
    assert all(s not in text and s[8:] not in text for s in secrets)
    doc = json.loads(text)
    assert {e["rule_id"] for e in doc["entries"]} == {"github-pat", "stripe-live-secret-key"}
    assert all(e["verdict"] == "unreviewed" for e in doc["entries"])

    # a reviewer marks one entry; a rerun keeps the verdict
    doc["entries"][0]["verdict"] = "false-positive"
    doc["entries"][0]["note"] = "rotated"
    baseline.write_text(json.dumps(doc))
    again = runner.invoke(app, ["secrets", "baseline", f"dir:{root}", "-o", str(baseline), "-q"])
    assert again.exit_code == 0
    kept = load_baseline(baseline).entries
    assert kept[0].verdict == "false-positive" and kept[0].note == "rotated"

    args = ["scan", f"dir:{root}", "--scanners", "secret", "--no-cache", "-f", "json", "-q"]
    clean = runner.invoke(app, [*args, "--secrets-baseline", str(baseline), "--fail-on-secrets"])
    assert clean.exit_code == 0, clean.output
    report = json.loads(clean.stdout)
    secret_findings = [f for f in report["findings"] if f["kind"] == "secret"]
    assert len(secret_findings) == 2 and all(f["suppressions"] for f in secret_findings)

    (root / "new.env").write_text(f"TOKEN={ghp()}\n")
    dirty = runner.invoke(app, [*args, "--secrets-baseline", str(baseline), "--fail-on-secrets"])
    assert dirty.exit_code == 1
    without_flag = runner.invoke(app, [*args, "--secrets-baseline", str(baseline)])
    assert without_flag.exit_code == 0


def test_fail_on_secrets_without_baseline(tree: tuple[Path, list[str]]) -> None:
    root, secrets = tree
    result = runner.invoke(app, ["scan", f"dir:{root}", "--scanners", "secret", "-f", "json", "--fail-on-secrets"])
    assert result.exit_code == 1
    assert all(s not in result.output for s in secrets)


def test_bad_baseline_file_is_a_usage_error(tree: tuple[Path, list[str]], tmp_path: Path) -> None:
    root, _ = tree
    bad = tmp_path / "bad.json"
    bad.write_text('{"entries": [{"fingerprint": "x"}]}')
    result = runner.invoke(app, ["scan", f"dir:{root}", "--scanners", "secret", "--secrets-baseline", str(bad)])
    assert result.exit_code == 2
    with pytest.raises(ConfigError):
        load_baseline(bad)


def test_apply_baseline_marks_only_known_fingerprints(tmp_path: Path) -> None:
    target = Target(TargetRef(TargetKind.DIRECTORY, "x"), "x")
    known = Finding(FindingKind.SECRET, "github-pat", "t", Severity.HIGH, Location("/a"), fingerprint_material="1")
    fresh = Finding(FindingKind.SECRET, "github-pat", "t", Severity.HIGH, Location("/b"), fingerprint_material="2")
    vuln = Finding(FindingKind.VULNERABILITY, "CVE-1", "t", Severity.HIGH, Location("/a"), fingerprint_material="1")
    baseline = SecretsBaseline(
        entries=[
            BaselineEntry(fingerprint=known.fingerprint, kind="secret", rule_id="github-pat", verdict="true-positive")
        ]
    )
    path = tmp_path / "b.json"
    write_baseline(baseline, path)
    applied = apply_baseline(ScanResult(target, findings=(known, fresh, vuln)), load_baseline(path), str(path))
    assert [f.rule_id for f in new_secrets(applied)] == ["github-pat"]
    assert [f.location.path for f in new_secrets(applied)] == ["/b"]  # type: ignore[union-attr]
    assert "true-positive" in applied.findings[0].suppressions[0].reason
    assert applied.findings[2].active
