"""Sensitive files: whole files whose presence in an image is the problem.

Private keys and keystores (contents checked: a ``.pem`` holding only a
certificate is not a private key), ``.htpasswd``, shadow files with real
password hashes, cloud credential files (``~/.aws/credentials``, gcloud
application-default credentials, kubeconfig with tokens or client keys,
docker ``config.json`` with auths), ``.git`` folders with credentials, and
certificates (informational: subject, expiry; findings for expired
certificates and weak keys). Every finding names the file and what is in
it, never a secret value; its fingerprint is a keyed HMAC of the content.
"""

from __future__ import annotations

import configparser
import datetime as dt
import json
import posixpath
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa
from cryptography.hazmat.primitives.serialization import load_der_private_key, pkcs12

from shieldwall.analyze.base import EMPTY, AnalysisInput, AnalysisResult, FileInfo
from shieldwall.analyze.secret.fingerprint import Fingerprinter
from shieldwall.model import Evidence, Finding, FindingKind, Location, Severity

MiB = 1024 * 1024
DETECTOR = "shieldwall-sensitive-file"
MAX_BYTES = 4 * MiB

_KEY_SUFFIXES = (".pem", ".key", ".crt", ".cer", ".der", ".p8", ".ppk", ".cert")
_STORE_SUFFIXES = (".p12", ".pfx", ".jks", ".keystore", ".jceks", ".bks")
_SSH_KEYS = frozenset({"id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "id_ecdsa_sk", "id_ed25519_sk", "identity"})
_TRUST_STORES = re.compile(
    r"^/(?:etc/ssl/certs|usr/share/ca-certificates|etc/pki/(?:ca-trust|tls/certs)|usr/local/share/ca-certificates"
    r"|etc/ca-certificates|usr/share/pki)/|/(?:certifi|pip/_vendor/certifi|botocore|grpc/_cython/_credentials)/"
    r"[^/]*\.pem$|/cacert\.pem$|/ca-bundle\.crt$|/ca-certificates\.crt$"
)
_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.S)
_SHADOW_LOCKED = re.compile(r"^(?:[*!x]|!!|!\*|\*LK\*|NP|LOCKED)")
_GIT_URL_CREDS = re.compile(r"(?im)^\s*url\s*=\s*\w[\w+.-]*://([^/\s:@]+):([^@\s/]+)@")
_DEFAULT_STORE_PASSWORDS = (b"changeit", b"password", b"changeme", b"secret", b"123456")
_CANDIDATE = re.compile(
    r"(?i)(?:\.(?:pem|key|crt|cer|cert|der|p8|ppk|p12|pfx|jks|keystore|jceks|bks|htpasswd)$"
    r"|/(?:id_\w+|identity|htpasswd|\.htpasswd|g?shadow-?|credentials|\w*\.json|adc\.json|config|kubeconfig[^/]*"
    r"|\.git-credentials)$|^/etc/kubernetes/)"
).search
_WEAK_RSA = 2048
_WEAK_EC = 224


@dataclass(frozen=True, slots=True)
class _Hit:
    rule_id: str
    title: str
    severity: Severity
    message: str
    material: bytes
    details: tuple[tuple[str, str], ...] = ()


def _is_trust_store(path: str) -> bool:
    return bool(_TRUST_STORES.search(path))


class SensitiveFileAnalyzer:
    """Finds credential-bearing files and certificate problems (scanner family ``secret``)."""

    name = "sensitive-file"
    version = 1
    scanner = "secret"

    def __init__(self, fingerprint: Fingerprinter, *, today: dt.date | None = None) -> None:
        self.fingerprint = fingerprint
        self.today = today
        self.version = 1000 + int(fingerprint.key_id[:6], 16)

    def required(self, path: str, info: FileInfo) -> bool:
        """A cheap name test: key, keystore and certificate suffixes, and known credential file names."""
        if info.size == 0 or info.size > MAX_BYTES or not _CANDIDATE(path):
            return False
        return self._handler(path) is not None

    def _handler(self, path: str) -> Callable[[str, bytes], list[_Hit]] | None:
        base = posixpath.basename(path)
        lower = base.lower()
        if lower.endswith(_KEY_SUFFIXES) or base in _SSH_KEYS:
            return self._keys_and_certificates
        if lower.endswith(_STORE_SUFFIXES):
            return self._keystore
        if base in (".htpasswd", "htpasswd") or lower.endswith(".htpasswd"):
            return self._htpasswd
        if path in ("/etc/shadow", "/etc/gshadow", "/etc/shadow-", "/etc/gshadow-"):
            return self._shadow
        if path.endswith("/.aws/credentials"):
            return self._aws_credentials
        if base == "application_default_credentials.json" or (base == "adc.json" and "/gcloud/" in path):
            return self._gcloud_adc
        if path.endswith("/.kube/config") or lower.startswith("kubeconfig") or path.startswith("/etc/kubernetes/"):
            return self._kubeconfig if not lower.endswith((".crt", ".key", ".pem")) else None
        if path.endswith("/.docker/config.json"):
            return self._docker_config
        if path.endswith("/.git/config"):
            return self._git_config
        if base == ".git-credentials":
            return self._git_credentials
        return None

    def analyze(self, input: AnalysisInput) -> AnalysisResult:
        """Run the handler for this kind of file; malformed content is no finding, not an error."""
        handler = self._handler(input.path)
        if handler is None:
            return EMPTY
        hits = handler(input.path, input.read())
        if not hits:
            return EMPTY
        return AnalysisResult(findings=tuple(self._finding(input.path, hit) for hit in hits))

    def _finding(self, path: str, hit: _Hit) -> Finding:
        return Finding(
            kind=FindingKind.SENSITIVE_FILE,
            rule_id=hit.rule_id,
            title=hit.title,
            severity=hit.severity,
            location=Location(path),
            message=hit.message,
            fix="Remove the file from the image (and from every layer and build stage); rotate what it holds.",
            evidence=(Evidence(DETECTOR, f"file {posixpath.basename(path)}", hit.message, details=hit.details),),
            fingerprint_material=self.fingerprint(hit.material),
        )

    # --- keys and certificates -------------------------------------------------------------

    def _keys_and_certificates(self, path: str, data: bytes) -> list[_Hit]:
        hits: list[_Hit] = []
        blocks = _PEM_BLOCK.findall(data)
        if not blocks:
            return self._der(path, data)
        for label_raw, body in blocks:
            label = label_raw.decode("ascii", errors="replace")
            if "PRIVATE KEY" in label:
                encrypted = label.startswith("ENCRYPTED") or b"Proc-Type: 4,ENCRYPTED" in body
                hits.append(
                    _Hit(
                        "sensitive-private-key-file",
                        "Private key file" + (" (encrypted)" if encrypted else ""),
                        Severity.MEDIUM if encrypted else Severity.CRITICAL,
                        f"{label} in {posixpath.basename(path)}" + (", passphrase-protected" if encrypted else ""),
                        body,
                        (("pem_label", label), ("encrypted", str(encrypted).lower())),
                    )
                )
        if data.startswith(b"PuTTY-User-Key-File-"):
            encrypted = b"Encryption: none" not in data[:512]
            hits.append(
                _Hit(
                    "sensitive-private-key-file",
                    "PuTTY private key file",
                    Severity.MEDIUM if encrypted else Severity.CRITICAL,
                    "PuTTY private key" + (" (encrypted)" if encrypted else ""),
                    data,
                )
            )
        if not _is_trust_store(path) and any(label == b"CERTIFICATE" for label, _ in blocks):
            with warnings.catch_warnings():  # malformed-but-parsable certificates warn; they are still reported
                warnings.simplefilter("ignore")
                try:
                    certificates = x509.load_pem_x509_certificates(data)
                except ValueError:
                    certificates = []
                for certificate in certificates[:50]:
                    hits += self._certificate(certificate)
        return hits

    def _der(self, path: str, data: bytes) -> list[_Hit]:
        if not data.startswith(b"\x30"):
            return []
        try:
            load_der_private_key(data, password=None)
        except (ValueError, TypeError):
            pass
        except Exception:  # unsupported algorithm: still a key we cannot judge further
            return []
        else:
            return [
                _Hit(
                    "sensitive-private-key-file",
                    "Private key file (DER)",
                    Severity.CRITICAL,
                    f"unencrypted DER private key in {posixpath.basename(path)}",
                    data,
                )
            ]
        if _is_trust_store(path):
            return []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                certificate = x509.load_der_x509_certificate(data)
            except ValueError:
                return []
            return self._certificate(certificate)

    def _certificate(self, certificate: x509.Certificate) -> list[_Hit]:
        subject = certificate.subject.rfc4514_string() or "(empty subject)"
        issuer = certificate.issuer.rfc4514_string()
        not_after = certificate.not_valid_after_utc
        today = self.today or dt.datetime.now(dt.UTC).date()
        key = certificate.public_key()
        key_desc, weak = _key_strength(key)
        material = certificate.fingerprint(hashes.SHA256())
        details = (
            ("subject", subject),
            ("issuer", issuer),
            ("not_after", not_after.date().isoformat()),
            ("key", key_desc),
            ("serial", format(certificate.serial_number, "x")),
        )
        summary = f"{subject}, expires {not_after.date().isoformat()}, {key_desc}"
        hits = [_Hit("sensitive-certificate", "Certificate", Severity.UNKNOWN, summary, material, details)]
        if not_after.date() < today:
            hits.append(
                _Hit(
                    "sensitive-certificate-expired", "Expired certificate", Severity.MEDIUM, summary, material, details
                )
            )
        if weak:
            hits.append(
                _Hit("sensitive-certificate-weak-key", "Certificate with a weak key", Severity.HIGH, summary, material)
            )
        return hits

    def _keystore(self, path: str, data: bytes) -> list[_Hit]:
        lower = path.lower()
        if lower.endswith((".p12", ".pfx")):
            for password in (None, b"", *_DEFAULT_STORE_PASSWORDS):
                try:
                    key, _cert, _extra = pkcs12.load_key_and_certificates(data, password)
                except (ValueError, TypeError):
                    continue
                except Exception:  # unsupported PBE or MAC algorithm
                    break
                if key is None:
                    return [_Hit("sensitive-keystore", "PKCS#12 keystore", Severity.LOW, "no private key", data)]
                how = "no password" if not password else "a well-known default password"
                return [
                    _Hit(
                        "sensitive-keystore-unprotected",
                        "PKCS#12 keystore with an accessible private key",
                        Severity.CRITICAL,
                        f"private key readable with {how}",
                        data,
                    )
                ]
            return [
                _Hit("sensitive-keystore", "PKCS#12 keystore", Severity.MEDIUM, "password-protected keystore", data)
            ]
        magic = data[:4]
        kind = {b"\xfe\xed\xfe\xed": "JKS", b"\xce\xce\xce\xce": "JCEKS"}.get(magic, "")
        if not kind and not lower.endswith(".bks"):
            return []
        return [_Hit("sensitive-keystore", "Java keystore", Severity.MEDIUM, f"{kind or 'BKS'} keystore", data)]

    # --- password files --------------------------------------------------------------------

    def _htpasswd(self, path: str, data: bytes) -> list[_Hit]:
        users: list[str] = []
        weak = False
        for line in data.decode("utf-8", errors="replace").splitlines():
            user, sep, hashed = line.strip().partition(":")
            if not sep or not user or not hashed or user.startswith("#"):
                continue
            users.append(user)
            if not hashed.startswith(("$2", "$apr1$", "$5$", "$6$", "$y$")):
                weak = True
        if not users:
            return []
        note = " (some with weak or plain-text hashes)" if weak else ""
        return [
            _Hit(
                "sensitive-htpasswd",
                "htpasswd file with password hashes",
                Severity.HIGH if weak else Severity.MEDIUM,
                f"{len(users)} user(s): {', '.join(users[:10])}{note}",
                data,
            )
        ]

    def _shadow(self, path: str, data: bytes) -> list[_Hit]:
        hashed: list[str] = []
        empty: list[str] = []
        for line in data.decode("utf-8", errors="replace").splitlines():
            fields = line.split(":")
            if len(fields) < 2 or not fields[0]:
                continue
            user, password = fields[0], fields[1]
            if password == "":
                empty.append(user)
            elif not _SHADOW_LOCKED.match(password):
                hashed.append(user)
        hits = []
        if hashed:
            hits.append(
                _Hit(
                    "sensitive-shadow-hashes",
                    "Shadow file with password hashes",
                    Severity.HIGH,
                    f"password hashes for {len(hashed)} account(s): {', '.join(hashed[:10])}",
                    data,
                )
            )
        if empty:
            hits.append(
                _Hit(
                    "sensitive-shadow-empty-password",
                    "Account with an empty password",
                    Severity.HIGH,
                    f"no password for: {', '.join(empty[:10])}",
                    data,
                )
            )
        return hits

    # --- cloud and tool credential files ---------------------------------------------------

    def _aws_credentials(self, path: str, data: bytes) -> list[_Hit]:
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        try:
            parser.read_string(data.decode("utf-8", errors="replace"))
        except configparser.Error:
            return []
        profiles = [s for s in parser.sections() if parser.get(s, "aws_secret_access_key", fallback="").strip()]
        if not profiles:
            return []
        material = "\n".join(parser.get(s, "aws_secret_access_key") for s in profiles).encode()
        return [
            _Hit(
                "sensitive-aws-credentials",
                "AWS shared credentials file",
                Severity.CRITICAL,
                f"secret access keys for profile(s): {', '.join(profiles[:10])}",
                material,
            )
        ]

    def _gcloud_adc(self, path: str, data: bytes) -> list[_Hit]:
        doc = _json(data)
        if not isinstance(doc, dict):
            return []
        kind = str(doc.get("type", ""))
        secret = doc.get("refresh_token") or doc.get("private_key") or doc.get("client_secret")
        if not secret:
            return []
        return [
            _Hit(
                "sensitive-gcloud-credentials",
                "Google Cloud application default credentials",
                Severity.CRITICAL,
                f"{kind or 'credentials'} for {doc.get('client_email') or doc.get('client_id') or 'an account'}",
                str(secret).encode(),
            )
        ]

    def _kubeconfig(self, path: str, data: bytes) -> list[_Hit]:
        try:
            doc = yaml.safe_load(data)
        except yaml.YAMLError:
            return []
        if not isinstance(doc, dict) or not isinstance(doc.get("users"), list):
            return []
        found: list[str] = []
        material: list[str] = []
        for entry in doc["users"]:
            if not isinstance(entry, dict) or not isinstance(entry.get("user"), dict):
                continue
            user = entry["user"]
            kinds = [k for k in ("token", "client-key-data", "client-key", "password") if user.get(k)]
            provider = user.get("auth-provider")
            config = provider.get("config") if isinstance(provider, dict) else None
            if isinstance(config, dict) and any(
                config.get(k) for k in ("access-token", "refresh-token", "client-secret")
            ):
                kinds.append("auth-provider token")
            if kinds:
                found.append(f"{entry.get('name', '?')} ({', '.join(kinds)})")
                material += [str(user.get(k, "")) for k in ("token", "client-key-data", "password")]
        if not found:
            return []
        return [
            _Hit(
                "sensitive-kubeconfig-credentials",
                "kubeconfig with credentials",
                Severity.HIGH,
                f"user credentials: {', '.join(found[:10])}",
                "\n".join(material).encode(),
            )
        ]

    def _docker_config(self, path: str, data: bytes) -> list[_Hit]:
        doc = _json(data)
        if not isinstance(doc, dict) or not isinstance(doc.get("auths"), dict):
            return []
        registries = [
            name
            for name, entry in doc["auths"].items()
            if isinstance(entry, dict) and (entry.get("auth") or entry.get("identitytoken") or entry.get("password"))
        ]
        if not registries:
            return []
        material = json.dumps(doc["auths"], sort_keys=True).encode()
        return [
            _Hit(
                "sensitive-docker-config-auths",
                "Docker config with registry credentials",
                Severity.HIGH,
                f"credentials for: {', '.join(registries[:10])}",
                material,
            )
        ]

    def _git_config(self, path: str, data: bytes) -> list[_Hit]:
        text = data.decode("utf-8", errors="replace")
        matches = _GIT_URL_CREDS.findall(text)
        if not matches:
            return []
        return [
            _Hit(
                "sensitive-git-credentials",
                "Git repository config with embedded credentials",
                Severity.HIGH,
                f"remote URL(s) with a password or token for user(s): {', '.join(u for u, _ in matches[:5])}",
                "\n".join(p for _, p in matches).encode(),
            )
        ]

    def _git_credentials(self, path: str, data: bytes) -> list[_Hit]:
        lines = [line for line in data.decode("utf-8", errors="replace").splitlines() if "@" in line and ":" in line]
        if not lines:
            return []
        return [
            _Hit(
                "sensitive-git-credentials",
                "Git credential store file",
                Severity.HIGH,
                f"{len(lines)} stored credential(s)",
                data,
            )
        ]


def _json(data: bytes) -> object:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return None


def _key_strength(key: object) -> tuple[str, bool]:
    """A description of a public key and whether it is weak."""
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA {key.key_size}", key.key_size < _WEAK_RSA
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC {key.curve.name}", key.curve.key_size < _WEAK_EC
    if isinstance(key, dsa.DSAPublicKey):
        return f"DSA {key.key_size}", True
    return type(key).__name__.removesuffix("PublicKey").lstrip("_") or "unknown key", False
