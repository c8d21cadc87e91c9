"""``shieldwall admission manifest``: the objects, the certificate chain, cert-manager mode."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import yaml
from cryptography import x509

from shieldwall.admission import tls
from shieldwall.admission.manifest import ManifestOptions, manifest_documents


def test_generated_certificate_chains_to_the_ca_and_names_the_service(tmp_path: Path) -> None:
    files = tls.generate(tmp_path, [*tls.service_names("hook", "sec"), "127.0.0.1"])
    ca = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
    cert = x509.load_pem_x509_certificate(files.cert.read_bytes())
    cert.verify_directly_issued_by(ca)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "hook.sec.svc" in names.get_values_for_type(x509.DNSName)
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert os.stat(files.key).st_mode & 0o077 == 0
    assert os.stat(tmp_path / "ca.key").st_mode & 0o077 == 0


def test_manifest_command_writes_service_secret_and_webhook(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3] / "src")}
    subprocess.run(
        [sys.executable, "-m", "shieldwall", "admission", "manifest", "--out", str(tmp_path), "--namespace", "sec",
         "--mutating"],
        check=True, env=env, capture_output=True,
    )  # fmt: skip
    docs = list(yaml.safe_load_all((tmp_path / "webhook.yaml").read_text(encoding="utf-8")))
    kinds = [d["kind"] for d in docs]
    assert kinds == ["Service", "Secret", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"]
    hook = docs[2]["webhooks"][0]
    assert hook["clientConfig"]["service"] == {"name": "shieldwall-admission", "namespace": "sec",
                                               "path": "/validate", "port": 443}  # fmt: skip
    assert base64.b64decode(hook["clientConfig"]["caBundle"]) == (tmp_path / "certs" / "ca.crt").read_bytes()
    assert hook["sideEffects"] == "NoneOnDryRun" and hook["admissionReviewVersions"] == ["v1"]
    assert "sec" in hook["namespaceSelector"]["matchExpressions"][0]["values"]
    assert base64.b64decode(docs[1]["data"]["tls.crt"]) == (tmp_path / "certs" / "tls.crt").read_bytes()


def test_cert_manager_mode_has_no_key_material() -> None:
    docs = manifest_documents(ManifestOptions(cert_manager=True))
    kinds = [d["kind"] for d in docs]
    assert "Secret" not in kinds and "Certificate" in kinds
    webhook = docs[-1]
    assert webhook["metadata"]["annotations"]["cert-manager.io/inject-ca-from"] == "shieldwall/shieldwall-admission"
    assert "caBundle" not in webhook["webhooks"][0]["clientConfig"]
