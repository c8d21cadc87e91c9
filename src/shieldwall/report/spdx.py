"""SPDX 2.3 JSON: the scan's inventory as an SBOM for licence and compliance tooling.

The document is built from spdx-tools' model and serialised by its JSON
converter. A root package stands for the target (the document DESCRIBES it
and it CONTAINS every package); the OS, when known, is a package with purpose
OPERATING-SYSTEM; ``dependency_ids`` become DEPENDS_ON relationships.
Licence strings are parsed with spdx-tools' SPDX licensing: known ids and
expressions are kept, expressions naming unknown licences become a
``LicenseRef-`` with the original text as extracted licensing info, and text
that does not parse at all is left out (NOASSERTION when nothing remains).
"""

from __future__ import annotations

import hashlib
import io
import re
import uuid
from collections.abc import Iterable

from license_expression import LicenseExpression  # type: ignore[import-untyped]
from spdx_tools.common.spdx_licensing import spdx_licensing
from spdx_tools.spdx.model.actor import Actor, ActorType
from spdx_tools.spdx.model.document import CreationInfo, Document
from spdx_tools.spdx.model.extracted_licensing_info import ExtractedLicensingInfo
from spdx_tools.spdx.model.package import ExternalPackageRef, ExternalPackageRefCategory, PackagePurpose
from spdx_tools.spdx.model.package import Package as SpdxPackage
from spdx_tools.spdx.model.relationship import Relationship, RelationshipType
from spdx_tools.spdx.model.spdx_no_assertion import SpdxNoAssertion
from spdx_tools.spdx.writer.json.json_writer import write_document_to_stream

import shieldwall
from shieldwall.model import OSInfo, Package, ScanResult, TargetKind
from shieldwall.report.sbom_common import document_time, unique_packages

DOCUMENT_ID = "SPDXRef-DOCUMENT"
ROOT_ID = "SPDXRef-Target"
OS_ID = "SPDXRef-OperatingSystem"
NAMESPACE_BASE = "https://spdx.org/spdxdocs/shieldwall"

_IMAGE_KINDS = {TargetKind.DOCKER_ARCHIVE, TargetKind.OCI, TargetKind.REGISTRY}
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9.-]+")


def render_spdx(result: ScanResult) -> str:
    """Serialise ``result``'s target, OS and packages as an SPDX 2.3 JSON document."""
    name = result.target.name or result.target.ref.value or "target"
    version = result.tool_version or shieldwall.__version__
    creation = CreationInfo(
        spdx_version="SPDX-2.3",
        spdx_id=DOCUMENT_ID,
        name=name,
        document_namespace=f"{NAMESPACE_BASE}/{_safe_id(name) or 'target'}-{uuid.uuid4()}",
        creators=[Actor(ActorType.TOOL, f"shieldwall-{version}")],
        created=document_time(result),
    )
    licences = _LicenceTable()
    packages = [_root_package(result)]
    relationships = [Relationship(DOCUMENT_ID, RelationshipType.DESCRIBES, ROOT_ID)]
    if result.os is not None:
        packages.append(_os_package(result.os))
        relationships.append(Relationship(ROOT_ID, RelationshipType.CONTAINS, OS_ID))

    ids: dict[str, str] = {}
    unique = unique_packages(result.packages)
    for package in unique:
        spdx_id = f"SPDXRef-Package-{package.id}"
        ids[package.id] = spdx_id
        packages.append(_package(package, spdx_id, licences))
        relationships.append(Relationship(ROOT_ID, RelationshipType.CONTAINS, spdx_id))
    for package in unique:
        for dependency in dict.fromkeys(package.dependency_ids):
            if dependency in ids and dependency != package.id:
                relationships.append(Relationship(ids[package.id], RelationshipType.DEPENDS_ON, ids[dependency]))

    document = Document(
        creation_info=creation,
        packages=packages,
        relationships=relationships,
        extracted_licensing_info=licences.extracted(),
    )
    stream = io.StringIO()
    write_document_to_stream(document, stream, validate=False)
    return stream.getvalue()


def _safe_id(text: str) -> str:
    return _ID_UNSAFE.sub("-", text).strip("-")


def _root_package(result: ScanResult) -> SpdxPackage:
    target = result.target
    image = target.ref.kind in _IMAGE_KINDS
    return SpdxPackage(
        spdx_id=ROOT_ID,
        name=target.repository if image and target.repository else target.name or target.ref.value,
        download_location=SpdxNoAssertion(),
        version=(target.digest or None) if image else None,
        files_analyzed=False,
        primary_package_purpose=PackagePurpose.CONTAINER if image else PackagePurpose.FILE,
        comment=f"target {target.ref}",
    )


def _os_package(os: OSInfo) -> SpdxPackage:
    return SpdxPackage(
        spdx_id=OS_ID,
        name=os.family,
        download_location=SpdxNoAssertion(),
        version=os.version or None,
        files_analyzed=False,
        primary_package_purpose=PackagePurpose.OPERATING_SYSTEM,
        description=os.pretty_name or None,
    )


def _package(package: Package, spdx_id: str, licences: _LicenceTable) -> SpdxPackage:
    refs = []
    if package.purl:
        refs.append(ExternalPackageRef(ExternalPackageRefCategory.PACKAGE_MANAGER, "purl", package.purl))
    source = None
    if package.source_name:
        source = f"built from source package {package.source_name}"
        if package.source_version:
            source += f" {package.source_version}"
    return SpdxPackage(
        spdx_id=spdx_id,
        name=package.name,
        download_location=SpdxNoAssertion(),
        version=package.version or None,
        files_analyzed=False,
        license_declared=licences.declared(package.licenses),
        license_concluded=SpdxNoAssertion(),
        copyright_text=SpdxNoAssertion(),
        source_info=source,
        external_references=refs,
        comment=f"found by {package.found_by}" if package.found_by else None,
    )


def _parse_licence(text: str) -> LicenseExpression | None:
    """Parse with the SPDX licence list; ``None`` for empty or unparsable text."""
    try:
        expression: LicenseExpression | None = spdx_licensing.parse(text, validate=False)
    # license-expression raises ExpressionError for bad syntax but also AssertionError and
    # IndexError on some malformed input; a licence string must never end the report.
    except Exception:
        return None
    return expression


class _LicenceTable:
    """Turns licence strings into SPDX expressions and remembers the ``LicenseRef-`` it invents."""

    def __init__(self) -> None:
        self._refs: dict[str, str] = {}
        self._by_text: dict[str, str] = {}

    def declared(self, licenses: Iterable[str]) -> LicenseExpression | SpdxNoAssertion:
        """One expression for all of a package's licences (joined with AND), or NOASSERTION."""
        parts = [p for p in (self._one(text.strip()) for text in dict.fromkeys(licenses) if text.strip()) if p]
        if not parts:
            return SpdxNoAssertion()
        joined = parts[0] if len(parts) == 1 else " AND ".join(f"({p})" for p in parts)
        expression = _parse_licence(joined)
        return SpdxNoAssertion() if expression is None else expression

    def extracted(self) -> list[ExtractedLicensingInfo]:
        """The ``LicenseRef-`` definitions every invented reference needs."""
        return [
            ExtractedLicensingInfo(license_id=ref, extracted_text=text, license_name=text)
            for ref, text in self._refs.items()
        ]

    def _one(self, text: str) -> str:
        expression = _parse_licence(text)
        if expression is None:
            return ""
        if not spdx_licensing.validate(expression).invalid_symbols:
            return str(expression)
        return self._ref(text)

    def _ref(self, text: str) -> str:
        if text in self._by_text:
            return self._by_text[text]
        ref = "LicenseRef-" + (_safe_id(text.removeprefix("LicenseRef-")) or "unknown")
        if ref in self._refs:
            ref += "-" + hashlib.sha256(text.encode()).hexdigest()[:8]
        self._refs[ref] = text
        self._by_text[text] = ref
        return ref
