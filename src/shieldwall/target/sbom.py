"""SBOM input: a CycloneDX or SPDX document read as a target's inventory.

A user who already has an SBOM (from a build, a vendor, another scanner) can
scan it without the bytes it describes. The format is sniffed from the
content, not the file name. Packages get their ecosystem, name and source
package from their PURL, so they match like packages Shieldwall found itself.

CycloneDX JSON is read from the parsed JSON directly: cyclonedx-python-lib's
deserialiser rejects whole documents for details that do not matter here (a
malformed serial number, an unknown enum value) and fails on some valid
ones. CycloneDX XML is deserialised by the library (through defusedxml) and
then read the same way as JSON. SPDX (JSON, YAML, tag-value, RDF/XML, XML)
is parsed by spdx-tools; a JSON or YAML document that spdx-tools refuses
(tools in the wild write fractional seconds, null fields...) is read
leniently from its parsed data instead.
"""

from __future__ import annotations

import codecs
import io
import json
import logging
import re
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from cyclonedx.model.bom import Bom
from cyclonedx.output.json import JsonV1Dot6
from license_expression import LicenseExpression  # type: ignore[import-untyped]
from packageurl import PackageURL
from spdx_tools.spdx.model.document import Document
from spdx_tools.spdx.model.package import PackagePurpose
from spdx_tools.spdx.model.relationship import RelationshipType
from spdx_tools.spdx.parser.error import SPDXParsingError
from spdx_tools.spdx.parser.jsonlikedict.json_like_dict_parser import JsonLikeDictParser
from spdx_tools.spdx.parser.rdf import rdf_parser
from spdx_tools.spdx.parser.tagvalue.parser import Parser as TagValueParser
from spdx_tools.spdx.parser.xml import xml_parser

from shieldwall.analyze.common import purl_for, pypi_name
from shieldwall.analyze.os.release import eol_for
from shieldwall.errors import CorruptInputError, InputError, UnsafeInputError
from shieldwall.model import Location, OSInfo, Package, PackageType

FOUND_BY_CYCLONEDX = "sbom-cyclonedx"
FOUND_BY_SPDX = "sbom-spdx"
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
MAX_PACKAGES = 250_000
"""Components (CycloneDX, nested ones included) or packages (SPDX) one SBOM may list."""
_TAG_LINE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*:")

SbomContents = tuple[str, tuple[Package, ...], OSInfo | None]
"""A document's name, its packages and its operating system (``None`` when it names none)."""

_log = logging.getLogger(__name__)

_SNIFF_HEAD = 8192
_SNIFF_TAIL = 4096
_SNIFF_FURTHER = 4 * 1024 * 1024  # how far past the head a text file is searched for an SBOM marker
_MARKERS = (
    '"bomformat"',
    '"bom-ref"',
    "cyclonedx.org/schema/bom",
    "<bom ",
    "<bom>",
    '"spdxversion"',
    '"spdxid"',
    "spdxversion:",
    "spdxid: spdxref-",
    "spdx.org/rdf/terms",
    "<spdxversion>",
)
_ARCHIVE_MAGIC = (b"\x1f\x8b", b"\x28\xb5\x2f\xfd", b"PK\x03\x04", b"BZh", b"\xfd7zXZ")
_PACKAGE_TYPES = {t.value: t for t in PackageType}
_OS_PURL_TYPES = {"deb", "apk", "rpm", "alpm"}
# Component types that describe something other than a package; kept only when they carry a PURL.
_NON_PACKAGE_TYPES = {"file", "data", "cryptographic-asset", "machine-learning-model", "operating-system"}
_NO_LICENCE = {"NOASSERTION", "NONE", ""}


def looks_like_sbom(path: Path) -> bool:
    """True when the first (and last) few KB of ``path`` look like a CycloneDX or SPDX document.

    Cheap enough for target resolution; ``read_sbom`` makes the real decision.
    Both ends are read because serialisers that sort keys put ``bomFormat``
    after the components.
    """
    try:
        with path.open("rb") as handle:
            head = handle.read(_SNIFF_HEAD)
            size = handle.seek(0, io.SEEK_END)
            tail = b""
            if size > _SNIFF_HEAD:
                handle.seek(max(_SNIFF_HEAD, size - _SNIFF_TAIL))
                tail = handle.read(_SNIFF_TAIL)
    except OSError:
        return False
    if head[257:262] == b"ustar" or head.startswith(_ARCHIVE_MAGIC):
        return False  # an image archive or compressed layer that merely contains an SBOM
    encoding = _encoding(head)
    if encoding == "utf-8" and b"\x00" in head:
        return False  # binary
    text = (head.decode(encoding, errors="ignore") + "\n" + tail.decode(encoding, errors="ignore")).lower()
    if any(marker in text for marker in _MARKERS):
        return True
    return size > _SNIFF_HEAD + _SNIFF_TAIL and _markers_further(path, encoding)


def _markers_further(path: Path, encoding: str) -> bool:
    """A text document whose head and tail say nothing (a long header, sorted YAML keys): read on, bounded."""
    overlap = max(len(m) for m in _MARKERS)
    carry = ""
    try:
        with path.open("rb") as handle:
            handle.seek(_SNIFF_HEAD)
            read = 0
            while read < _SNIFF_FURTHER:
                chunk = handle.read(64 * 1024)
                if not chunk or (encoding == "utf-8" and b"\x00" in chunk):
                    return False
                read += len(chunk)
                text = carry + chunk.decode(encoding, errors="ignore").lower()
                if any(marker in text for marker in _MARKERS):
                    return True
                carry = text[-overlap:]
    except OSError:
        return False
    return False


def read_sbom(path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> SbomContents:
    """Read a CycloneDX or SPDX document: its name, its packages and its operating system.

    Raises ``InputError`` for a document that is neither format (or one the
    parsers reject), ``UnsafeInputError`` for one larger than ``max_bytes``
    or declaring XML entities, ``CorruptInputError`` for malformed JSON/YAML.
    """
    raw = _read_bounded(path, max_bytes)
    encoding = _encoding(raw)
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise CorruptInputError(f"{path}: not valid {encoding} text ({exc.reason})") from None
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")  # as text-mode open() would
    location = Location("/" + path.name)
    body = text.lstrip()
    if body.startswith("{"):
        return _read_json(path, body, location)
    if body.startswith("<"):
        return _read_xml(path, body, encoding, location)
    lines = body.splitlines()
    if any(line.startswith("SPDXVersion:") for line in lines):
        return _read_spdx_tagvalue(path, body, location)
    # YAML: top-level keys may come in any order (sorted: spdxVersion after every package), so look everywhere
    if any(line.startswith(("spdxVersion:", "SPDXID: SPDXRef-DOCUMENT")) for line in lines):
        return _read_spdx_yaml(path, body, location)
    raise InputError(f"{path}: not a CycloneDX or SPDX document")


# --- reading and format detection ------------------------------------------------------------------


def _read_bounded(path: Path, max_bytes: int) -> bytes:
    try:
        if not path.is_file():
            raise InputError(f"{path}: not a regular file")
        size = path.stat().st_size
        if size > max_bytes:
            raise UnsafeInputError(f"{path}: SBOM is {size} bytes, more than the limit of {max_bytes}")
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise InputError(f"{path}: cannot read SBOM ({exc.strerror or exc})") from None
    if len(data) > max_bytes:
        raise UnsafeInputError(f"{path}: SBOM is larger than the limit of {max_bytes} bytes")
    return data


def _encoding(head: bytes) -> str:
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    return "utf-8"


def _one_line(message: object) -> str:
    text = " ".join(str(message).split())
    return text if len(text) <= 300 else text[:297] + "..."


def _first_message(exc: SPDXParsingError) -> str:
    return _one_line(exc.messages[0]) if exc.messages else "no detail"


def _read_json(path: Path, text: str, location: Location) -> SbomContents:
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise CorruptInputError(f"{path}: malformed JSON ({_one_line(exc)})") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: not a CycloneDX or SPDX document (JSON top level is not an object)")
    if data.get("bomFormat") == "CycloneDX" or ("specVersion" in data and "spdxVersion" not in data):
        return _cyclonedx(data, path, location)
    if "spdxVersion" in data or data.get("SPDXID") == "SPDXRef-DOCUMENT":
        return _spdx_from_dict(data, path, location)
    raise InputError(f"{path}: not a CycloneDX or SPDX document")


def _read_xml(path: Path, text: str, encoding: str, location: Location) -> SbomContents:
    head = text[:_SNIFF_HEAD]
    if "<!ENTITY" in text:
        raise UnsafeInputError(f"{path}: XML documents declaring entities are not accepted")
    if "cyclonedx.org/schema/bom" in head or "<bom" in head:
        return _read_cyclonedx_xml(path, text, location)
    if "spdx.org/rdf/terms" in head and "RDF" in head:
        document = _spdx_parse(rdf_parser.parse_from_file, str(path), path, "RDF/XML", encoding)
        return _spdx_document(document, location)
    if "<spdxVersion>" in text or "<Document" in head:
        document = _spdx_parse(xml_parser.parse_from_file, str(path), path, "XML", encoding)
        return _spdx_document(document, location)
    raise InputError(f"{path}: not a CycloneDX or SPDX document")


def _read_cyclonedx_xml(path: Path, text: str, location: Location) -> SbomContents:
    if text.count("<component") > MAX_PACKAGES:  # counted before the library builds an object per element
        raise UnsafeInputError(f"{path}: SBOM lists more than {MAX_PACKAGES} components")
    # The library raises whatever its deserialiser trips on (TypeError, ValueError, its own
    # exceptions, defusedxml's); every one of them means "this XML cannot be read".
    try:
        with warnings.catch_warnings():
            # deprecation notes about the input's schema version and "incomplete graph" hints
            warnings.simplefilter("ignore")
            bom = Bom.from_xml(io.StringIO(text))  # type: ignore[attr-defined]
            data = json.loads(JsonV1Dot6(bom).output_as_string())
    except Exception as exc:
        raise CorruptInputError(f"{path}: cannot read CycloneDX XML ({_one_line(exc)})") from None
    return _cyclonedx(data, path, location)


def _read_spdx_yaml(path: Path, text: str, location: Location) -> SbomContents:
    try:
        data = yaml.safe_load(text)
    except (yaml.YAMLError, RecursionError) as exc:
        raise CorruptInputError(f"{path}: malformed YAML ({_one_line(exc)})") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: not a CycloneDX or SPDX document")
    return _spdx_from_dict(data, path, location)


def _check_tagvalue_shape(path: Path, text: str) -> None:
    """Every line outside ``<text>`` blocks is ``Tag: value``, a comment or blank; checked in one pass.

    The tag-value grammar's lexer slows down quadratically on junk; a document
    that is not line-shaped is refused before it gets there.
    """
    in_text = False
    for number, line in enumerate(text.split("\n"), 1):
        if in_text:
            in_text = "</text>" not in line
            continue
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if not _TAG_LINE.match(stripped):
            raise InputError(f"{path}: not SPDX tag-value (line {number} is not 'Tag: value')")
        in_text = "<text>" in line and "</text>" not in line.split("<text>", 1)[1]


def _read_spdx_tagvalue(path: Path, text: str, location: Location) -> SbomContents:
    _check_tagvalue_shape(path, text)
    if sum(1 for line in text.split("\n") if line.startswith("PackageName:")) > MAX_PACKAGES:
        raise UnsafeInputError(f"{path}: SBOM lists more than {MAX_PACKAGES} packages")
    errorlog = logging.getLogger(f"{__name__}.ply")  # ply's table-building chatter, off stderr
    parser = TagValueParser(debug=False, write_tables=False, errorlog=errorlog)  # type: ignore[no-untyped-call]
    return _spdx_document(_spdx_parse(parser.parse, text, path, "tag-value"), location)


def _spdx_parse(parse: Callable[..., Document], source: str, path: Path, kind: str, *args: str) -> Document:
    """Run one of spdx-tools' parsers, turning whatever it raises into an ``InputError``."""
    try:
        return parse(source, *args)
    except SPDXParsingError as exc:
        raise InputError(f"{path}: cannot read SPDX {kind} ({_first_message(exc)})") from None
    # The tag-value grammar, rdflib and the XML parsers raise assorted exceptions (KeyError, SAX
    # and expat errors...) on malformed input; each means "this document cannot be read".
    except Exception as exc:
        raise CorruptInputError(f"{path}: malformed SPDX {kind} ({_one_line(exc)})") from None


# --- a neutral inventory both formats fill ---------------------------------------------------------


@dataclass(slots=True)
class _Item:
    """One package as a document states it, before it becomes a ``Package``."""

    ref: str
    name: str
    version: str = ""
    purl: str = ""
    group: str = ""
    licenses: list[str] = field(default_factory=list)
    source_name: str = ""  # from tools' own properties (trivy's aquasecurity:trivy:Src*), when stated
    source_version: str = ""


def _build(
    items: Iterable[_Item],
    depends: Mapping[str, Iterable[str]],
    found_by: str,
    location: Location,
) -> tuple[tuple[Package, ...], Counter[str]]:
    """Turn items into packages; ``depends`` maps a ref to the refs it depends on."""
    built: dict[str, Package] = {}
    distros: Counter[str] = Counter()
    for item in items:
        package, distro = _package(item, found_by, location)
        if package is not None and item.ref not in built:
            built[item.ref] = package
            if distro:
                distros[distro] += 1
    result = []
    for ref, package in built.items():
        names = [built[d].name for d in depends.get(ref, ()) if d in built and d != ref]
        if names:
            package = package.evolve(depends_on=tuple(dict.fromkeys(names)))
        result.append(package)
    return tuple(result), distros


def _package(item: _Item, found_by: str, location: Location) -> tuple[Package | None, str]:
    purl = _parse_purl(item.purl)
    if purl is None:
        try:
            generic = purl_for(PackageType.GENERIC, item.name.strip(), item.version, namespace=item.group or None)
        # packageurl-python refuses an empty name with ValueError, and one that normalises to
        # nothing (" ", "/") with TypeError
        except (ValueError, TypeError):
            return None, ""
        return (
            Package(
                type=PackageType.GENERIC,
                name=item.name.strip(),
                version=item.version,
                purl=generic,
                locations=(location,),
                licenses=tuple(dict.fromkeys(item.licenses)),
                found_by=found_by,
            ),
            "",
        )
    qualifiers = purl.qualifiers if isinstance(purl.qualifiers, dict) else {}
    source_name, source_version = _upstream(purl.type, qualifiers.get("upstream", ""))
    if not source_name and item.source_name:  # trivy states the source package in properties, not the PURL
        source_name, source_version = item.source_name, item.source_version
    return (
        Package(
            type=_PACKAGE_TYPES.get(purl.type, PackageType.GENERIC),
            name=_ecosystem_name(purl, item.name) or item.name,
            version=item.version or purl.version or "",
            purl=purl.to_string(),
            locations=(location,),
            licenses=tuple(dict.fromkeys(item.licenses)),
            source_name=source_name,
            source_version=source_version,
            arch=qualifiers.get("arch", ""),
            found_by=found_by,
        ),
        qualifiers.get("distro", "") if purl.type in _OS_PURL_TYPES else "",
    )


def _parse_purl(text: str) -> PackageURL | None:
    if not text:
        return None
    try:
        purl = PackageURL.from_string(text.strip())
        purl.to_string()
    except (ValueError, TypeError):
        return None
    return purl


def _ecosystem_name(purl: PackageURL, stated: str) -> str:
    """The name as the ecosystem spells it: ``@scope/name``, ``group:artifact``, ``module/path``.

    PyPI PURLs carry the normalised name; the document's own spelling (``PyYAML``) is kept when
    it normalises to the same.
    """
    name: str = purl.name or ""
    namespace: str = purl.namespace or ""
    if purl.type == "pypi" and stated and pypi_name(stated) == pypi_name(name):
        return stated
    if not namespace or purl.type in _OS_PURL_TYPES:
        return name
    if purl.type == "maven":
        return f"{namespace}:{name}"
    if purl.type == "npm" and not namespace.startswith("@"):
        namespace = "@" + namespace
    return f"{namespace}/{name}"


def _trivy_source(props: Mapping[str, str]) -> tuple[str, str]:
    """The source package trivy records: ``aquasecurity:trivy:SrcName`` and ``[SrcEpoch:]SrcVersion[-SrcRelease]``."""
    name = props.get("aquasecurity:trivy:SrcName", "").strip()
    if not name:
        return "", ""
    version = props.get("aquasecurity:trivy:SrcVersion", "").strip()
    release = props.get("aquasecurity:trivy:SrcRelease", "").strip()
    epoch = props.get("aquasecurity:trivy:SrcEpoch", "").strip()
    if version and release:
        version = f"{version}-{release}"
    if version and epoch and epoch != "0":
        version = f"{epoch}:{version}"
    return name, version


def _upstream(purl_type: str, upstream: str) -> tuple[str, str]:
    """Source package from the ``upstream`` qualifier: ``src``, ``src@version`` or an SRPM file name."""
    if not upstream:
        return "", ""
    if purl_type == "rpm":
        for suffix in (".src.rpm", ".nosrc.rpm"):
            if upstream.endswith(suffix):
                parts = upstream.removesuffix(suffix).rsplit("-", 2)
                if len(parts) == 3 and all(parts):
                    return parts[0], f"{parts[1]}-{parts[2]}"
                return upstream.removesuffix(suffix), ""
    name, _, version = upstream.partition("@")
    return name, version


def _os_info(family: str, version: str, pretty: str = "", name: str = "", codename: str = "") -> OSInfo:
    family = family.strip().lower()
    eol_date, status = eol_for(family, version)
    return OSInfo(
        family=family,
        name=name or family,
        version=version,
        version_codename=codename,
        pretty_name=pretty,
        eol_date=eol_date,
        eol_status=status,
    )


def _os_from_distros(distros: Counter[str]) -> OSInfo | None:
    """OS from the most common ``distro=`` qualifier (``debian-12``) when the document names none."""
    if not distros:
        return None
    distro = distros.most_common(1)[0][0]
    family, _, version = distro.rpartition("-")
    if not family or not version[:1].isdigit():
        return _os_info(distro, "")
    return _os_info(family, version)


# --- CycloneDX --------------------------------------------------------------------------------------


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""


def _shaped_list(value: object, path: Path, field: str) -> list[Any]:
    """``value`` when it is a list (absent: empty); any other type is a malformed document, named by field."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise CorruptInputError(f"{path}: {field} must be a list, not {type(value).__name__}")
    return value


def _walk_components(components: object, path: Path, field: str) -> Iterator[dict[str, Any]]:
    """Every component, nested ones included, without recursion.

    A ``components`` that is not a list is a malformed document (nothing could be
    read from it); an item that is not an object is skipped, as are wrongly typed fields.
    """
    stack = list(reversed(_shaped_list(components, path, field)))
    while stack:
        component = stack.pop()
        if isinstance(component, dict):
            yield component
            stack.extend(reversed(_list(component.get("components"))))


def _cdx_licenses(value: object) -> list[str]:
    found = []
    for entry in _list(value):
        entry = _dict(entry)
        if _str(entry.get("expression")):
            found.append(_str(entry["expression"]).strip())
            continue
        licence = _dict(entry.get("license"))
        text = _str(licence.get("id")) or _str(licence.get("name"))
        if text.strip():
            found.append(text.strip())
    return found


def _properties(component: dict[str, Any]) -> dict[str, str]:
    found: dict[str, str] = {}
    for prop in _list(component.get("properties")):
        prop = _dict(prop)
        found.setdefault(_str(prop.get("name")), _str(prop.get("value")))
    return found


def _cyclonedx(data: dict[str, Any], path: Path, location: Location) -> SbomContents:
    metadata = _dict(data.get("metadata"))
    subject = _dict(metadata.get("component"))
    name = _str(subject.get("name")) or _str(data.get("serialNumber")) or path.name
    subject_ref = _str(subject.get("bom-ref"))

    items: list[_Item] = []
    os: OSInfo | None = None
    components = [
        *_walk_components(subject.get("components"), path, "metadata.component.components"),
        *_walk_components(data.get("components"), path, "components"),
    ]
    if len(components) > MAX_PACKAGES:
        raise UnsafeInputError(f"{path}: SBOM lists more than {MAX_PACKAGES} components")
    for index, component in enumerate(components):
        kind = _str(component.get("type"))
        if kind == "operating-system":
            if os is None and _str(component.get("name")):
                props = _properties(component)
                os = _os_info(
                    _str(component.get("name")),
                    _str(component.get("version")),
                    pretty=_str(component.get("description")),
                    name=props.get("shieldwall:os:name", ""),
                    codename=props.get("shieldwall:os:codename", ""),
                )
            continue
        purl = _str(component.get("purl"))
        if kind in _NON_PACKAGE_TYPES and not purl:
            continue
        ref = _str(component.get("bom-ref")) or f"#component-{index}"
        if ref == subject_ref:
            continue
        source_name, source_version = _trivy_source(_properties(component))
        items.append(
            _Item(
                ref=ref,
                name=_str(component.get("name")),
                version=_str(component.get("version")),
                purl=purl,
                group=_str(component.get("group")),
                licenses=_cdx_licenses(component.get("licenses")),
                source_name=source_name,
                source_version=source_version,
            )
        )

    depends: dict[str, list[str]] = {}
    for dependency in _list(data.get("dependencies")):
        dependency = _dict(dependency)
        ref = _str(dependency.get("ref"))
        targets = [_str(d) or _str(_dict(d).get("ref")) for d in _list(dependency.get("dependsOn"))]
        if ref:
            depends.setdefault(ref, []).extend(t for t in targets if t)

    packages, distros = _build(items, depends, FOUND_BY_CYCLONEDX, location)
    return name, packages, os or _os_from_distros(distros)


# --- SPDX -------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _SpdxView:
    """What Shieldwall needs from an SPDX document, from spdx-tools' model or leniently from raw data."""

    name: str
    items: list[_Item] = field(default_factory=list)
    purposes: dict[str, str] = field(default_factory=dict)
    descriptions: dict[str, str] = field(default_factory=dict)
    described: set[str] = field(default_factory=set)
    relationships: list[tuple[str, str, str]] = field(default_factory=list)


def _spdx_from_dict(data: dict[str, Any], path: Path, location: Location) -> SbomContents:
    packages = _shaped_list(data.get("packages"), path, "packages")
    if len(packages) > MAX_PACKAGES:
        raise UnsafeInputError(f"{path}: SBOM lists more than {MAX_PACKAGES} packages")
    try:
        document: Document = JsonLikeDictParser().parse(data)  # type: ignore[no-untyped-call]
    except SPDXParsingError as exc:
        _log.info("%s: spdx-tools rejects the document, reading it leniently: %s", path, _first_message(exc))
        return _spdx_view(_lenient_spdx(data, path), location)
    # Data of unexpected shape can make the dict parser fail with TypeError, AttributeError...
    except Exception as exc:
        _log.info("%s: spdx-tools cannot parse the document, reading it leniently: %s", path, _one_line(exc))
        return _spdx_view(_lenient_spdx(data, path), location)
    return _spdx_document(document, location)


def _spdx_document(document: Document, location: Location) -> SbomContents:
    view = _SpdxView(name=document.creation_info.name or "")
    for package in document.packages:
        purl = next((ref.locator for ref in package.external_references if ref.reference_type.lower() == "purl"), "")
        licences = []
        for expression in (package.license_declared, package.license_concluded):
            if isinstance(expression, LicenseExpression):
                licences = [str(expression)]
                break
        view.items.append(
            _Item(ref=package.spdx_id, name=package.name, version=package.version or "", purl=purl, licenses=licences)
        )
        if isinstance(package.primary_package_purpose, PackagePurpose):
            view.purposes[package.spdx_id] = package.primary_package_purpose.name
        if package.description:
            view.descriptions[package.spdx_id] = package.description
    for relationship in document.relationships:
        related = relationship.related_spdx_element_id
        if isinstance(related, str) and isinstance(relationship.relationship_type, RelationshipType):
            view.relationships.append((relationship.spdx_element_id, relationship.relationship_type.name, related))
    return _spdx_view(view, location)


def _lenient_spdx(data: dict[str, Any], path: Path) -> _SpdxView:
    view = _SpdxView(name=_str(data.get("name")) or path.name)
    for index, package in enumerate(_list(data.get("packages"))):
        package = _dict(package)
        ref = _str(package.get("SPDXID")) or f"#package-{index}"
        purl = next(
            (
                _str(_dict(r).get("referenceLocator"))
                for r in _list(package.get("externalRefs"))
                if _str(_dict(r).get("referenceType")).lower() == "purl"
            ),
            "",
        )
        licences = [
            text
            for text in (_str(package.get("licenseDeclared")), _str(package.get("licenseConcluded")))
            if text.strip() not in _NO_LICENCE
        ][:1]
        view.items.append(
            _Item(
                ref=ref,
                name=_str(package.get("name")),
                version=_str(package.get("versionInfo")),
                purl=purl,
                licenses=licences,
            )
        )
        purpose = _str(package.get("primaryPackagePurpose")).replace("-", "_").upper()
        if purpose:
            view.purposes[ref] = purpose
        if _str(package.get("description")):
            view.descriptions[ref] = _str(package["description"])
    for described in _list(data.get("documentDescribes")):
        view.relationships.append(("SPDXRef-DOCUMENT", "DESCRIBES", _str(described)))
    for relationship in _list(data.get("relationships")):
        relationship = _dict(relationship)
        view.relationships.append(
            (
                _str(relationship.get("spdxElementId")),
                _str(relationship.get("relationshipType")).replace("-", "_").upper(),
                _str(relationship.get("relatedSpdxElement")),
            )
        )
    return view


def _spdx_view(view: _SpdxView, location: Location) -> SbomContents:
    """Packages of an SPDX view, minus the structural ones (the described target, application groupings)."""
    refs = {item.ref for item in view.items}
    described: set[str] = set()
    contains: dict[str, set[str]] = {}
    depends: dict[str, list[str]] = {}
    for source, kind, target in view.relationships:
        if kind == "DESCRIBES":
            described.add(target)
        elif kind == "DESCRIBED_BY":
            described.add(source)
        elif kind == "CONTAINS" and target in refs:
            contains.setdefault(source, set()).add(target)
        elif kind == "CONTAINED_BY" and source in refs:
            contains.setdefault(target, set()).add(source)
        elif kind == "DEPENDS_ON":
            depends.setdefault(source, []).append(target)
        elif kind == "DEPENDENCY_OF":
            depends.setdefault(target, []).append(source)

    os: OSInfo | None = None
    items = []
    for item in view.items:
        if view.purposes.get(item.ref) == "OPERATING_SYSTEM":
            if os is None and item.name:
                os = _os_info(item.name, item.version, pretty=view.descriptions.get(item.ref, ""))
            continue
        structural = item.ref in contains and (item.ref in described or not item.purl)
        if not structural:
            items.append(item)
    packages, distros = _build(items, depends, FOUND_BY_SPDX, location)
    return view.name, packages, os or _os_from_distros(distros)
