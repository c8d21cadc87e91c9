"""Base64 credentials in kubeconfigs, Kubernetes Secrets and Docker's config.json: decoded, at their line, masked."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from helpers.secrets import token
from shieldwall.analyze.base import AnalysisInput, FileInfo
from shieldwall.analyze.secret.encoded import EncodedCredentialsAnalyzer
from shieldwall.analyze.secret.fingerprint import Fingerprinter
from shieldwall.model import Finding
from shieldwall.report.formats import OutputFormat, render
from shieldwall.service.scan import ScanOptions, scan_target


def _b64(data: bytes | str) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def _key() -> bytes:
    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )


def _analyze(path: str, text: str) -> list[Finding]:
    analyzer = EncodedCredentialsAnalyzer(Fingerprinter(b"k" * 32))
    data = text.encode()
    info = FileInfo(path, len(data))
    assert analyzer.required(path, info)
    return list(analyzer.analyze(AnalysisInput(path, info, lambda: data)).findings)


def _kubeconfig(key_data: str, bearer: str) -> str:
    return (
        "apiVersion: v1\nkind: Config\nclusters:\n- name: prod\n  cluster:\n    server: https://10.0.0.1:6443\n"
        "users:\n- name: admin\n  user:\n"
        f"    client-certificate-data: {_b64('not a key')}\n"
        f"    client-key-data: {key_data}\n"  # line 11
        "- name: ci\n  user:\n"
        f"    token: {bearer}\n"  # line 14
    )


def test_kubeconfig_client_key_and_token_at_their_lines() -> None:
    key, bearer = _key(), token(40)
    findings = _analyze("/home/dev/.kube/prod.yaml", _kubeconfig(_b64(key), bearer))
    by_rule = {f.rule_id: f for f in findings}
    assert set(by_rule) == {"kubeconfig-client-key-data", "kubeconfig-token"}
    assert by_rule["kubeconfig-client-key-data"].location.line == 11  # type: ignore[union-attr]
    assert by_rule["kubeconfig-client-key-data"].active
    assert by_rule["kubeconfig-token"].location.line == 14  # type: ignore[union-attr]
    for finding in findings:
        text = finding.message + json.dumps([e.found for e in finding.evidence])
        assert bearer not in text and _b64(key)[:40] not in text and "PRIVATE KEY-----\nM" not in text


def test_client_key_data_that_is_not_a_key_is_set_aside() -> None:
    fake = b"-----BEGIN EC PRIVATE KEY-----\n" + base64.b64encode(os.urandom(120)) + b"\n-----END EC PRIVATE KEY-----\n"
    findings = _analyze("/etc/kubeconfig", _kubeconfig(_b64(fake), "short"))
    assert [(f.rule_id, f.suppressed.split(":")[0]) for f in findings] == [
        ("kubeconfig-client-key-data", "not a private key")
    ]


def test_kubernetes_secret_data_and_string_data() -> None:
    password = token(20)
    text = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  color: blue\n---\n"
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ntype: Opaque\ndata:\n"
        f"  password: {_b64(password)}\n"  # line 14
        "  empty: ''\n"
        "stringData:\n"
        f"  api-key: {password[::-1]}\n"  # line 17
    )
    findings = _analyze("/app/deploy/secret.yaml", text)
    assert sorted((f.rule_id, f.location.line) for f in findings) == [  # type: ignore[union-attr]
        ("kubernetes-secret-data", 14),
        ("kubernetes-secret-data", 17),
    ]
    assert all(password not in f.message and password[::-1] not in f.message for f in findings)


def test_docker_config_auth_is_decoded() -> None:
    secret = token(24)
    doc = {"auths": {"registry.example.com": {"auth": _b64(f"deploy:{secret}")}, "other.io": {"auth": _b64("x")}}}
    text = json.dumps(doc, indent=2)
    findings = _analyze("/root/.docker/config.json", text)
    assert [(f.rule_id, f.location.line) for f in findings] == [("docker-config-auth", 4)]  # type: ignore[union-attr]
    assert "registry.example.com" in findings[0].title and secret not in findings[0].message


def test_whole_scan_masks_every_output(tmp_path: Path) -> None:
    secret, key = token(24), _key()
    root = tmp_path / "root"
    (root / "app/.docker").mkdir(parents=True)
    (root / "app/.docker/config.json").write_text(json.dumps({"auths": {"r.io": {"auth": _b64(f"u:{secret}")}}}))
    (root / "app/kubeconfig").write_text(_kubeconfig(_b64(key), secret[::-1]))
    result = scan_target(f"dir:{root}", ScanOptions(scanners=frozenset({"secret"}), use_cache=False))
    rules = {f.rule_id for f in result.findings if f.active}
    assert {"docker-config-auth", "kubeconfig-client-key-data", "kubeconfig-token"} <= rules
    for fmt in (OutputFormat.JSON, OutputFormat.TABLE, OutputFormat.SARIF):
        out = render(fmt, result)
        assert secret not in out and secret[::-1] not in out and _b64(f"u:{secret}") not in out
