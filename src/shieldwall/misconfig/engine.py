"""Run checks over parsed resources and turn their hits into findings.

A check that raises is recorded as a warning naming the check and the
resource (the analyzer's warnings become counted ``ScanWarning`` values in
the result); it is never a silent pass. A suppressed hit is still a
finding, with ``suppressed`` holding the reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from shieldwall.misconfig.check import SET_KIND, Check, Hit, ParsedFile, Resource, Suppression
from shieldwall.model import Evidence, Finding, FindingKind, Location

DETECTOR = "shieldwall-misconfig"
MAX_HITS_PER_CHECK = 200


@dataclass(frozen=True, slots=True)
class EngineOutput:
    """Findings (suppressed ones included) and warnings from one run of the engine."""

    findings: tuple[Finding, ...] = ()
    warnings: tuple[str, ...] = ()
    evaluated: int = 0


def _block_above(line: int, quiet: frozenset[int]) -> range:
    """The contiguous comment/blank lines directly above ``line``."""
    top = line
    while top - 1 >= 1 and (top - 1) in quiet:
        top -= 1
    return range(top, line)


def suppression_for(check_id: str, resource: Resource, hit: Hit, parsed: ParsedFile) -> Suppression | None:
    """The suppression comment that covers ``hit`` of ``check_id``, if any.

    A comment covers a hit when it is in the file header (before the first
    resource), inside a scoped resource's line range or the comment block
    directly above it, or on/directly above the hit's own lines.
    """
    candidates = [s for s in parsed.suppressions if s.covers(check_id)]
    if not candidates:
        return None
    spans: list[range] = []
    if resource.scoped and resource.line is not None:
        end = resource.end_line or resource.line
        spans.append(range(resource.line, end + 1))
        spans.append(_block_above(resource.line, parsed.quiet_lines))
    if hit.line is not None:
        end = hit.end_line or hit.line
        spans.append(range(hit.line, end + 1))
        spans.append(_block_above(hit.line, parsed.quiet_lines))
    for item in candidates:
        if item.line <= parsed.header_end or any(item.line in span for span in spans):
            return item
    return None


def make_finding(check: Check, resource: Resource, hit: Hit, suppression: Suppression | None) -> Finding:
    """A ``Finding`` for one hit: file, line range, resource, controls, and a line-free fingerprint."""
    target = hit.resource or resource.ref
    line = hit.line if hit.line is not None else resource.line
    end_line = hit.end_line if hit.line is not None else resource.end_line
    details: list[tuple[str, str]] = [
        ("input", resource.input),
        ("resource", str(resource.ref)),
    ]
    if hit.resource is not None:
        details.append(("part", str(hit.resource)))
    details.extend(("control", c) for c in check.controls)
    evidence = Evidence(
        detector=DETECTOR,
        searched=f"{check.id}: {check.title}",
        found=hit.found or hit.message,
        source=check.source,
        details=tuple(details),
    )
    material = "\x00".join((str(resource.ref), str(target), hit.key))
    return Finding(
        kind=FindingKind.MISCONFIG,
        rule_id=check.id,
        title=check.title,
        severity=check.severity,
        location=Location(hit.path or resource.path, None, line, None, end_line),
        message=_message(resource, hit),
        fix=check.remediation,
        references=check.controls + check.references,
        evidence=(evidence,),
        fingerprint_material=material,
        suppressed=suppression.reason if suppression is not None else "",
    )


def _message(resource: Resource, hit: Hit) -> str:
    """``Deployment prod/web container app: privileged`` -- the resource, the part, what is wrong."""
    parts = [str(resource.ref)]
    if hit.resource is not None:
        parts.append(str(hit.resource))
    where = " ".join(p for p in parts if p)
    return f"{where}: {hit.message}" if where else hit.message


def run_checks(parsed: ParsedFile, checks: Sequence[Check]) -> EngineOutput:
    """Evaluate every check that applies to each resource of ``parsed``."""
    findings: list[Finding] = []
    warnings: list[str] = list(parsed.warnings)
    evaluated = 0
    for resource in parsed.resources:
        for item in checks:
            if not item.applies_to(resource):
                continue
            evaluated += 1
            try:
                hits = _collect(item.evaluate(resource))
            except Exception as exc:  # a crashed check is a counted warning, never a silent pass
                warnings.append(f"check {item.id} crashed on {resource.ref}: {type(exc).__name__}: {exc}")
                continue
            seen: set[tuple[str, int | None, str]] = set()
            for hit in hits:
                marker = (str(hit.resource or ""), hit.line, hit.key or hit.message)
                if marker in seen:
                    continue
                seen.add(marker)
                findings.append(make_finding(item, resource, hit, suppression_for(item.id, resource, hit, parsed)))
    return EngineOutput(tuple(findings), tuple(warnings), evaluated)


def resource_set(input_kind: str, resources: Sequence[Resource], label: str) -> Resource:
    """The single resource a ``set`` check sees: every resource of one input kind."""
    return Resource(input=input_kind, kind=SET_KIND, name=label, path=label, data=tuple(resources), scoped=False)


def run_set_checks(input_kind: str, files: Sequence[ParsedFile], checks: Sequence[Check], label: str) -> EngineOutput:
    """Evaluate the ``set`` checks of ``input_kind`` over every resource of ``files`` together.

    Suppression comments are honoured in the file each hit points at.
    """
    resources = [r for f in files for r in f.resources if r.input == input_kind]
    whole = resource_set(input_kind, resources, label)
    by_path = {f.path: f for f in files}
    findings: list[Finding] = []
    warnings: list[str] = []
    evaluated = 0
    for item in checks:
        if item.scope != "set" or not item.applies_to(whole):
            continue
        evaluated += 1
        try:
            hits = _collect(item.evaluate(whole))
        except Exception as exc:  # a crashed check is a counted warning, never a silent pass
            warnings.append(f"check {item.id} crashed on {label}: {type(exc).__name__}: {exc}")
            continue
        for hit in hits:
            parsed = by_path.get(hit.path) or ParsedFile(hit.path, input_kind)
            owner = next(
                (r for r in parsed.resources if r.line is not None and hit.line is not None
                 and r.line <= hit.line <= (r.end_line or r.line)),
                whole,
            )  # fmt: skip
            finding = make_finding(item, owner, hit, suppression_for(item.id, owner, hit, parsed))
            findings.append(finding)
    return EngineOutput(tuple(findings), tuple(warnings), evaluated)


def _collect(hits: Iterable[Hit]) -> list[Hit]:
    out: list[Hit] = []
    for hit in hits:
        if not isinstance(hit, Hit):
            raise TypeError(f"check yielded {type(hit).__name__}, not Hit")
        out.append(hit)
        if len(out) >= MAX_HITS_PER_CHECK:
            break
    return out
