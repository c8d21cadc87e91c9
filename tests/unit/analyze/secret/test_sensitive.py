"""Sensitive files: keys (contents checked), keystores, password files, credential files, certificates."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from helpers.secrets import token
from shieldwall.analyze.base import AnalysisInput, FileInfo
from shieldwall.analyze.secret.fingerprint import Fingerprinter
from shieldwall.analyze.secret.sensitive import SensitiveFileAnalyzer
from shieldwall.model import FindingKind, Severity

TODAY = dt.date(2026, 6, 1)


def analyzer() -> SensitiveFileAnalyzer:
    return SensitiveFileAnalyzer(Fingerprinter(b"k" * 32), today=TODAY)


def rules(path: str, data: bytes) -> list[tuple[str, Severity]]:
    a = analyzer()
    info = FileInfo(path, len(data))
    if not a.required(path, info):
        return []
    findings = a.analyze(AnalysisInput(path, info, lambda: data)).findings
    assert all(f.kind is FindingKind.SENSITIVE_FILE for f in findings)
    return [(f.rule_id, f.severity) for f in findings]


def _cert(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, days: int, cn: str = "svc.internal") -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1234)
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_pem_with_only_a_certificate_is_not_a_private_key(rsa_key: rsa.RSAPrivateKey) -> None:
    pem = _cert(rsa_key, 3650).public_bytes(serialization.Encoding.PEM)
    assert rules("/etc/app/server.pem", pem) == [("sensitive-certificate", Severity.UNKNOWN)]


def test_private_key_file_plain_and_encrypted(rsa_key: rsa.RSAPrivateKey) -> None:
    plain = rsa_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    locked = rsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pass-phrase"),
    )
    der = rsa_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    assert rules("/app/tls.key", plain) == [("sensitive-private-key-file", Severity.CRITICAL)]
    assert rules("/root/.ssh/id_rsa", plain) == [("sensitive-private-key-file", Severity.CRITICAL)]
    assert rules("/app/tls.key", locked) == [("sensitive-private-key-file", Severity.MEDIUM)]
    assert rules("/app/tls.der", der) == [("sensitive-private-key-file", Severity.CRITICAL)]


def test_expired_and_weak_certificates() -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    pem = _cert(weak, 30).public_bytes(serialization.Encoding.PEM)
    assert sorted(rules("/app/old.crt", pem)) == [
        ("sensitive-certificate", Severity.UNKNOWN),
        ("sensitive-certificate-expired", Severity.MEDIUM),
        ("sensitive-certificate-weak-key", Severity.HIGH),
    ]
    good = _cert(ec.generate_private_key(ec.SECP256R1()), 3650).public_bytes(serialization.Encoding.PEM)
    assert rules("/app/new.crt", good) == [("sensitive-certificate", Severity.UNKNOWN)]
    assert rules("/etc/ssl/certs/ca-certificates.crt", pem) == []


def test_certificate_details_are_reported(rsa_key: rsa.RSAPrivateKey) -> None:
    pem = _cert(rsa_key, 3650, cn="api.example.org").public_bytes(serialization.Encoding.PEM)
    a = analyzer()
    (finding,) = a.analyze(AnalysisInput("/app/a.crt", FileInfo("/app/a.crt", len(pem)), lambda: pem)).findings
    details = dict(finding.evidence[0].details)
    assert details["subject"] == "CN=api.example.org" and details["key"] == "RSA 2048"
    assert details["not_after"] == "2034-12-30"


def test_pkcs12_keystores(rsa_key: rsa.RSAPrivateKey) -> None:
    cert = _cert(rsa_key, 3650)
    open_store = pkcs12.serialize_key_and_certificates(b"a", rsa_key, cert, None, serialization.NoEncryption())
    default_pw = pkcs12.serialize_key_and_certificates(
        b"a", rsa_key, cert, None, serialization.BestAvailableEncryption(b"changeit")
    )
    strong = pkcs12.serialize_key_and_certificates(
        b"a", rsa_key, cert, None, serialization.BestAvailableEncryption(token(20).encode())
    )
    assert rules("/app/keystore.p12", open_store) == [("sensitive-keystore-unprotected", Severity.CRITICAL)]
    assert rules("/app/keystore.pfx", default_pw) == [("sensitive-keystore-unprotected", Severity.CRITICAL)]
    assert rules("/app/keystore.p12", strong) == [("sensitive-keystore", Severity.MEDIUM)]
    assert rules("/app/keystore.jks", b"\xfe\xed\xfe\xed" + b"\x00" * 40) == [("sensitive-keystore", Severity.MEDIUM)]
    assert rules("/app/not-a-store.jks", b"hello") == []


def test_htpasswd_and_shadow() -> None:
    assert rules("/etc/nginx/.htpasswd", b"admin:$apr1$abc$0123456789abcdefghijkl\n") == [
        ("sensitive-htpasswd", Severity.MEDIUM)
    ]
    assert rules("/etc/nginx/.htpasswd", b"admin:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n") == [
        ("sensitive-htpasswd", Severity.HIGH)
    ]
    locked = b"root:*:19000:0:99999:7:::\ndaemon:!:19000::::::\nnobody:!!:1::::::\n"
    assert rules("/etc/shadow", locked) == []
    real = locked + b"app:$6$salt$" + token(86).encode() + b":19000:0:99999:7:::\nguest::19000::::::\n"
    assert sorted(rules("/etc/shadow", real)) == [
        ("sensitive-shadow-empty-password", Severity.HIGH),
        ("sensitive-shadow-hashes", Severity.HIGH),
    ]


def test_cloud_and_tool_credential_files() -> None:
    aws = f"[default]\naws_access_key_id = AKIA{token(16)}\naws_secret_access_key = {token(40)}\n".encode()
    assert rules("/root/.aws/credentials", aws) == [("sensitive-aws-credentials", Severity.CRITICAL)]
    assert rules("/root/.aws/credentials", b"[default]\nregion = eu-west-1\n") == []
    adc = json.dumps({"type": "authorized_user", "client_id": "x.apps", "refresh_token": "1//0" + token(60)})
    assert rules("/root/.config/gcloud/application_default_credentials.json", adc.encode()) == [
        ("sensitive-gcloud-credentials", Severity.CRITICAL)
    ]
    kube = (
        "apiVersion: v1\nkind: Config\nusers:\n- name: admin\n  user:\n"
        f"    client-key-data: {base64.b64encode(token(64).encode()).decode()}\n"
        "- name: ci\n  user:\n    exec: {command: aws}\n"
    )
    assert rules("/root/.kube/config", kube.encode()) == [("sensitive-kubeconfig-credentials", Severity.HIGH)]
    assert rules("/root/.kube/config", b"apiVersion: v1\nusers:\n- name: ci\n  user: {exec: {}}\n") == []
    docker = json.dumps(
        {"auths": {"registry.example.com": {"auth": base64.b64encode(b"ci:" + token(20).encode()).decode()}}}
    )
    assert rules("/root/.docker/config.json", docker.encode()) == [("sensitive-docker-config-auths", Severity.HIGH)]
    helper = json.dumps({"auths": {"registry.example.com": {}}, "credsStore": "desktop"})
    assert rules("/root/.docker/config.json", helper.encode()) == []


def test_git_credentials() -> None:
    config = f'[remote "origin"]\n\turl = https://ci:{token(30)}@git.example.com/org/app.git\n'.encode()
    assert rules("/app/.git/config", config) == [("sensitive-git-credentials", Severity.HIGH)]
    assert rules("/app/.git/config", b'[remote "origin"]\n\turl = https://git.example.com/org/app.git\n') == []
    store = f"https://deploy:{token(30)}@github.com\n".encode()
    assert rules("/root/.git-credentials", store) == [("sensitive-git-credentials", Severity.HIGH)]


def test_messages_never_hold_the_secret() -> None:
    secret = token(40)
    aws = f"[prod]\naws_secret_access_key = {secret}\n".encode()
    a = analyzer()
    (finding,) = a.analyze(
        AnalysisInput("/h/.aws/credentials", FileInfo("/h/.aws/credentials", 1), lambda: aws)
    ).findings
    assert secret not in repr(finding) and "prod" in finding.message
