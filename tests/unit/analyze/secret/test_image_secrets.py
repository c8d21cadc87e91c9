"""Secrets through a whole image scan: every layer, deleted files, Env and history, and no secret in any output."""

from __future__ import annotations

import gzip
from pathlib import Path

from helpers.images import WHITEOUT, ImageSpec, build_docker_archive
from helpers.secrets import akid, ghp, token
from shieldwall.analyze.registry import load_analyzers
from shieldwall.analyze.secret.engine import SecretEngine
from shieldwall.analyze.secret.fingerprint import Fingerprinter
from shieldwall.analyze.secret.imageconfig import ENV_PATH, ImageConfigSecrets, history_path
from shieldwall.analyze.secret.rules import builtin_allowlist, builtin_rules
from shieldwall.model import FindingKind, HistoryEntry, ImageConfig, LayerRef, ScanResult, Target, TargetKind, TargetRef
from shieldwall.report.formats import OutputFormat, render
from shieldwall.service.scan import ScanOptions, scan_target


def test_image_scan_reports_layers_deletions_env_and_history(tmp_path: Path) -> None:
    kept, deleted, env_pw, npm = ghp(), akid(), token(18), "npm_" + token(36)
    layers = [
        {"/etc/os-release": b"ID=debian\nVERSION_ID=12\n", "/app/main.py": f'TOKEN = "{kept}"\n'.encode()},
        {"/app/.aws/config.ini": f"aws_access_key_id = {deleted}\n".encode()},
        {"/app/.aws/config.ini": WHITEOUT},
    ]
    spec = ImageSpec(
        created_by=[
            "/bin/sh -c #(nop) ADD file:base in /",
            f"|1 NPM_TOKEN={npm} /bin/sh -c npm ci",
            "/bin/sh -c rm /app/.aws/config.ini",
        ],
        env=["PATH=/usr/bin", f"DB_PASSWORD={env_pw}"],
    )
    archive = build_docker_archive(tmp_path / "img.tar", layers, spec)
    options = ScanOptions(scanners=frozenset({"secret"}), cache_dir=tmp_path / "cache")
    result = scan_target(f"docker-archive:{archive}", options)
    assert result.packages == () and result.os is None  # --scanners secret skips the catalogers
    found = {(f.rule_id, f.location.path): f for f in result.findings if f.location}
    live = found[("github-pat", "/app/main.py")]
    assert live.location.layer.index == 0 and live.deleted_in is None  # type: ignore[union-attr]
    gone = found[("aws-access-key-id", "/app/.aws/config.ini")]
    assert gone.location.layer.index == 1 and gone.deleted_in is not None and gone.deleted_in.index == 2  # type: ignore[union-attr]
    npm_hit = found[("npm-access-token", history_path(1))]
    assert npm_hit.location.layer.index == 1 and "npm ci" in npm_hit.location.layer.created_by  # type: ignore[union-attr]
    env_hit = found[("generic-password-config", ENV_PATH)]
    assert env_hit.location.line == 2 and env_hit.kind is FindingKind.SECRET  # type: ignore[union-attr]

    outputs = {fmt: render(fmt, result) for fmt in (OutputFormat.JSON, OutputFormat.TABLE)}
    assert "deleted in layer 2" in outputs[OutputFormat.TABLE]
    cache_text = b"".join(gzip.decompress(p.read_bytes()) for p in (tmp_path / "cache").rglob("*.json.gz"))
    assert cache_text  # the layers were cached
    for secret in (kept, deleted, env_pw, npm):
        for text in outputs.values():
            assert secret not in text and secret[4:] not in text
        assert secret.encode() not in cache_text

    again = scan_target(f"docker-archive:{archive}", options)  # from the cache: same findings
    assert sorted(f.fingerprint for f in again.findings) == sorted(f.fingerprint for f in result.findings)


def test_empty_layer_history_entries_point_at_the_next_layer() -> None:
    engine = SecretEngine(builtin_rules(), builtin_allowlist(), prefilter="python")
    scanner = ImageConfigSecrets(engine, Fingerprinter(b"k" * 32))
    secret = "sk_live_" + token(30)
    image = ImageConfig(
        env=(f"STRIPE_KEY={secret}",),
        history=(
            HistoryEntry("/bin/sh -c #(nop) ADD file:x in /"),
            HistoryEntry(f"/bin/sh -c #(nop)  ENV STRIPE_KEY={secret}", empty_layer=True),
            HistoryEntry("/bin/sh -c make"),
        ),
    )
    layers = (LayerRef(0, "sha256:a"), LayerRef(1, "sha256:b"))
    result = ScanResult(Target(TargetRef(TargetKind.OCI, "x"), "x"), layers=layers, image=image)
    findings = scanner.run(result).findings
    by_path = {f.location.path: f for f in findings if f.location}
    history = by_path[history_path(1)]
    assert history.location.layer.index == 1 and history.location.layer.digest == ""  # type: ignore[union-attr]
    env = by_path[ENV_PATH]
    assert env.location.layer is not None and "ENV STRIPE_KEY" in env.location.layer.created_by  # type: ignore[union-attr]
    assert all(secret not in repr(f) for f in findings)
    assert scanner.run(ScanResult(Target(TargetRef(TargetKind.DIRECTORY, "x"), "x"))).findings == ()


def test_scanner_families_and_inventory() -> None:
    secret_only = {a.name for a in load_analyzers(include_plugins=False, scanners={"secret"})}
    assert {"secret", "sensitive-file"} <= secret_only and "os-release" not in secret_only
    inventory_only = {a.name for a in load_analyzers(include_plugins=False, scanners=frozenset())}
    assert "os-release" in inventory_only and "secret" not in inventory_only
    with_vuln = {a.name for a in load_analyzers(include_plugins=False, scanners={"secret", "vuln"})}
    assert {"os-release", "secret"} <= with_vuln
