"""Image references (``registry/repo:tag@digest``), parsed strictly with docker's grammar.

The grammar is the one of ``github.com/distribution/reference``: an optional
registry host (the first path component, when it contains ``.`` or ``:`` or
is ``localhost``), lower-case path components joined by ``/``, an optional
``:tag`` and an optional ``@algo:hex`` digest. Names without a registry live
on Docker Hub, and single-component Hub names get the ``library/`` prefix,
so ``alpine`` means ``docker.io/library/alpine:latest``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shieldwall.errors import InputError

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
DEFAULT_TAG = "latest"
MAX_NAME_LENGTH = 255

_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_NAME = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*"
_IPV6 = r"\[[a-fA-F0-9:]+\]"
_DOMAIN = re.compile(rf"^(?:{_DOMAIN_NAME}|{_IPV6})(?::[0-9]+)?$")
_PATH_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST_HEX = {"sha256": 64, "sha512": 128}


@dataclass(frozen=True, slots=True)
class ImageReference:
    """A fully qualified image reference.

    ``registry`` is the registry's name as users write it (``docker.io``,
    ``ghcr.io``, ``127.0.0.1:5000``); ``api_host`` is where its API lives.
    ``tag`` is empty only when the image is pulled by ``digest`` alone.
    """

    registry: str
    repository: str
    tag: str = ""
    digest: str = ""

    @property
    def api_host(self) -> str:
        """Host[:port] that serves the distribution API (Docker Hub's differs from its name)."""
        return registry_api_host(self.registry)

    @property
    def name(self) -> str:
        """``registry/repository`` without tag or digest."""
        return f"{self.registry}/{self.repository}"

    @property
    def manifest_reference(self) -> str:
        """What to ask the manifests endpoint for: the digest when known, else the tag."""
        return self.digest or self.tag

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def registry_api_host(registry: str) -> str:
    """Host[:port] serving the API of a registry name (``docker.io`` -> ``registry-1.docker.io``)."""
    return DOCKER_HUB_API if registry.lower() in _HUB_ALIASES else registry


def _check_digest(digest: str, text: str) -> str:
    algo, sep, hexpart = digest.partition(":")
    if not sep or algo not in _DIGEST_HEX:
        raise InputError(f"{text!r}: unsupported digest {digest!r} (expected sha256:<64 hex digits>)")
    if len(hexpart) != _DIGEST_HEX[algo] or not re.fullmatch(r"[0-9a-f]+", hexpart):
        raise InputError(f"{text!r}: malformed {algo} digest (expected {_DIGEST_HEX[algo]} lower-case hex digits)")
    return digest


def _split_domain(name: str) -> tuple[str, str]:
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first != first.lower()):
        return first, rest
    return "", name


def parse_reference(text: str) -> ImageReference:
    """Parse ``[registry/]repo[:tag][@digest]``; anything malformed raises ``InputError``.

    A ``docker://`` prefix (skopeo's transport spelling) is accepted and dropped.
    """
    raw = text.strip()
    raw = raw.removeprefix("docker://")
    if not raw:
        raise InputError("empty image reference")
    if any(c.isspace() for c in raw):
        raise InputError(f"{text!r}: image reference contains whitespace")
    name, _, digest = raw.partition("@")
    if digest:
        _check_digest(digest, text)
    elif raw.endswith("@"):
        raise InputError(f"{text!r}: empty digest after '@'")
    tag = ""
    # A ':' after the last '/' starts the tag; one before it belongs to the registry's port.
    colon = name.rfind(":")
    if colon > name.rfind("/"):
        name, tag = name[:colon], name[colon + 1 :]
        if not _TAG.match(tag):
            raise InputError(f"{text!r}: invalid tag {tag!r} (letters, digits, '_', '.', '-'; at most 128)")
    if not name:
        raise InputError(f"{text!r}: missing repository name")
    if len(name) > MAX_NAME_LENGTH:
        raise InputError(f"{text!r}: repository name is longer than {MAX_NAME_LENGTH} characters")
    domain, path = _split_domain(name)
    if domain and not _DOMAIN.match(domain):
        raise InputError(f"{text!r}: invalid registry host {domain!r}")
    components = path.split("/")
    for component in components:
        if not _PATH_COMPONENT.match(component):
            hint = " (repository names must be lower-case)" if component.lower() != component else ""
            raise InputError(f"{text!r}: invalid repository path component {component!r}{hint}")
    registry = domain or DOCKER_HUB
    if registry in _HUB_ALIASES:
        registry = DOCKER_HUB
        if len(components) == 1:
            path = f"library/{path}"
    if not tag and not digest:
        tag = DEFAULT_TAG
    return ImageReference(registry=registry, repository=path, tag=tag, digest=digest)
