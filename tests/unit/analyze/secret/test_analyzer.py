"""The secret analyzer: redaction, keyed fingerprints, archives, required(), the key file."""

from __future__ import annotations

import functools
import io
import os
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from helpers.secrets import akid, ghp, token
from shieldwall.analyze.base import AnalysisInput, AnalysisResult, AnalyzerError, FileInfo
from shieldwall.analyze.secret.analyzer import SecretAnalyzer, default_secret_analyzer
from shieldwall.analyze.secret.engine import SecretEngine
from shieldwall.analyze.secret.fingerprint import KEY_FILE, Fingerprinter, load_or_create_key, redact
from shieldwall.analyze.secret.rules import builtin_allowlist, builtin_rules
from shieldwall.model import FindingKind


@functools.cache
def _engine() -> SecretEngine:
    return SecretEngine(builtin_rules(), builtin_allowlist())


def analyzer(key: bytes = b"k" * 32) -> SecretAnalyzer:
    return SecretAnalyzer(_engine(), Fingerprinter(key))


def run(a: SecretAnalyzer, path: str, data: bytes) -> AnalysisResult:
    info = FileInfo(path, len(data))
    assert a.required(path, info)
    return a.analyze(AnalysisInput(path, info, lambda: data))


def test_finding_is_redacted_and_fingerprinted() -> None:
    secret = ghp()
    result = run(analyzer(), "/app/deploy.sh", f"export GH={secret}\n".encode())
    (finding,) = result.findings
    assert finding.kind is FindingKind.SECRET and finding.rule_id == "github-pat"
    assert (finding.location.line, finding.location.column, finding.location.end_line) == (1, 11, 1)  # type: ignore[union-attr]
    assert finding.evidence[0].found == "ghp_****(40 chars)"
    assert secret not in repr(finding) and secret[4:] not in finding.message
    assert len(finding.fingerprint_material) == 64 and secret not in finding.fingerprint_material


def test_fingerprint_is_keyed_and_line_independent() -> None:
    secret = ghp()
    one = run(analyzer(), "/a.sh", f"X={secret}\n".encode()).findings[0]
    moved = run(analyzer(), "/a.sh", f"\n\n\nX={secret}\n".encode()).findings[0]
    other_key = run(analyzer(b"z" * 32), "/a.sh", f"X={secret}\n".encode()).findings[0]
    assert one.fingerprint == moved.fingerprint
    assert one.fingerprint_material != other_key.fingerprint_material
    assert analyzer().version != analyzer(b"z" * 32).version


def test_redaction_forms() -> None:
    assert redact(b"hunter22") == "hu****(8 chars)"
    assert redact(b"abc") == "****(3 chars)"
    assert redact(b"-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----").startswith(
        "-----BEGIN RSA PRIVATE KEY-----****("
    )


def test_required_skips_allowlisted_and_empty_files_and_warns_on_huge_ones() -> None:
    a = analyzer()
    assert not a.required("/app/logo.png", FileInfo("/app/logo.png", 10))
    assert not a.required("/app/x.py", FileInfo("/app/x.py", 0))
    assert a.required("/app/x.py", FileInfo("/app/x.py", 10))
    # a huge file is not skipped silently: analyze() refuses it with its size, the runner makes that a warning
    huge = FileInfo("/app/x.log", 10**10)
    assert a.required("/app/x.log", huge)
    with pytest.raises(AnalyzerError, match="10000000000 bytes"):
        a.analyze(AnalysisInput("/app/x.log", huge, lambda: b""))


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_archives_are_scanned_nested() -> None:
    inner = _zip({"BOOT-INF/classes/application.properties": f"aws.key={akid()}\n".encode()})
    outer = _zip({"lib/inner.jar": inner, "config/.env": f"TOKEN={ghp()}\n".encode()})
    tgz = io.BytesIO()
    with tarfile.open(fileobj=tgz, mode="w:gz") as tar:
        info = tarfile.TarInfo("app/bundle.zip")
        info.size = len(outer)
        tar.addfile(info, io.BytesIO(outer))
    result = run(analyzer(), "/opt/release.tar.gz", tgz.getvalue())
    paths = sorted((f.rule_id, f.location.path) for f in result.findings)  # type: ignore[union-attr]
    assert paths == [
        (
            "aws-access-key-id",
            "/opt/release.tar.gz!app/bundle.zip!lib/inner.jar!BOOT-INF/classes/application.properties",
        ),
        ("github-pat", "/opt/release.tar.gz!app/bundle.zip!config/.env"),
    ]


def test_archive_member_climbing_out_is_not_scanned() -> None:
    data = _zip({"../../etc/evil.env": f"TOKEN={ghp()}\n".encode(), "ok.env": f"TOKEN={ghp()}\n".encode()})
    result = run(analyzer(), "/app/x.zip", data)
    assert [f.location.path for f in result.findings] == ["/app/x.zip!ok.env"]  # type: ignore[union-attr]
    assert any("climbs out" in w for w in result.warnings)


def test_key_file_is_created_private_and_reused(tmp_path: Path) -> None:
    key = load_or_create_key(tmp_path / "data")
    path = tmp_path / "data" / KEY_FILE
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_or_create_key(tmp_path / "data") == key and len(key) == 32


def test_default_factory_uses_data_dir_and_project_config(tmp_path: Path, monkeypatch: object) -> None:
    import pytest

    mp = monkeypatch
    assert isinstance(mp, pytest.MonkeyPatch)
    mp.chdir(tmp_path)
    (tmp_path / "shieldwall.yaml").write_text(
        "secrets:\n  disable: [github-pat]\n  rules:\n    - id: acme-token\n      title: ACME\n"
        "      keywords: [acme_]\n      regex: '\\b(acme_[a-z0-9]{24})\\b'\n"
    )
    a = default_secret_analyzer()
    ids = {r.id for r in a.engine.rules}
    assert "acme-token" in ids and "github-pat" not in ids
    assert (Path(os.environ["SHIELDWALL_DATA_DIR"]) / KEY_FILE).exists()
    found = run(a, "/x.txt", f"acme_{token(24, 'abcdefghijklmnopqrstuvwxyz0123456789')}\n".encode()).findings
    assert [f.rule_id for f in found] == ["acme-token"]


def test_inline_allow_comments_suppress_but_keep_the_finding() -> None:
    lines = [
        f"A = '{ghp()}'  # shieldwall:ignore rotated in 2024",
        f"B = '{ghp()}'  # shieldwall:ignore=aws-access-key-id",
        f"C = '{ghp()}'  # pragma: allowlist secret",
        f"D = '{ghp()}'  // gitleaks:allow",
        f"E = '{ghp()}'",
    ]
    result = run(analyzer(), "/app/x.py", ("\n".join(lines) + "\n").encode())
    by_line = {f.location.line: f for f in result.findings}  # type: ignore[union-attr]
    assert by_line[1].suppressed == "shieldwall:ignore comment: rotated in 2024" and not by_line[1].active
    assert by_line[2].active  # the comment names another rule
    assert "allowlist secret" in by_line[3].suppressed and "gitleaks:allow" in by_line[4].suppressed
    assert by_line[5].active
