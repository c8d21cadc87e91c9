"""PHP Composer packages: ``composer.lock`` (what should be installed) and
``vendor/composer/installed.json`` (what is installed)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from shieldwall.analyze.base import EMPTY, AnalysisInput, AnalysisResult, AnalyzerError, FileInfo, basename
from shieldwall.analyze.common import make_package, purl_for
from shieldwall.analyze.lang._bounded import MiB, load_json, string_list
from shieldwall.model import Package, PackageType

MAX_COMPOSER_BYTES = 32 * MiB

# Composer's platform packages (the PHP runtime, extensions, system libraries,
# Composer's own APIs): requirements on them are not package dependencies.
_PLATFORM_PACKAGE = re.compile(
    r"^(?:php(?:-64bit|-ipv6|-zts|-debug)?|hhvm|(?:ext|lib)-.+|composer(?:-(?:plugin|runtime)-api)?)$",
    re.IGNORECASE,
)


def is_platform_package(name: str) -> bool:
    """True for ``php``, ``ext-*``, ``lib-*`` and Composer API requirements."""
    return bool(_PLATFORM_PACKAGE.match(name))


def composer_purl(name: str, version: str) -> str:
    """``pkg:composer/<vendor>/<name>@<version>``; extra path parts join the name with ``-`` as syft does."""
    parts = name.split("/")
    if len(parts) == 1:
        return purl_for(PackageType.COMPOSER, name, version)
    return purl_for(PackageType.COMPOSER, "-".join(parts[1:]), version, namespace=parts[0])


def _composer_package(
    entry: object, index: int, path: str, found_by: str, dev: bool, warnings: list[str]
) -> Package | None:
    """A package from one ``packages`` entry (lock or installed.json); None, with a warning, if unusable."""
    if not isinstance(entry, dict):
        warnings.append(f"package #{index} is not an object, skipped")
        return None
    name, version = entry.get("name"), entry.get("version")
    if not isinstance(name, str) or not name.strip() or not isinstance(version, str) or not version:
        warnings.append(f"package #{index} has no name or version, skipped")
        return None
    name = name.strip()
    require = entry.get("require")
    depends_on: Iterable[str] = (
        [k for k in require if isinstance(k, str) and not is_platform_package(k)] if isinstance(require, dict) else []
    )
    metadata: dict[str, str] = {}
    if isinstance(entry.get("type"), str):
        metadata["type"] = entry["type"]
    if dev:
        metadata["dev"] = "true"
    source = entry.get("source")
    if isinstance(source, dict) and isinstance(source.get("reference"), str):
        metadata["source_reference"] = source["reference"]
    return make_package(
        PackageType.COMPOSER,
        name,
        version,
        path,
        found_by,
        purl=composer_purl(name, version),
        licenses=string_list(entry.get("license")),
        depends_on=depends_on,
        metadata=metadata,
    )


def _section(doc: dict[str, object], key: str, what: str) -> list[object]:
    value = doc.get(key, [])
    if value is None:
        return []
    if not isinstance(value, list):
        raise AnalyzerError(f"{what}: {key!r} is not a list")
    return value


class ComposerLockAnalyzer:
    """Packages pinned in ``composer.lock``: ``packages`` and, unless disabled, ``packages-dev``.

    syft reads only ``packages``; development packages are kept here (marked
    ``dev=true`` in the metadata) because they are installed by a plain
    ``composer install`` and end up in many images.
    """

    name = "php-composer-lock"
    version = 1

    def __init__(self, include_dev: bool = True) -> None:
        self.include_dev = include_dev

    def required(self, path: str, info: FileInfo) -> bool:
        """Every ``composer.lock``."""
        return basename(path) == "composer.lock"

    def analyze(self, input: AnalysisInput) -> AnalysisResult:
        """One package per lock entry, versions kept as written (``v1.2.3`` stays ``v1.2.3``)."""
        doc = load_json(input, MAX_COMPOSER_BYTES, "composer.lock")
        if not isinstance(doc, dict):
            raise AnalyzerError("composer.lock is not a JSON object")
        sections = [(_section(doc, "packages", "composer.lock"), False)]
        if self.include_dev:
            sections.append((_section(doc, "packages-dev", "composer.lock"), True))
        warnings: list[str] = []
        packages: list[Package] = []
        index = 0
        for entries, dev in sections:
            for entry in entries:
                package = _composer_package(entry, index, input.path, self.name, dev, warnings)
                index += 1
                if package is not None:
                    packages.append(package)
        if not packages and not warnings:
            return EMPTY
        return AnalysisResult(packages=tuple(packages), warnings=tuple(warnings))


class ComposerInstalledAnalyzer:
    """Packages Composer installed, from ``<vendor>/composer/installed.json`` (Composer 1 and 2 formats)."""

    name = "php-composer-installed"
    version = 1

    def required(self, path: str, info: FileInfo) -> bool:
        """``installed.json`` inside a ``composer`` directory (the vendor dir's bookkeeping)."""
        return path.endswith("/composer/installed.json")

    def analyze(self, input: AnalysisInput) -> AnalysisResult:
        """Composer 1 writes a list, Composer 2 an object with ``packages`` and ``dev-package-names``."""
        doc = load_json(input, MAX_COMPOSER_BYTES, "installed.json")
        dev_names: set[str] = set()
        if isinstance(doc, list):
            entries: list[object] = doc
        elif isinstance(doc, dict):
            entries = _section(doc, "packages", "installed.json")
            dev_names = set(string_list(doc.get("dev-package-names")))
        else:
            raise AnalyzerError("installed.json is neither a package list nor an object")
        warnings: list[str] = []
        packages: list[Package] = []
        for index, entry in enumerate(entries):
            name = entry.get("name") if isinstance(entry, dict) else None
            dev = isinstance(name, str) and name in dev_names
            package = _composer_package(entry, index, input.path, self.name, dev, warnings)
            if package is not None:
                packages.append(package)
        if not packages and not warnings:
            return EMPTY
        return AnalysisResult(packages=tuple(packages), warnings=tuple(warnings))


ANALYZERS = (ComposerLockAnalyzer, ComposerInstalledAnalyzer)
