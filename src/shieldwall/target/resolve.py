"""Turn what a user typed into a ``TargetRef`` and then into a ``ResolvedTarget``."""

from __future__ import annotations

import re
import tarfile
from pathlib import Path

from shieldwall.errors import InputError
from shieldwall.model import TargetKind, TargetRef
from shieldwall.target.base import ResolvedTarget
from shieldwall.target.limits import Limits
from shieldwall.target.tarinfo import BoundedTarInfo

_PREFIXES = {
    "dir": TargetKind.DIRECTORY,
    "docker-archive": TargetKind.DOCKER_ARCHIVE,
    "oci": TargetKind.OCI,
    "oci-dir": TargetKind.OCI,
    "oci-archive": TargetKind.OCI,
    "registry": TargetKind.REGISTRY,
    "sbom": TargetKind.SBOM,
}

# host[:port]/path[:tag][@digest] — loose on purpose; the registry client validates strictly.
_IMAGE_REF = re.compile(
    r"^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9._/-]+)?(:[\w][\w.-]{0,127})?(@sha256:[0-9a-f]{64})?$"
)


def _sniff_tar(path: Path) -> TargetKind | None:
    try:
        with tarfile.open(path, mode="r:*", tarinfo=BoundedTarInfo) as tar:
            names = set()
            for index, member in enumerate(tar):
                names.add(member.name.removeprefix("./"))
                if "manifest.json" in names:
                    return TargetKind.DOCKER_ARCHIVE
                if index > 10_000:
                    break
            if "index.json" in names or "oci-layout" in names:
                return TargetKind.OCI
    except (tarfile.TarError, OSError, EOFError):
        return None
    return None


def parse_target(text: str, platform: str = "") -> TargetRef:
    """Classify a target argument; explicit prefixes win over sniffing."""
    prefix, sep, rest = text.partition(":")
    if sep and prefix in _PREFIXES and not (len(prefix) == 1 and rest.startswith("\\")):
        return TargetRef(_PREFIXES[prefix], rest, platform)
    path = Path(text).expanduser()
    if path.is_dir():
        if (path / "oci-layout").is_file() and (path / "index.json").is_file():
            return TargetRef(TargetKind.OCI, text, platform)
        return TargetRef(TargetKind.DIRECTORY, text, platform)
    if path.is_file():
        kind = _sniff_tar(path)
        if kind is not None:
            return TargetRef(kind, text, platform)
        from shieldwall.target.sbom import looks_like_sbom  # heavy imports: only for non-archives

        if looks_like_sbom(path):
            return TargetRef(TargetKind.SBOM, text, platform)
        raise InputError(f"{text}: not a directory, image archive, OCI layout or SBOM")
    if _IMAGE_REF.match(text):
        return TargetRef(TargetKind.REGISTRY, text, platform)
    raise InputError(f"{text}: no such file or directory, and not an image reference")


def resolve(ref: TargetRef, limits: Limits) -> ResolvedTarget:
    """Open a target for scanning; the caller must call ``close()`` on the result."""
    match ref.kind:
        case TargetKind.DIRECTORY:
            from shieldwall.target.directory import resolve_directory

            return resolve_directory(ref, limits)
        case TargetKind.DOCKER_ARCHIVE:
            from shieldwall.target.docker_archive import resolve_docker_archive

            return resolve_docker_archive(ref, limits)
        case TargetKind.OCI:
            from shieldwall.target.oci_layout import resolve_oci_layout

            return resolve_oci_layout(ref, limits)
        case TargetKind.REGISTRY:
            from shieldwall.target.registry import resolve_registry

            return resolve_registry(ref, limits)
        case TargetKind.SBOM:
            return _resolve_sbom(ref, limits)


def _resolve_sbom(ref: TargetRef, limits: Limits) -> ResolvedTarget:
    from shieldwall.model import Target
    from shieldwall.target.sbom import read_sbom

    path = Path(ref.value)
    if not path.is_file():
        raise InputError(f"{ref.value}: no such SBOM file")
    name, packages, os_info = read_sbom(path)
    return ResolvedTarget(target=Target(ref=ref, name=name or str(path)), layers=[], packages=packages, os=os_info)
