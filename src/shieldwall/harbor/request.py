"""The ``ScanRequest`` Harbor POSTs, validated with the messages of the reference adapter.

Schema problems (wrong JSON types) are 400; values that parse but cannot be
used (a missing registry URL, a malformed digest) are 422, as in
``harbor-scanner-trivy``. The registry's ``authorization`` is a credential:
it is never logged or echoed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shieldwall.harbor.mime import SBOM_MEDIA_TYPES

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$|^sha512:[0-9a-f]{128}$")
_REPOSITORY = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")
MAX_FIELD = 4096


class RequestError(ValueError):
    """A scan request Harbor must correct: ``status`` is 400 (malformed) or 422 (invalid value)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class _Registry(BaseModel):
    model_config = ConfigDict(extra="ignore")
    url: str = Field(default="", max_length=MAX_FIELD)
    authorization: str = Field(default="", max_length=MAX_FIELD, repr=False)


class _Artifact(BaseModel):
    model_config = ConfigDict(extra="ignore")
    repository: str = Field(default="", max_length=MAX_FIELD)
    digest: str = Field(default="", max_length=MAX_FIELD)
    tag: str = Field(default="", max_length=MAX_FIELD)
    mime_type: str = Field(default="", max_length=MAX_FIELD)


class _Parameters(BaseModel):
    model_config = ConfigDict(extra="ignore")
    sbom_media_types: list[str] | None = None


class _Capability(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: str
    produces_mime_types: list[str] | None = None
    parameters: _Parameters | None = None


class _ScanRequestDoc(BaseModel):
    model_config = ConfigDict(extra="ignore")
    registry: _Registry = _Registry()
    artifact: _Artifact = _Artifact()
    enabled_capabilities: list[_Capability] | None = None


@dataclass(frozen=True, slots=True)
class ScanRequest:
    """A usable scan request."""

    registry_url: str
    authorization: str = field(repr=False)
    repository: str
    digest: str
    tag: str = ""
    mime_type: str = ""
    capabilities: tuple[str, ...] = ("vulnerability", "sbom")
    sbom_media_types: tuple[str, ...] = SBOM_MEDIA_TYPES

    @property
    def registry_host(self) -> str:
        """``host[:port]`` of the registry URL."""
        return urlsplit(self.registry_url).netloc

    @property
    def plain_http(self) -> bool:
        """True when Harbor gave an ``http://`` registry URL."""
        return urlsplit(self.registry_url).scheme == "http"

    def artifact(self) -> dict[str, str]:
        """The ``Artifact`` object reports echo back."""
        doc = {"repository": self.repository, "digest": self.digest}
        if self.tag:
            doc["tag"] = self.tag
        if self.mime_type:
            doc["mime_type"] = self.mime_type
        return doc


def _valid_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname) and not parts.username and not parts.password


def _capabilities(items: list[_Capability] | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    if items is None:
        return ("vulnerability", "sbom"), SBOM_MEDIA_TYPES
    kinds: list[str] = []
    media: list[str] = []
    for item in items:
        if item.produces_mime_types is None:
            raise RequestError(400, '"enabled_capabilities.produces_mime_types" is missing"')
        if item.type not in ("vulnerability", "sbom"):
            raise RequestError(422, "invalid scan type")
        if item.type == "sbom":
            wanted = item.parameters.sbom_media_types if item.parameters else None
            if not wanted:
                raise RequestError(422, "missing SBOM media type")
            for value in wanted:
                if value not in SBOM_MEDIA_TYPES:
                    raise RequestError(422, f"unsupported SBOM media type: {value!r}".replace("'", '"'))
            media.extend(wanted)
        kinds.append(item.type)
    return tuple(dict.fromkeys(kinds)), tuple(dict.fromkeys(media)) or SBOM_MEDIA_TYPES


def parse_scan_request(body: bytes) -> ScanRequest:
    """Validate a ``POST /scan`` body; ``RequestError`` says what is wrong and with which status."""
    import json

    try:
        data: Any = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise RequestError(400, f"unmarshalling scan request: {str(exc)[:200]}") from None
    if not isinstance(data, dict):
        raise RequestError(400, "unmarshalling scan request: not a JSON object")
    try:
        doc = _ScanRequestDoc.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise RequestError(400, f"unmarshalling scan request: {where}: {first['msg']}") from None
    kinds, media = _capabilities(doc.enabled_capabilities)
    if not doc.registry.url:
        raise RequestError(422, "missing registry.url")
    if not _valid_url(doc.registry.url):
        raise RequestError(422, "invalid registry.url")
    if not doc.artifact.repository:
        raise RequestError(422, "missing artifact.repository")
    if not _REPOSITORY.match(doc.artifact.repository):
        raise RequestError(422, "invalid artifact.repository")
    if not doc.artifact.digest:
        raise RequestError(422, "missing artifact.digest")
    if not _DIGEST.match(doc.artifact.digest):
        raise RequestError(422, "invalid artifact.digest")
    return ScanRequest(
        registry_url=doc.registry.url.rstrip("/"),
        authorization=doc.registry.authorization,
        repository=doc.artifact.repository,
        digest=doc.artifact.digest,
        tag=doc.artifact.tag,
        mime_type=doc.artifact.mime_type,
        capabilities=kinds,
        sbom_media_types=media,
    )
