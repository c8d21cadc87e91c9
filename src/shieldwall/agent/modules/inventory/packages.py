"""Packages of a live root through the existing analyzers, without walking the whole filesystem.

OS package databases live at a few known paths: only those files (and
``os-release``) are handed to the OS analyzers. Language packages are found
by walking the configured application paths with the same analyzers an
image scan uses. Every path is resolved inside the root: a symlink that
leaves it is refused, like in an image.
"""

from __future__ import annotations

import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from shieldwall.analyze.base import Analyzer
from shieldwall.analyze.runner import analyze_layer
from shieldwall.analyze.secret.provenance import index_records
from shieldwall.merge.layers import merge_layers
from shieldwall.merge.os_owned import mark_os_owned, os_owner
from shieldwall.model import LayerRef, OSInfo, Package
from shieldwall.target.directory import DirectoryLayer
from shieldwall.target.entries import Entry, EntryKind
from shieldwall.target.limits import DEFAULT_LIMITS, Limits

OS_FILES = (
    "etc/os-release",
    "usr/lib/os-release",
    "etc/debian_version",
    "etc/alpine-release",
    "etc/redhat-release",
    "etc/system-release",
    "var/lib/dpkg/status",
    "lib/apk/db/installed",
    "usr/lib/apk/db/installed",
)
OS_DIRS = ("var/lib/dpkg/status.d", "var/lib/dpkg/info", "var/lib/rpm", "usr/lib/sysimage/rpm", "usr/share/rpm")
MAX_FILE_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Catalogue:
    """What the analyzers found: the OS, the packages and warnings (never silent)."""

    os: OSInfo | None
    packages: tuple[Package, ...]
    warnings: tuple[str, ...]


def inside(root: Path, relative: str) -> Path | None:
    """``root/relative`` resolved, or None when it does not exist or resolves outside ``root``."""
    real_root = root.resolve()
    try:
        resolved = (root / relative).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if resolved != real_root and real_root not in resolved.parents:
        return None
    return resolved


def _reader(path: Path, size: int) -> object:
    def read() -> bytes:
        if size > MAX_FILE_BYTES:
            raise OSError(f"{path}: larger than {MAX_FILE_BYTES} bytes")
        return path.read_bytes()

    return read


class SelectedLayer:
    """A one-layer view of chosen files and subtrees of a root (paths as they appear under the root)."""

    cache_key = ""
    read_blob_digest = ""
    blob_key = ""
    read_order = 0

    def __init__(self, root: Path, files: Sequence[str], dirs: Sequence[str], limits: Limits = DEFAULT_LIMITS) -> None:
        self.root = root
        self.files = files
        self.dirs = dirs
        self.limits = limits
        self.ref = LayerRef(0, "", f"host {root}")

    def cache_identity(self) -> str:
        """A live host view is never cached."""
        return ""

    def walk(self) -> Iterator[Entry]:
        """Yield the chosen files, then every entry of the chosen directories."""
        for relative in self.files:
            real = inside(self.root, relative)
            if real is None:
                continue
            st = real.stat()
            if not stat.S_ISREG(st.st_mode):
                continue
            yield Entry("/" + relative, EntryKind.FILE, st.st_size, st.st_mode & 0o7777, read=_reader(real, st.st_size))  # type: ignore[arg-type]
        for relative in self.dirs:
            real = inside(self.root, relative)
            if real is None or not real.is_dir():
                continue
            prefix = "/" + relative.strip("/")
            for entry in DirectoryLayer(real, self.limits).walk():
                yield replace(entry, path=prefix + entry.path)


def package_analyzers() -> list[Analyzer]:
    """The package catalogers of ``analyze.registry`` (OS and languages), without the content detectors.

    Importing the registry's full list would load the secret, malware and
    misconfiguration engines (hyperscan, YARA...) into a long-running agent that
    never uses them; ``tests/unit/agent/test_inventory.py`` checks that this list
    is exactly the registry's inventory analyzers.
    """
    from shieldwall.analyze.lang import dotnet, golang, java, javascript, php, python, ruby, rust
    from shieldwall.analyze.os import apk, dpkg, owned, release, rpm

    factories: list[Any] = [release.OSReleaseAnalyzer, dpkg.DpkgStatusAnalyzer, dpkg.DpkgCopyrightAnalyzer]
    factories += [apk.ApkAnalyzer, rpm.RpmAnalyzer, *ruby.ANALYZERS, *php.ANALYZERS, *dotnet.ANALYZERS]
    factories += [*python.ANALYZERS, *javascript.ANALYZERS, *golang.ANALYZERS, *java.ANALYZERS, *rust.ANALYZERS]
    factories += [owned.OwnedLanguageFilesAnalyzer]  # which OS package owns a language package's metadata
    return [factory() for factory in factories]


def catalogue(root: Path, app_paths: Sequence[str], limits: Limits = DEFAULT_LIMITS) -> Catalogue:
    """OS packages from the package databases under ``root`` and language packages under ``app_paths``."""
    analyzers = package_analyzers()
    warnings: list[str] = []
    layers = [SelectedLayer(root, OS_FILES, OS_DIRS, limits)]
    for app in app_paths:
        relative = app.strip("/")
        if not relative or ".." in Path(relative).parts:
            warnings.append(f"app path {app!r} refused (empty or with ..)")
            continue
        if inside(root, relative) is None:
            warnings.append(f"app path {app} not found under the root (or outside it)")
            continue
        layers.append(SelectedLayer(root, (), (relative,), limits))
    results = []
    for layer in layers:
        try:
            results.append((layer.ref, analyze_layer(layer, analyzers)))
        except Exception as exc:  # one unreadable tree is a warning, the rest still counts
            warnings.append(f"{layer.ref.created_by}: {type(exc).__name__}: {exc}")
    merged = merge_layers(results)
    warnings.extend(w.message for w in merged.warnings)
    # language packages an OS package installed (python3-setuptools' egg-info) are matched through it
    owners, _ = index_records(
        (ref.digest, record) for ref, outcome in results for fr in outcome.files for record in fr.result.file_records
    )
    packages = mark_os_owned(merged.packages, owners)
    return Catalogue(merged.os, packages, tuple(warnings))


def package_wire(package: Package) -> dict[str, object]:
    """The compact form the manager's ``PackageIn`` accepts."""
    return {
        "type": str(package.type),
        "name": package.name[:512],
        "version": package.version[:256],
        "purl": package.purl[:2048],
        "source_name": package.source_name[:512],
        "source_version": package.source_version[:256],
        "arch": package.arch[:32],
        "found_by": package.found_by[:64],
        "path": package.locations[0].path[:4096] if package.locations else "",
        "licenses": [x[:256] for x in package.licenses[:32]],
        "os_owner": os_owner(package)[:256],
    }


def os_wire(info: OSInfo | None) -> dict[str, str] | None:
    """The compact OS identity."""
    if info is None:
        return None
    return {
        "family": info.family[:64],
        "name": info.name[:128],
        "version": info.version[:64],
        "version_codename": info.version_codename[:64],
        "pretty_name": info.pretty_name[:256],
    }
