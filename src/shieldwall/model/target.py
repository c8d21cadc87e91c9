"""What is being scanned: the reference a user typed and what it resolved to."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class TargetKind(StrEnum):
    """How Shieldwall reads a target; also the prefix a user may type."""

    DIRECTORY = "dir"
    DOCKER_ARCHIVE = "docker-archive"
    OCI = "oci"
    REGISTRY = "registry"
    SBOM = "sbom"


@dataclass(frozen=True, slots=True)
class TargetRef:
    """A parsed target argument (``docker-archive:app.tar``, ``./src``...)."""

    kind: TargetKind
    value: str
    platform: str = ""

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"


@dataclass(frozen=True, slots=True)
class Target:
    """A resolved target: its display name and, for images, its identity."""

    ref: TargetRef
    name: str
    digest: str = ""
    image_id: str = ""
    tags: tuple[str, ...] = ()
    repository: str = ""
