"""VEX input: OpenVEX and CycloneDX VEX statements that a product is not affected.

A ``not_affected`` statement with a justification (or an impact statement)
for a vulnerability ID and a product PURL suppresses the matching
vulnerability findings; the statement travels on the finding as a
``Suppression`` (status, justification, impact, document). Statements with
another status, or ``not_affected`` without any justification, do not
suppress; the latter is reported as a warning. Documents are untrusted:
size-bounded, parsed as JSON only, malformed ones are an input error.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from shieldwall.errors import InputError
from shieldwall.model import Finding, FindingKind, ScanResult, ScanWarning, Suppression
from shieldwall.policy.purls import purl_matches

MAX_VEX_BYTES = 32 << 20
SUPPRESSING = frozenset({"not_affected", "false_positive"})


@dataclass(frozen=True, slots=True)
class VexStatement:
    """One statement: a vulnerability, the products it is about, a status and why."""

    vulnerability: str
    aliases: tuple[str, ...]
    products: tuple[str, ...]
    status: str
    justification: str
    impact: str
    document: str
    index: int
    format: str
    author: str = ""
    timestamp: str = ""

    @property
    def suppresses(self) -> bool:
        """``not_affected`` (or CycloneDX ``false_positive``) backed by a justification or impact statement."""
        return self.status in SUPPRESSING and bool(self.justification or self.impact)

    def names(self) -> frozenset[str]:
        """The vulnerability ID and its aliases, upper-cased."""
        return frozenset(n.upper() for n in (self.vulnerability, *self.aliases) if n)

    def suppression(self) -> Suppression:
        """The value kept on each finding this statement sets aside."""
        reason = self.justification or "no justification"
        if self.impact:
            reason = f"{reason}: {self.impact}"
        details = [
            ("format", self.format),
            ("vulnerability", self.vulnerability),
            ("status", self.status),
            ("justification", self.justification),
            ("impact_statement", self.impact),
            ("author", self.author),
            ("timestamp", self.timestamp),
        ]
        return Suppression(
            kind="vex",
            rule=f"{self.document}#{self.index}",
            reason=reason,
            source=self.document,
            author=self.author,
            statement=tuple((k, v) for k, v in details if v),
        )


def load_vex(path: Path) -> tuple[VexStatement, ...]:
    """Read an OpenVEX or CycloneDX VEX JSON document."""
    try:
        size = path.stat().st_size
        if size > MAX_VEX_BYTES:
            raise InputError(f"{path}: VEX document is {size} bytes, more than {MAX_VEX_BYTES}")
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise InputError(f"{path}: VEX document not found") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not a JSON VEX document: {exc}") from None
    return parse_vex(data, str(path))


def parse_vex(data: Any, source: str) -> tuple[VexStatement, ...]:
    """Statements of an OpenVEX (``statements``) or CycloneDX (``vulnerabilities``) document."""
    if not isinstance(data, dict):
        raise InputError(f"{source}: a VEX document is a JSON object")
    if isinstance(data.get("statements"), list):
        return _openvex(data, source)
    if data.get("bomFormat") == "CycloneDX" or isinstance(data.get("vulnerabilities"), list):
        return _cyclonedx(data, source)
    raise InputError(f"{source}: neither an OpenVEX document (statements) nor CycloneDX VEX (vulnerabilities)")


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _openvex(data: dict[str, Any], source: str) -> tuple[VexStatement, ...]:
    author = _text(data.get("author"))
    timestamp = _text(data.get("timestamp"))
    out: list[VexStatement] = []
    for index, raw in enumerate(data["statements"]):
        if not isinstance(raw, dict):
            raise InputError(f"{source}: statements[{index}] is not an object")
        vuln = raw.get("vulnerability")
        aliases: list[str] = []
        if isinstance(vuln, dict):
            name = _text(vuln.get("name")) or _text(vuln.get("@id"))
            aliases = [a for a in (vuln.get("aliases") or []) if isinstance(a, str)]
        else:
            name = _text(vuln)
        if not name:
            raise InputError(f"{source}: statements[{index}] names no vulnerability")
        products: list[str] = []
        for product in raw.get("products") or []:
            if isinstance(product, str):
                products.append(product)
            elif isinstance(product, dict):
                products.append(_text(product.get("@id")))
                identifiers = product.get("identifiers")
                if isinstance(identifiers, dict):
                    products.append(_text(identifiers.get("purl")))
                for sub in product.get("subcomponents") or []:
                    if isinstance(sub, dict):
                        products.append(_text(sub.get("@id")))
                        ids = sub.get("identifiers")
                        if isinstance(ids, dict):
                            products.append(_text(ids.get("purl")))
                    elif isinstance(sub, str):
                        products.append(sub)
        out.append(
            VexStatement(
                vulnerability=name,
                aliases=tuple(aliases),
                products=tuple(p for p in dict.fromkeys(products) if p),
                status=_text(raw.get("status")),
                justification=_text(raw.get("justification")),
                impact=_text(raw.get("impact_statement")),
                document=source,
                index=index,
                format="openvex",
                author=author,
                timestamp=_text(raw.get("timestamp")) or timestamp,
            )
        )
    return tuple(out)


def _cyclonedx(data: dict[str, Any], source: str) -> tuple[VexStatement, ...]:
    refs: dict[str, str] = {}
    stack = list(data.get("components") or [])
    metadata = data.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("component"), dict):
        stack.append(metadata["component"])
    while stack:
        component = stack.pop()
        if not isinstance(component, dict):
            continue
        if isinstance(component.get("bom-ref"), str) and isinstance(component.get("purl"), str):
            refs[component["bom-ref"]] = component["purl"]
        stack.extend(component.get("components") or [])
    out: list[VexStatement] = []
    for index, raw in enumerate(data.get("vulnerabilities") or []):
        if not isinstance(raw, dict):
            raise InputError(f"{source}: vulnerabilities[{index}] is not an object")
        analysis = raw.get("analysis") if isinstance(raw.get("analysis"), dict) else {}
        assert isinstance(analysis, dict)
        products = []
        for affect in raw.get("affects") or []:
            ref = _text(affect.get("ref")) if isinstance(affect, dict) else ""
            ref = ref.split("#", 1)[1] if ref.startswith("urn:cdx:") and "#" in ref else ref
            products.append(refs.get(ref, ref))
        aliases = [_text(r.get("id")) for r in raw.get("references") or [] if isinstance(r, dict)]
        out.append(
            VexStatement(
                vulnerability=_text(raw.get("id")),
                aliases=tuple(a for a in aliases if a),
                products=tuple(p for p in products if p),
                status=_text(analysis.get("state")),
                justification=_text(analysis.get("justification")),
                impact=_text(analysis.get("detail")),
                document=source,
                index=index,
                format="cyclonedx",
                timestamp=_text(analysis.get("lastUpdated")),
            )
        )
    return tuple(out)


def apply_vex(result: ScanResult, statements: Sequence[VexStatement]) -> tuple[ScanResult, tuple[ScanWarning, ...]]:
    """Suppress the vulnerability findings that a ``not_affected`` statement covers; keep the statement."""
    if not statements:
        return result, ()
    purls = {p.id: p.purl for p in result.packages}
    warnings = [
        ScanWarning("vex", f"not_affected statement for {s.vulnerability} has no justification: ignored", s.document)
        for s in statements
        if s.status in SUPPRESSING and not s.suppresses
    ]
    usable = [s for s in statements if s.suppresses]
    findings: list[Finding] = []
    for finding in result.findings:
        purl = purls.get(finding.package_id, "")
        added = [s.suppression() for s in usable if _covers(s, finding, purl)]
        findings.append(replace(finding, suppressions=finding.suppressions + tuple(added)) if added else finding)
    return replace(result, findings=tuple(findings), warnings=result.warnings + tuple(warnings)), tuple(warnings)


def _covers(statement: VexStatement, finding: Finding, purl: str) -> bool:
    if finding.kind is not FindingKind.VULNERABILITY or not purl:
        return False
    names = {finding.rule_id.upper(), *(a.upper() for a in finding.aliases)}
    if not names & statement.names():
        return False
    return any(purl_matches(product, purl) for product in statement.products)
