"""Helpers shared by check modules: secret-looking names, image references, control names."""

from __future__ import annotations

import re
from dataclasses import dataclass

# Control references, as ``framework:control``; the frameworks live in src/shieldwall/data/compliance.
CIS_DOCKER = "cis-docker-1.6"
CIS_K8S = "cis-kubernetes-1.23"
PSS_BASELINE = "k8s-pss-baseline"
PSS_RESTRICTED = "k8s-pss-restricted"
NSA = "nsa-cisa"
NIST = "nist-800-190"
PCI = "pci-dss-4.0"


def controls(*items: str) -> tuple[str, ...]:
    """Identity helper that keeps control lists readable at the call site."""
    return items


_SECRET_NAME = re.compile(
    r"(?:^|[_.-])(?:pass(?:word|wd|phrase)?|pwd|secret|token|api[_.-]?key|apikey|access[_.-]?key|"
    r"private[_.-]?key|client[_.-]?secret|credentials?|auth[_.-]?key|secret[_.-]?key|signing[_.-]?key|"
    r"encryption[_.-]?key|master[_.-]?key|session[_.-]?key|jwt[_.-]?secret|db[_.-]?pass|conn(?:ection)?[_.-]?string)"
    r"(?:$|[_.-])",
    re.IGNORECASE,
)
_NOT_SECRET_NAME = re.compile(
    r"(?:_FILE|_PATH|_DIR|_URL|_HOST|_PORT|_USER(?:NAME)?|_NAME|_ID|_LENGTH|_EXPIRY|_TTL|_FORMAT|_TYPE|_ENABLED|"
    r"_REF|_KEY_ID|_HEADER|_POLICY|_PROVIDER|_COMMAND|_CMD|_SECRET_NAME|_REGION)$",
    re.IGNORECASE,
)
_PLACEHOLDER = re.compile(
    r"^(?:\$\{?[A-Za-z_][A-Za-z0-9_]*(?::?-[^}]*)?\}?|\{\{.*\}\}|<[^>]*>|changeme|change[_-]?me|xxx+|\*+|"
    r"dummy|example|placeholder|none|null|nil|true|false|yes|no|\s*)$",
    re.IGNORECASE,
)


def secret_like_name(name: str) -> bool:
    """True for names such as ``DB_PASSWORD``, ``api-key``, ``AWS_SECRET_ACCESS_KEY`` (not ``*_FILE``)."""
    return bool(_SECRET_NAME.search(name)) and not _NOT_SECRET_NAME.search(name)


def literal_secret(value: object) -> bool:
    """True when ``value`` is a literal (not empty, a variable reference, or a placeholder)."""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        return False
    text = str(value).strip().strip("\"'")
    return bool(text) and not _PLACEHOLDER.match(text)


_DIGEST = re.compile(r"([a-z0-9]+(?:[.+_-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)")
_REGISTERED_DIGESTS = {"sha256": re.compile(r"[a-f0-9]{64}"), "sha512": re.compile(r"[a-f0-9]{128}"),
                       "blake3": re.compile(r"[a-f0-9]{64}")}  # fmt: skip


@dataclass(frozen=True, slots=True)
class ImageRef:
    """An image reference split into registry/repository, tag and digest."""

    name: str
    tag: str
    digest: str

    @property
    def variable(self) -> bool:
        """True when the reference is built from a variable (``$BASE``), so it cannot be judged."""
        return "$" in self.name or "$" in self.tag or "{{" in self.name

    @property
    def pinned_digest(self) -> bool:
        """True for a well-formed OCI digest (registered algorithms -- sha256, sha512, blake3 -- checked strictly)."""
        match = _DIGEST.fullmatch(self.digest)
        if match is None:
            return False
        strict = _REGISTERED_DIGESTS.get(match.group(1))
        return strict is None or bool(strict.fullmatch(match.group(2)))

    @property
    def unpinned(self) -> bool:
        """No tag, or the ``latest`` tag, and no digest."""
        return not self.pinned_digest and (not self.tag or self.tag.lower() == "latest")


def parse_image(reference: str) -> ImageRef:
    """``registry:5000/repo/name:tag@sha256:...`` -> name, tag, digest."""
    text = reference.strip()
    digest = ""
    if "@" in text:
        text, _, digest = text.partition("@")
    tag = ""
    slash = text.rfind("/")
    colon = text.rfind(":")
    if colon > slash:
        text, tag = text[:colon], text[colon + 1 :]
    return ImageRef(text, tag, digest)


SSH_PORTS = frozenset({22, 2222})

SECRET_VALUE = re.compile(
    r"AKIA[0-9A-Z]{16}|ASIA[0-9A-Z]{16}|-----BEGIN [A-Z ]*PRIVATE KEY-----|\bbearer\s+[A-Za-z0-9._~+/-]{8,}|"
    r"\bgh[pousr]_[A-Za-z0-9]{30,}|\bxox[abposr]-[A-Za-z0-9-]{10,}|\bsk_live_[A-Za-z0-9]{16,}|"
    r"\bAIza[0-9A-Za-z_-]{35}\b|\bglpat-[A-Za-z0-9_-]{20}\b",
    re.IGNORECASE,
)
"""Values that are credentials whatever their key is called (cloud keys, private keys, bearer tokens)."""
