"""The image config and the operating system identity of a target."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One history record of the image config (a Dockerfile instruction)."""

    created_by: str = ""
    created: str = ""
    comment: str = ""
    empty_layer: bool = False


@dataclass(frozen=True, slots=True)
class ImageConfig:
    """What the image config says about how the container runs."""

    os: str = ""
    architecture: str = ""
    variant: str = ""
    created: str = ""
    user: str = ""
    env: tuple[str, ...] = ()
    exposed_ports: tuple[str, ...] = ()
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    working_dir: str = ""
    labels: tuple[tuple[str, str], ...] = ()
    healthcheck: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    history: tuple[HistoryEntry, ...] = ()
    diff_ids: tuple[str, ...] = ()

    @property
    def platform(self) -> str:
        """``os/arch[/variant]``."""
        parts = [self.os, self.architecture] + ([self.variant] if self.variant else [])
        return "/".join(p for p in parts if p)


class EolStatus(StrEnum):
    """Support status of an OS release."""

    SUPPORTED = "supported"
    EOL = "end-of-life"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class OSInfo:
    """Operating system identity read from os-release and friends."""

    family: str
    name: str = ""
    version: str = ""
    version_codename: str = ""
    pretty_name: str = ""
    eol_date: str = ""
    eol_status: EolStatus = EolStatus.UNKNOWN
