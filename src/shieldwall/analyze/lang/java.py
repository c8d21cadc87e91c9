"""Java: archives (jar, war, ear and friends, nested ones included), ``pom.xml`` and Gradle lockfiles.

Names, versions and PURL namespaces follow syft's java-archive-cataloger so
inventories can be compared:

* Each archive with a ``META-INF/MANIFEST.MF`` yields a main package. Its
  artifact and version come from a ``pom.properties`` whose artifactId matches
  the file name, else from the manifest and the file name
  (``name-1.2.3.jar``). Every other ``pom.properties`` (shaded dependencies)
  yields its own package; one with the main package's artifactId is merged
  into it. Archives without a manifest still report their ``pom.properties``.
* The group (PURL namespace) is the pom.properties groupId, else a manifest
  field that starts like a reverse domain (``Bundle-SymbolicName``,
  ``Implementation-Vendor-Id``...), else the artifact name itself, as syft
  does. Syft's built-in artifact-to-group table is not reproduced.
* Nested archives (``WEB-INF/lib/*.jar``, ``BOOT-INF/lib/*.jar``, any member
  with an archive suffix) are opened in memory, recursively. Their packages
  carry the outer file as location and ``outer.war:WEB-INF/lib/inner.jar`` as
  the ``virtual_path`` metadata.

Hostile archives are bounded: nesting depth, member count, declared and
actually decompressed bytes. Going over a bound is a zip bomb and raises
``AnalyzerError`` for the file.
"""

from __future__ import annotations

import io
import posixpath
import re
import unicodedata
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from shieldwall.analyze.base import AnalysisInput, AnalysisResult, AnalyzerError, FileInfo, basename
from shieldwall.analyze.common import make_package, maven_purl
from shieldwall.model import Package, PackageType

GiB = 1024 * 1024 * 1024
MiB = 1024 * 1024

ARCHIVE_SUFFIXES = (".jar", ".war", ".ear", ".par", ".sar", ".nar", ".jpi", ".hpi", ".kar", ".lpkg")
_JENKINS_SUFFIXES = (".jpi", ".hpi")
_MAX_METADATA_FILE = 1 * MiB
_MAX_NAME_LENGTH = 512


@dataclass(frozen=True, slots=True)
class JavaArchiveLimits:
    """Bounds for one top-level archive and everything nested in it."""

    max_depth: int = 4
    max_total_uncompressed: int = 1 * GiB
    max_members: int = 500_000
    max_archive_size: int = 1 * GiB


# --------------------------------------------------------------------------- file names


_NAME = re.compile(r"[A-Za-z](?:[0-9A-Za-z_.]|-(?=[A-Za-z]))*-?")
_VERSION = re.compile(r"\d.*|build\d+.*|rc?\d+", re.IGNORECASE | re.DOTALL | re.ASCII)


@dataclass(frozen=True, slots=True)
class ArchiveFilename:
    """Name and version guessed from an archive's file name (``spring-core-5.3.1.jar``)."""

    raw: str
    name: str
    version: str

    @property
    def extension(self) -> str:
        """The suffix without its dot (``jar``)."""
        return posixpath.splitext(self.raw)[1].lstrip(".")


def archive_filename(raw: str) -> ArchiveFilename:
    """Split a file name into artifact name and version the way syft does.

    Syft uses an ungreedy RE2 pattern; this is a linear-time equivalent (the
    pattern itself backtracks exponentially in Python): the name is the
    shortest valid prefix followed by ``-`` and a version-looking rest.
    """
    stem = posixpath.splitext(posixpath.basename(raw.replace(":", "/")))[0][:_MAX_NAME_LENGTH]
    name, version = "", ""
    for end in range(1, len(stem) + 1):
        if not _NAME.fullmatch(stem, 0, end):
            continue
        if end == len(stem):
            name = stem
            break
        if stem[end] == "-" and _VERSION.fullmatch(stem, end + 1):
            name, version = stem[:end], stem[end + 1 :]
            break
    if name and not version:
        # some archives use "_<version>" or ".<version>"
        for i, char in enumerate(name):
            if char in "._-" and _VERSION.fullmatch(name, i + 1):
                name, version = name[:i], name[i + 1 :]
                break
    return ArchiveFilename(raw, name, version)


# --------------------------------------------------------------------------- manifest


@dataclass(frozen=True, slots=True)
class JavaManifest:
    """``META-INF/MANIFEST.MF``: the main section and the per-entry sections, in order."""

    main: dict[str, str]
    sections: tuple[dict[str, str], ...] = ()

    def get(self, key: str) -> str:
        """Value of ``key`` in the main section, else in the first section that has it."""
        if self.main.get(key):
            return self.main[key]
        return next((s[key] for s in self.sections if s.get(key)), "")


def parse_manifest(text: str) -> JavaManifest:
    """Parse manifest ``Key: value`` lines, continuation lines and blank-line-separated sections."""
    sections: list[dict[str, str]] = []
    current: dict[str, str] | None = None
    last_key = ""
    for line in text.splitlines():
        if not line.strip():
            current, last_key = None, ""
            continue
        if line.startswith(" "):
            if current is not None and last_key:
                current[last_key] += line[1:].rstrip("\r")
            continue
        key, sep, value = line.partition(":")
        key = key.strip()
        if not sep or not key:
            continue
        if current is None:
            current = {}
            sections.append(current)
        current[key] = value.strip()
        last_key = key
    for section in sections:
        for key, value in section.items():
            section[key] = value.strip()
    if not sections:
        return JavaManifest({})
    return JavaManifest(sections[0], tuple(sections[1:]))


_TLD_PREFIXES = ("com", "org", "net", "io", "be")
_PRIMARY_GROUP_FIELDS = (
    "Group-Id",
    "Bundle-SymbolicName",
    "Extension-Name",
    "Specification-Vendor",
    "Implementation-Vendor",
    "Implementation-Vendor-Id",
    "Implementation-Title",
    "Bundle-Activator",
)
_SECONDARY_GROUP_FIELDS = ("Automatic-Module-Name", "Main-Class", "Package")


def clean_group_id(value: str) -> str:
    """Drop OSGi directives (``org.foo;singleton:=true``) and fragments from a group-like value."""
    return value.split(";", 1)[0].split("#", 1)[0].strip()


def _manifest_group_ids(manifest: JavaManifest, fields: tuple[str, ...]) -> list[str]:
    found: list[str] = []
    for key in fields:
        for section in (manifest.main, *manifest.sections):
            value = section.get(key, "")
            if value and value.startswith(_TLD_PREFIXES):
                found.append(clean_group_id(value))
    return sorted(found)


def group_from_manifest(manifest: JavaManifest | None) -> str:
    """The group syft derives from manifest fields: first (sorted) reverse-domain-looking value."""
    if manifest is None:
        return ""
    for fields in (_PRIMARY_GROUP_FIELDS, _SECONDARY_GROUP_FIELDS):
        found = _manifest_group_ids(manifest, fields)
        if found:
            return found[0]
    return ""


def _is_java_identifier_start(text: str) -> bool:
    return bool(text) and unicodedata.category(text[0]) in {"Lu", "Ll", "Lt", "Lm", "Lo", "Nl", "Sc", "Pc"}


def _name_from_bundle_plugin(manifest: JavaManifest) -> str:
    if "Apache Maven Bundle Plugin" not in manifest.main.get("Created-By", ""):
        return ""
    symbolic = clean_group_id(manifest.main.get("Bundle-SymbolicName", ""))
    if not symbolic:
        return ""
    vendor_id = manifest.main.get("Implementation-Vendor-Id", "")
    if vendor_id and vendor_id == symbolic:
        return ""
    return symbolic.split(".")[-1]


def _name_from_filename(info: ArchiveFilename) -> str:
    if "." in info.name:
        if info.name.startswith("org.eclipse."):
            return info.name
        fields = info.name.split(".")
        if all(_is_java_identifier_start(f) for f in fields):
            return fields[-1]
    return info.name


def select_name(manifest: JavaManifest, info: ArchiveFilename) -> str:
    """Artifact name of an archive without a matching pom.properties."""
    name = _name_from_bundle_plugin(manifest) or _name_from_filename(info)
    if name:
        return name
    for key in ("Name", "Bundle-Name", "Short-Name", "Extension-Name", "Implementation-Title"):
        if manifest.main.get(key):
            return manifest.main[key]
    return ""


def select_version(manifest: JavaManifest, info: ArchiveFilename) -> str:
    """Version of an archive without a matching pom.properties: file name first, then manifest."""
    if info.version:
        return info.version
    for key in ("Implementation-Version", "Specification-Version", "Plugin-Version", "Bundle-Version"):
        value = manifest.get(key)
        if value:
            return value
    return ""


# --------------------------------------------------------------------------- pom.properties


@dataclass(frozen=True, slots=True)
class PomProperties:
    """``META-INF/maven/<group>/<artifact>/pom.properties``."""

    path: str
    group_id: str
    artifact_id: str
    version: str

    @property
    def parent(self) -> str:
        """Directory that holds the file (pom.xml beside it describes the same artifact)."""
        return posixpath.dirname(self.path)


def parse_pom_properties(path: str, text: str) -> PomProperties | None:
    """Parse ``key=value`` / ``key: value`` lines; None without artifactId or version."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", "!")):
            continue
        match = re.search(r"[=:]", line)
        if match is None:
            continue
        values[line[: match.start()].strip()] = line[match.end() :].strip()
    artifact, version = values.get("artifactId", ""), values.get("version", "")
    if not artifact or not version:
        return None
    return PomProperties(path, values.get("groupId", ""), artifact, version)


def group_from_pom(pom: PomProperties) -> str:
    """groupId, or an artifactId that really is a group (it has dots), cleaned."""
    if pom.group_id:
        return clean_group_id(pom.group_id)
    if "." in pom.artifact_id:
        return clean_group_id(pom.artifact_id)
    return ""


def _artifact_matches_filename(artifact: str, filename: str, artifacts: set[str]) -> bool:
    if not artifact or not filename:
        return False
    if filename in artifacts:
        return artifact == filename
    return artifact.startswith(filename) or filename.endswith(artifact)


# --------------------------------------------------------------------------- archive walking


@dataclass(slots=True)
class _Budget:
    limits: JavaArchiveLimits
    members: int = 0
    read: int = 0
    warnings: list[str] = field(default_factory=list)

    def add_members(self, count: int, where: str) -> None:
        self.members += count
        if self.members > self.limits.max_members:
            raise AnalyzerError(f"zip bomb: {where} brings the member count over {self.limits.max_members}")

    def add_read(self, size: int, where: str) -> None:
        self.read += size
        if self.read > self.limits.max_total_uncompressed:
            raise AnalyzerError(f"zip bomb: decompressing {where} goes over {self.limits.max_total_uncompressed} bytes")


_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError, ValueError)
_CHUNK = 1 * MiB


@dataclass(frozen=True, slots=True)
class _Found:
    artifact: str
    version: str
    group: str
    virtual_path: str
    metadata: tuple[tuple[str, str], ...]


def _member_name(info: zipfile.ZipInfo) -> str:
    name = info.filename.replace("\\", "/")
    while name.startswith(("/", "./")):
        name = name[1:] if name.startswith("/") else name[2:]
    return name


class _ArchiveWalker:
    def __init__(self, limits: JavaArchiveLimits, budget: _Budget) -> None:
        self.limits = limits
        self.budget = budget

    def read_member(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo, where: str, cap: int) -> bytes | None:
        """Decompress one member, counting bytes against the budget; None (with a warning) if broken."""
        if info.file_size > cap:
            self.budget.warnings.append(f"{where}: {info.file_size} bytes, over the {cap}-byte limit")
            return None
        chunks: list[bytes] = []
        total = 0
        try:
            with zf.open(info) as handle:
                while True:
                    chunk = handle.read(_CHUNK)
                    if not chunk:
                        break
                    total += len(chunk)
                    self.budget.add_read(len(chunk), where)
                    if total > cap:
                        self.budget.warnings.append(f"{where}: larger than declared, skipped")
                        return None
                    chunks.append(chunk)
        except (*_ZIP_ERRORS, NotImplementedError, RuntimeError) as exc:
            self.budget.warnings.append(f"{where}: cannot decompress ({type(exc).__name__}: {exc})")
            return None
        return b"".join(chunks)

    def walk(self, data: bytes, virtual_path: str, depth: int) -> Iterator[_Found]:
        """Packages of one archive and, recursively, of the archives inside it."""
        try:
            zf = zipfile.ZipFile(io.BytesIO(data))
        except _ZIP_ERRORS as exc:
            if depth == 0:
                raise AnalyzerError(f"not a readable zip archive: {exc}") from None
            self.budget.warnings.append(f"{virtual_path}: not a readable zip archive ({exc})")
            return
        with zf:
            infos = [i for i in zf.infolist() if not i.is_dir()]
            self.budget.add_members(len(infos), virtual_path)
            declared = sum(i.file_size for i in infos)
            if declared > self.limits.max_total_uncompressed:
                raise AnalyzerError(
                    f"zip bomb: {virtual_path} declares {declared} uncompressed bytes, "
                    f"over {self.limits.max_total_uncompressed}"
                )
            by_name: dict[str, zipfile.ZipInfo] = {}
            for info in infos:
                by_name.setdefault(_member_name(info), info)
            yield from self._packages(zf, by_name, virtual_path)
            nested = sorted(n for n in by_name if n.lower().endswith(ARCHIVE_SUFFIXES))
            if nested and depth >= self.limits.max_depth:
                self.budget.warnings.append(
                    f"{virtual_path}: {len(nested)} nested archive(s) deeper than {self.limits.max_depth} skipped"
                )
                return
            for name in nested:
                where = f"{virtual_path}:{name}"
                content = self.read_member(zf, by_name[name], where, self.limits.max_archive_size)
                if content is not None:
                    yield from self.walk(content, where, depth + 1)

    def _packages(self, zf: zipfile.ZipFile, by_name: dict[str, zipfile.ZipInfo], vpath: str) -> Iterator[_Found]:
        manifest: JavaManifest | None = None
        info = by_name.get("META-INF/MANIFEST.MF")
        if info is not None:
            raw = self.read_member(zf, info, f"{vpath}:META-INF/MANIFEST.MF", _MAX_METADATA_FILE)
            if raw is not None:
                manifest = parse_manifest(raw.decode("utf-8", errors="replace"))
        poms: list[PomProperties] = []
        for name in sorted(n for n in by_name if n.endswith("pom.properties")):
            raw = self.read_member(zf, by_name[name], f"{vpath}:{name}", _MAX_METADATA_FILE)
            if raw is None:
                continue
            pom = parse_pom_properties(name, raw.decode("utf-8", errors="replace"))
            if pom is not None:
                poms.append(pom)
        poms.sort(key=lambda p: p.parent)
        filename = archive_filename(vpath.rsplit(":", 1)[-1])
        jenkins = filename.raw.lower().endswith(_JENKINS_SUFFIXES)

        main_artifact = ""
        if manifest is not None and "Weave-Classes" not in manifest.main:
            artifacts = {p.artifact_id for p in poms}
            chosen: PomProperties | None = None
            for pom in poms:
                if _artifact_matches_filename(pom.artifact_id, filename.name, artifacts):
                    chosen = pom
                    if pom.parent + "/pom.xml" in by_name:
                        break
            main_artifact = chosen.artifact_id if chosen else select_name(manifest, filename)
            main_version = chosen.version if chosen else select_version(manifest, filename)
            merged = next((p for p in poms if p.artifact_id == main_artifact), None)
            if merged is not None:
                main_version = merged.version
            if main_artifact:
                group = (group_from_pom(merged) if merged else "") or group_from_manifest(manifest)
                meta = {"source": "manifest" if merged is None else "pom.properties"}
                if merged is not None:
                    meta["pom_properties"] = merged.path
                if jenkins:
                    meta["java_type"] = "jenkins-plugin"
                yield _Found(main_artifact, main_version, group, vpath, tuple(sorted(meta.items())))
        for pom in poms:
            if main_artifact and pom.artifact_id == main_artifact:
                continue
            meta = {"source": "pom.properties", "pom_properties": pom.path}
            yield _Found(pom.artifact_id, pom.version, group_from_pom(pom), vpath, tuple(sorted(meta.items())))


class JavaArchiveAnalyzer:
    """Packages in Java archives, including nested archives, read in memory under zip-bomb limits."""

    name = "java-archive"
    version = 1

    def __init__(self, limits: JavaArchiveLimits | None = None) -> None:
        self.limits = limits or JavaArchiveLimits()

    def required(self, path: str, info: FileInfo) -> bool:
        return path.lower().endswith(ARCHIVE_SUFFIXES) and info.size <= self.limits.max_archive_size

    def analyze(self, input: AnalysisInput) -> AnalysisResult:
        if input.info.size > self.limits.max_archive_size:
            raise AnalyzerError(f"archive is {input.info.size} bytes, over {self.limits.max_archive_size}")
        data = input.read()
        if len(data) > self.limits.max_archive_size:
            raise AnalyzerError(f"archive is {len(data)} bytes, over {self.limits.max_archive_size}")
        budget = _Budget(self.limits)
        walker = _ArchiveWalker(self.limits, budget)
        packages: list[Package] = []
        seen: set[str] = set()
        for found in walker.walk(data, input.path, 0):
            group = found.group or found.artifact
            purl = maven_purl(group, found.artifact, found.version)
            if purl in seen:
                continue
            seen.add(purl)
            meta = dict(found.metadata)
            meta["virtual_path"] = found.virtual_path
            if not found.group:
                meta["group_guessed"] = "true"
            packages.append(
                make_package(
                    PackageType.MAVEN,
                    f"{group}:{found.artifact}",
                    found.version,
                    input.path,
                    self.name,
                    purl=purl,
                    metadata=meta,
                )
            )
        return AnalysisResult(packages=tuple(packages), warnings=tuple(budget.warnings))


# --------------------------------------------------------------------------- pom.xml and Gradle

MAX_BUILD_FILE_SIZE = 8 * MiB
_PROPERTY = re.compile(r"\$\{([^}]+)\}")


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _child(element: Element | None, name: str) -> Element | None:
    if element is None:
        return None
    return next((c for c in element if _local(c.tag) == name), None)


def _children(element: Element | None, name: str) -> list[Element]:
    if element is None:
        return []
    return [c for c in element if _local(c.tag) == name]


def _text(element: Element | None, name: str) -> str:
    child = _child(element, name)
    return (child.text or "").strip() if child is not None else ""


@dataclass(frozen=True, slots=True)
class PomDependency:
    """A ``<dependency>`` of a pom.xml after property resolution."""

    group_id: str
    artifact_id: str
    version: str
    scope: str = ""
    optional: bool = False


def _pom_properties(project: Element) -> dict[str, str]:
    parent = _child(project, "parent")
    props: dict[str, str] = {}
    properties = _child(project, "properties")
    for prop in properties if properties is not None else []:
        name = _local(prop.tag)
        if name:
            props[name] = (prop.text or "").strip()
    own = {
        "groupId": _text(project, "groupId") or _text(parent, "groupId"),
        "artifactId": _text(project, "artifactId"),
        "version": _text(project, "version") or _text(parent, "version"),
    }
    for key, value in own.items():
        if value:
            props.setdefault(f"project.{key}", value)
            props.setdefault(f"pom.{key}", value)
    for key in ("groupId", "artifactId", "version"):
        value = _text(parent, key)
        if value:
            props.setdefault(f"project.parent.{key}", value)
            props.setdefault(f"parent.{key}", value)
    return props


def resolve_property(value: str, props: dict[str, str], depth: int = 0) -> str:
    """Replace ``${name}`` from ``props`` (recursively, bounded); unknown ones stay as written."""
    if "${" not in value or depth > 10:
        return value
    resolved = _PROPERTY.sub(lambda m: props.get(m.group(1).strip(), m.group(0)), value)
    return resolved if resolved == value else resolve_property(resolved, props, depth + 1)


def parse_pom_dependencies(data: bytes) -> tuple[list[PomDependency], int]:
    """Dependencies of a pom.xml with literal (or property-resolved) versions; also the skipped count."""
    try:
        project = SafeET.fromstring(data)
    except (ParseError, DefusedXmlException, ValueError) as exc:
        raise AnalyzerError(f"pom.xml is not valid XML: {exc}") from None
    if _local(project.tag) != "project":
        raise AnalyzerError("pom.xml has no <project> root element")
    props = _pom_properties(project)

    def resolve(text: str) -> str:
        return resolve_property(text, props)

    managed: dict[tuple[str, str], str] = {}
    management = _child(_child(project, "dependencyManagement"), "dependencies")
    for dep in _children(management, "dependency"):
        key = (resolve(_text(dep, "groupId")), resolve(_text(dep, "artifactId")))
        managed.setdefault(key, resolve(_text(dep, "version")))
    deps: list[PomDependency] = []
    skipped = 0
    for dep in _children(_child(project, "dependencies"), "dependency"):
        group, artifact = resolve(_text(dep, "groupId")), resolve(_text(dep, "artifactId"))
        version = resolve(_text(dep, "version")) or managed.get((group, artifact), "")
        usable = all(v and "${" not in v for v in (group, artifact, version))
        if not usable or version.startswith(("[", "(")):
            skipped += 1
            continue
        deps.append(
            PomDependency(
                group,
                artifact,
                version,
                resolve(_text(dep, "scope")),
                resolve(_text(dep, "optional")).lower() == "true",
            )
        )
    return deps, skipped


def parse_gradle_lockfile(text: str) -> list[tuple[str, str, str, str, int]]:
    """``group:artifact:version=configurations`` lines as (group, artifact, version, configs, line)."""
    entries: list[tuple[str, str, str, str, int]] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        coordinates, _, configs = line.partition("=")
        parts = coordinates.split(":")
        if len(parts) == 3 and all(parts):
            entries.append((parts[0], parts[1], parts[2], configs.strip(), lineno))
    return entries


def _is_gradle_lockfile(path: str) -> bool:
    name = basename(path)
    return name.startswith("gradle.lockfile") or ("/gradle/dependency-locks/" in path and name.endswith(".lockfile"))


class JavaBuildAnalyzer:
    """Declared Maven dependencies: ``pom.xml`` and Gradle lockfiles."""

    name = "java-build"
    version = 1

    def required(self, path: str, info: FileInfo) -> bool:
        if info.size > MAX_BUILD_FILE_SIZE:
            return False
        return basename(path) == "pom.xml" or _is_gradle_lockfile(path)

    def analyze(self, input: AnalysisInput) -> AnalysisResult:
        data = input.read()
        if len(data) > MAX_BUILD_FILE_SIZE:
            raise AnalyzerError(f"build file is {len(data)} bytes, over {MAX_BUILD_FILE_SIZE}")
        packages: list[Package] = []
        if basename(input.path) == "pom.xml":
            deps, _skipped = parse_pom_dependencies(data)
            for dep in deps:
                meta = {"scope": dep.scope or "compile", "source": "pom.xml"}
                if dep.optional:
                    meta["optional"] = "true"
                packages.append(self._package(input.path, dep.group_id, dep.artifact_id, dep.version, meta))
        else:
            text = data.decode("utf-8", errors="replace")
            for group, artifact, version, configs, line in parse_gradle_lockfile(text):
                meta = {"configurations": configs, "source": "gradle.lockfile"}
                packages.append(self._package(input.path, group, artifact, version, meta, line))
        return AnalysisResult(packages=tuple(packages))

    def _package(
        self, path: str, group: str, artifact: str, version: str, meta: dict[str, str], line: int | None = None
    ) -> Package:
        return make_package(
            PackageType.MAVEN,
            f"{group}:{artifact}",
            version,
            path,
            self.name,
            purl=maven_purl(group, artifact, version),
            metadata=meta,
            line=line,
        )


ANALYZERS = (JavaArchiveAnalyzer, JavaBuildAnalyzer)
