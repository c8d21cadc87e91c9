"""Base64-encoded credentials in configuration files, decoded and reported at their own line.

Regex rules see only base64 text in these places, so the credential itself
(a PEM private key, a ``user:password`` pair) is never recognised:

- kubeconfig ``users[].user``: ``client-key-data`` (base64 PEM private key),
  ``token`` (bearer token) and ``password``;
- Kubernetes ``Secret`` manifests: every value of ``data:`` (base64) and
  ``stringData:`` (plain);
- Docker's ``config.json``: ``auths.<registry>.auth`` (base64
  ``user:password``) and ``identitytoken``.

Files are found by content, wherever they are (YAML or JSON, several YAML
documents per file). Each credential is decoded, checked (a client key must
decode to a private key, ``auth`` must hold ``user:password``) and reported
as a SECRET finding at the line of the value, redacted and fingerprinted by
its decoded bytes; the decoded value is never kept.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from dataclasses import dataclass

import yaml

from shieldwall.analyze.base import EMPTY, AnalysisInput, AnalysisResult, FileInfo
from shieldwall.analyze.secret.fingerprint import Fingerprinter, redact
from shieldwall.analyze.secret.provenance import content_records, documentation_reason, pem_private_key_reason
from shieldwall.model import Evidence, Finding, FindingKind, Location, Severity

DETECTOR = "shieldwall-encoded-credential"
MAX_BYTES = 2 * 1024 * 1024
MAX_DOCUMENTS = 200
_SUFFIXES = (".yaml", ".yml", ".json", ".conf", ".kubeconfig", ".cfg")
_MARKERS = (b"client-key-data", b"token", b"password", b"Secret", b'"auths"', b"auths:")


@dataclass(frozen=True, slots=True)
class _Hit:
    rule_id: str
    title: str
    severity: Severity
    line: int
    column: int
    secret: bytes
    field: str
    suppressed: str = ""


def _b64(text: str) -> bytes | None:
    cleaned = "".join(text.split())
    try:
        return base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None


def _mapping(node: yaml.Node) -> dict[str, yaml.Node]:
    if not isinstance(node, yaml.MappingNode):
        return {}
    out: dict[str, yaml.Node] = {}
    for key, value in node.value:
        if isinstance(key, yaml.ScalarNode):
            out[str(key.value)] = value
    return out


def _scalar(node: yaml.Node | None) -> str:
    return str(node.value) if isinstance(node, yaml.ScalarNode) and node.value is not None else ""


def _items(node: yaml.Node | None) -> list[yaml.Node]:
    return list(node.value) if isinstance(node, yaml.SequenceNode) else []


def _at(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _kubeconfig(doc: dict[str, yaml.Node]) -> Iterator[_Hit]:
    for entry in _items(doc.get("users")):
        user = _mapping(_mapping(entry).get("user", yaml.ScalarNode("tag:yaml.org,2002:null", "")))
        key_node = user.get("client-key-data")
        if key_node is not None and _scalar(key_node):
            decoded = _b64(_scalar(key_node))
            if decoded is not None:
                line, column = _at(key_node)
                reason = pem_private_key_reason("private-key-pkcs8", decoded) if b"PRIVATE KEY" in decoded else ""
                if b"PRIVATE KEY" not in decoded:
                    reason = "not a private key: client-key-data does not decode to a PEM private key"
                yield _Hit(
                    "kubeconfig-client-key-data",
                    "Kubernetes client private key (kubeconfig client-key-data)",
                    Severity.CRITICAL,
                    line,
                    column,
                    decoded,
                    "client-key-data",
                    reason,
                )
        for field in ("token", "password"):
            node = user.get(field)
            if node is not None and len(_scalar(node)) >= 8:
                line, column = _at(node)
                yield _Hit(
                    f"kubeconfig-{field}",
                    f"Kubernetes credential (kubeconfig user {field})",
                    Severity.HIGH,
                    line,
                    column,
                    _scalar(node).encode(),
                    field,
                )


def _k8s_secret(doc: dict[str, yaml.Node]) -> Iterator[_Hit]:
    for section, encoded in (("data", True), ("stringData", False)):
        for key, node in _mapping(doc.get(section, yaml.ScalarNode("tag:yaml.org,2002:null", ""))).items():
            raw = _scalar(node)
            value = _b64(raw) if encoded else raw.encode()
            if not value or not value.strip():
                continue
            line, column = _at(node)
            yield _Hit(
                "kubernetes-secret-data",
                "Kubernetes Secret value",
                Severity.HIGH,
                line,
                column,
                value,
                f"{section}.{key}",
            )


def _docker_config(doc: dict[str, yaml.Node]) -> Iterator[_Hit]:
    for registry, entry in _mapping(doc.get("auths", yaml.ScalarNode("tag:yaml.org,2002:null", ""))).items():
        fields = _mapping(entry)
        auth = fields.get("auth")
        if auth is not None and _scalar(auth):
            decoded = _b64(_scalar(auth))
            if decoded is not None and b":" in decoded and decoded.split(b":", 1)[1]:
                line, column = _at(auth)
                yield _Hit(
                    "docker-config-auth",
                    f"Docker registry credentials ({registry})",
                    Severity.HIGH,
                    line,
                    column,
                    decoded.split(b":", 1)[1],
                    f"auths.{registry}.auth",
                )
        token = fields.get("identitytoken")
        if token is not None and len(_scalar(token)) >= 8:
            line, column = _at(token)
            yield _Hit(
                "docker-config-identitytoken",
                f"Docker registry identity token ({registry})",
                Severity.HIGH,
                line,
                column,
                _scalar(token).encode(),
                f"auths.{registry}.identitytoken",
            )


def encoded_credentials(data: bytes) -> Iterator[_Hit]:
    """Every credential of the kubeconfig, Secret and Docker config documents in ``data``."""
    try:
        documents = list(yaml.compose_all(data.decode("utf-8", errors="replace")))[:MAX_DOCUMENTS]
    except yaml.YAMLError:
        return
    for node in documents:
        doc = _mapping(node)
        kind = _scalar(doc.get("kind"))
        if "users" in doc and (kind == "Config" or "clusters" in doc or "contexts" in doc):
            yield from _kubeconfig(doc)
        if kind == "Secret":
            yield from _k8s_secret(doc)
        if "auths" in doc:
            yield from _docker_config(doc)


class EncodedCredentialsAnalyzer:
    """Decodes base64 credentials in kubeconfigs, Secrets and Docker configs (scanner family ``secret``)."""

    name = "encoded-credentials"
    version = 1
    scanner = "secret"

    def __init__(self, fingerprint: Fingerprinter) -> None:
        self.fingerprint = fingerprint
        self.version = 2000 + int(fingerprint.key_id[:6], 16)

    def required(self, path: str, info: FileInfo) -> bool:
        """YAML/JSON-ish configuration files by suffix or name (kubeconfig, ``config``)."""
        if info.size == 0 or info.size > MAX_BYTES:
            return False
        base = path.rsplit("/", 1)[-1].lower()
        return base.endswith(_SUFFIXES) or base in ("config", "kubeconfig") or base.startswith("kubeconfig")

    def analyze(self, input: AnalysisInput) -> AnalysisResult:
        """One finding per decoded credential, at the line of its value."""
        data = input.read()
        if not any(marker in data for marker in _MARKERS):
            return EMPTY
        findings = [self._finding(input.path, hit) for hit in encoded_credentials(data)]
        if not findings:
            return EMPTY
        return AnalysisResult(findings=tuple(findings), file_records=content_records(input.path, data))

    def _finding(self, path: str, hit: _Hit) -> Finding:
        shown = redact(hit.secret)
        return Finding(
            kind=FindingKind.SECRET,
            rule_id=hit.rule_id,
            title=hit.title,
            severity=hit.severity,
            location=Location(path, None, hit.line, hit.column, hit.line),
            message=f"{hit.title}: {hit.field} = {shown} (decoded)",
            fix="Revoke and rotate this credential, then remove it from the image and its history.",
            evidence=(
                Evidence(
                    DETECTOR,
                    f"base64 value of {hit.field}",
                    shown,
                    confidence=0.9,
                    details=(("field", hit.field),),
                ),
            ),
            fingerprint_material=self.fingerprint(hit.secret),
            suppressed=hit.suppressed or documentation_reason(path),
        )
