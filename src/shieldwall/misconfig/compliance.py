"""Compliance view: per control of a framework, pass / fail / not applicable, with the findings behind it.

Frameworks are data (``shieldwall/data/compliance/<id>.yaml``): control ID, title, and the checks that
implement it. A ``checks`` entry is a check ID, or a selector over other scanners' findings:
``finding:<kind>`` or ``finding:<kind>:<minimum severity>`` (``finding:vulnerability:CRITICAL``), or an
agent event kind ``event:<kind>`` (``event:fim.modified``): host evidence the manager evaluates on agent
events, never on a scan result (such a control is not applicable to a scan).

* **fail**: at least one active finding of the control's checks (not set aside by an in-file comment,
  an exception or a VEX statement);
* **error**: no finding, but the evidence is incomplete: a file of the control's input kind failed to
  parse, or the scanner behind a selector reported warnings (packages not evaluated, unreadable
  files...). Never a pass;
* **pass**: the control's checks could run -- the target had input of their kind (a Dockerfile, a
  manifest, an image config...) or, for selectors, the scanner ran over something it applies to (a
  vulnerability selector needs packages) -- and found nothing;
* **not applicable**: no automated check (a manual control), or nothing in the target they apply to;
  host-file controls (``/etc/ssh``, ``/etc/login.defs``...) never apply to images or SBOMs.

The percentage is passed / (passed + failed + error); a target where no control applies has no score.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from importlib import resources
from pathlib import Path

from shieldwall.analyze.base import AnalyzerError, FileInfo
from shieldwall.errors import ConfigError, FileTooLargeError
from shieldwall.misconfig.check import InputKind
from shieldwall.misconfig.engine import DETECTOR
from shieldwall.misconfig.inputs import InputParser, builtin_parsers
from shieldwall.misconfig.registry import CheckSet
from shieldwall.misconfig.yamlload import load_documents
from shieldwall.model import Finding, FindingKind, ScanResult, Severity, TargetKind
from shieldwall.target.limits import DEFAULT_LIMITS, Limits

SELECTOR = "finding:"
EVENT_SELECTOR = "event:"
_SCANNER_OF_KIND = {
    FindingKind.VULNERABILITY: "vuln",
    FindingKind.SECRET: "secret",
    FindingKind.SENSITIVE_FILE: "secret",
    FindingKind.MALWARE: "malware",
    FindingKind.MISCONFIG: "misconfig",
    FindingKind.LICENSE: "license",
}


class Status(StrEnum):
    """Outcome of one control."""

    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"
    NOT_APPLICABLE = "not-applicable"


@dataclass(frozen=True, slots=True)
class Control:
    """One control of a framework and the checks (or finding selectors) that implement it."""

    id: str
    title: str
    checks: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Framework:
    """A compliance framework loaded from its data file."""

    id: str
    title: str
    version: str
    controls: tuple[Control, ...]
    source: str = ""
    description: str = ""


@dataclass(frozen=True, slots=True)
class ControlResult:
    """A control's status, why, and the findings behind it (suppressed ones listed apart)."""

    control: Control
    status: Status
    reason: str
    findings: tuple[Finding, ...] = ()
    suppressed: tuple[Finding, ...] = ()


@dataclass(frozen=True, slots=True)
class ComplianceReport:
    """A framework evaluated against one scan result."""

    framework: Framework
    target: str
    results: tuple[ControlResult, ...]
    inputs: tuple[str, ...] = field(default=())

    def count(self, status: Status) -> int:
        """Number of controls with ``status``."""
        return sum(1 for r in self.results if r.status is status)

    @property
    def percent(self) -> float | None:
        """Share of evaluated controls that pass; None (no score) when no control applies."""
        passed, failed, error = self.count(Status.PASS), self.count(Status.FAIL), self.count(Status.ERROR)
        total = passed + failed + error
        return None if total == 0 else round(100.0 * passed / total, 1)


def framework_ids() -> list[str]:
    """IDs of the bundled frameworks."""
    folder = resources.files("shieldwall.data").joinpath("compliance")
    return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_framework(name: str) -> Framework:
    """A bundled framework by ID, or a framework YAML file by path; ``ConfigError`` otherwise."""
    path = Path(name)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        text, label = path.read_text(encoding="utf-8"), str(path)
    else:
        if name not in framework_ids():
            raise ConfigError(f"unknown framework {name!r} (available: {', '.join(framework_ids())})")
        text = resources.files("shieldwall.data").joinpath("compliance", f"{name}.yaml").read_text(encoding="utf-8")
        label = f"{name}.yaml"
    try:
        documents = load_documents(text, label)
    except AnalyzerError as exc:
        raise ConfigError(str(exc)) from exc
    raw = documents[0] if documents else None
    if not isinstance(raw, dict) or not isinstance(raw.get("controls"), list):
        raise ConfigError(f"{label}: a framework needs 'id', 'title' and a 'controls' list")
    controls = []
    for item in raw["controls"]:
        if not isinstance(item, dict) or "id" not in item or "title" not in item:
            raise ConfigError(f"{label}: every control needs 'id' and 'title'")
        controls.append(Control(str(item["id"]), str(item["title"]), tuple(str(c) for c in item.get("checks") or ())))
    return Framework(
        id=str(raw.get("id", path.stem)),
        title=str(raw.get("title", "")),
        version=str(raw.get("version", "")),
        controls=tuple(controls),
        source=str(raw.get("source", "")),
        description=str(raw.get("description", "")),
    )


def finding_input(finding: Finding) -> str:
    """The input kind a misconfig finding came from (from its evidence)."""
    for evidence in finding.evidence:
        if evidence.detector == DETECTOR:
            for key, value in evidence.details:
                if key == "input":
                    return value
    return ""


def inputs_in_directory(root: Path, parsers: Sequence[InputParser], limits: Limits = DEFAULT_LIMITS) -> set[str]:
    """Input kinds present under ``root`` (names first; YAML files are parsed to tell manifests apart)."""
    from shieldwall.target.directory import DirectoryLayer
    from shieldwall.target.entries import EntryKind

    found: set[str] = set()
    wanted = {p.input for p in parsers}
    for entry in DirectoryLayer(root, limits, skip_dirs=frozenset({".git", "node_modules"})).walk():
        if entry.kind is not EntryKind.FILE:
            continue
        info = FileInfo(entry.path, entry.size, entry.mode)
        for parser in parsers:
            if parser.input in found or not parser.claims(entry.path, info):
                continue
            try:
                if parser.parse(entry.path, entry.read()) is not None:
                    found.add(parser.input)
                    break
            except (AnalyzerError, FileTooLargeError):
                continue
        if found >= wanted:
            break
    return found


def inputs_present(result: ScanResult, limits: Limits = DEFAULT_LIMITS) -> set[str]:
    """Input kinds the target had: the image config and layers, kinds seen in findings, and a directory walk."""
    kinds = {finding_input(f) for f in result.findings if f.kind is FindingKind.MISCONFIG} - {""}
    if result.image is not None:
        kinds |= {InputKind.IMAGE_CONFIG, InputKind.FILE_MODE}
    if result.target.ref.kind is TargetKind.DIRECTORY and Path(result.target.ref.value).is_dir():
        kinds |= inputs_in_directory(Path(result.target.ref.value), builtin_parsers(), limits)
        from shieldwall.misconfig.hostscan import host_inputs

        kinds |= host_inputs(Path(result.target.ref.value))
    return kinds


def _selector_matches(selector: str, finding: Finding) -> bool:
    parts = selector.removeprefix(SELECTOR).split(":")
    if finding.kind.value != parts[0]:
        return False
    if len(parts) > 1 and parts[1]:
        try:
            return finding.severity.rank >= Severity(parts[1].upper()).rank
        except ValueError:
            return False
    return True


_WARNING_SCANNER = {
    "vulnerability": "vuln",
    "secret": "secret",
    "sensitive-file": "secret",
    "image-config-secrets": "secret",
    "malware": "malware",
    "license": "license",
}
_WARNING_INPUT = {"misconfig-host": InputKind.HOST, "misconfig-post": InputKind.IMAGE_CONFIG}


def _package_analyzers() -> frozenset[str]:
    from shieldwall.analyze.registry import load_analyzers

    names = set()
    for analyzer in load_analyzers(include_plugins=False):
        module = type(analyzer).__module__
        if module.startswith(("shieldwall.analyze.lang", "shieldwall.analyze.os")):
            names.add(analyzer.name)
    return frozenset(names)


@dataclass(frozen=True, slots=True)
class Touched:
    """Which scanners' and which misconfiguration inputs' evidence is incomplete, with one example each."""

    scanners: dict[str, str]
    inputs: dict[str, str]


def touched_by_warnings(result: ScanResult, parsers: Sequence[InputParser] | None = None) -> Touched:
    """Map the scan's warnings to the scanners and input kinds whose results they make incomplete."""
    scanners: dict[str, str] = {}
    inputs: dict[str, str] = {}
    package_analyzers = _package_analyzers()
    chosen = builtin_parsers() if parsers is None else parsers
    for warning in result.warnings:
        text = f"{warning.source}: {warning.message}"[:300]
        if warning.source in _WARNING_SCANNER:
            scanners.setdefault(_WARNING_SCANNER[warning.source], text)
        elif warning.source in package_analyzers:
            scanners.setdefault("vuln", text)  # an inventory that could not be read cannot be matched
        elif warning.source in _WARNING_INPUT:
            inputs.setdefault(_WARNING_INPUT[warning.source], text)
        elif warning.source == "misconfig-setuid":
            inputs.setdefault(InputKind.FILE_MODE, text)
        elif warning.source.startswith("misconfig") and warning.path:
            info = FileInfo(warning.path, 0, 0o100644)
            for parser in chosen:
                if parser.claims(warning.path, info):
                    inputs.setdefault(parser.input, text)
    return Touched(scanners, inputs)


def _is_host(kind: str) -> bool:
    return kind == InputKind.HOST or kind.startswith(f"{InputKind.HOST}-")


def _has_content(result: ScanResult) -> bool:
    """Whether the target had anything a scanner could look at (an empty directory has not)."""
    if result.packages or result.findings or result.layers or result.image is not None:
        return True
    if result.target.ref.kind is TargetKind.DIRECTORY:
        root = Path(result.target.ref.value)
        try:
            return root.is_dir() and any(True for _ in root.iterdir())
        except OSError:
            return False
    return True


def evaluate(
    framework: Framework,
    result: ScanResult,
    checks: CheckSet,
    inputs: Iterable[str],
    scanners: Iterable[str],
) -> ComplianceReport:
    """Pass/fail/error/not-applicable for every control of ``framework`` against ``result``."""
    image_like = result.target.ref.kind is not TargetKind.DIRECTORY
    present = {i for i in inputs if not (image_like and _is_host(i))}
    content = _has_content(result)
    ran = set(scanners)
    touched = touched_by_warnings(result)
    by_rule: dict[str, list[Finding]] = {}
    for finding in result.findings:
        by_rule.setdefault(finding.rule_id, []).append(finding)
    results: list[ControlResult] = []
    for control in framework.controls:
        hits: list[Finding] = []
        applicable: list[str] = []
        unknown: list[str] = []
        events = [ref for ref in control.checks if ref.startswith(EVENT_SELECTOR)]
        errors: list[str] = []
        host_only = bool(control.checks)
        for ref in control.checks:
            if ref.startswith(EVENT_SELECTOR):
                continue
            if ref.startswith(SELECTOR):
                host_only = False
                kind = ref.removeprefix(SELECTOR).split(":", 1)[0]
                scanner = next((s for k, s in _SCANNER_OF_KIND.items() if k.value == kind), kind)
                if scanner in ran and scanner in touched.scanners:
                    errors.append(touched.scanners[scanner])
                # nothing to check: an empty target, or a vulnerability selector over a target without packages
                if scanner in ran and content and (scanner != "vuln" or result.packages):
                    applicable.append(ref)
                hits += [f for f in result.findings if _selector_matches(ref, f)]
                continue
            item = checks.get(ref)
            if item is None:
                unknown.append(ref)
                host_only = False
                continue
            if not _is_host(item.input):
                host_only = False
            elif image_like:
                continue  # host-file checks do not apply to images: neither their findings nor a pass
            touched_input = touched.inputs.get(item.input) or (
                _is_host(item.input) and touched.inputs.get(InputKind.HOST)
            )
            if "misconfig" in ran and touched_input:
                errors.append(touched_input)
            if item.input in present and "misconfig" in ran:
                applicable.append(ref)
            hits += by_rule.get(ref, [])
        active = tuple(f for f in hits if f.active)  # in-file comments, exceptions and VEX set findings aside
        suppressed = tuple(f for f in hits if not f.active)
        if active:
            status, reason = Status.FAIL, f"{len(active)} finding(s)"
        elif errors:
            status, reason = Status.ERROR, f"incomplete evidence: {'; '.join(dict.fromkeys(errors))}"[:500]
        elif events and len(events) == len(control.checks):
            status, reason = Status.NOT_APPLICABLE, "host control: evaluated on agent events, not on a scan"
        elif host_only and image_like:
            status, reason = Status.NOT_APPLICABLE, "host-file control: does not apply to images or SBOMs"
        elif applicable:
            status, reason = Status.PASS, f"checked by {', '.join(applicable)}"
        elif not control.checks:
            status, reason = Status.NOT_APPLICABLE, "manual control: no automated check"
        elif unknown and len(unknown) + len(events) == len(control.checks):
            status, reason = Status.NOT_APPLICABLE, f"checks not loaded: {', '.join(unknown)}"
        else:
            status, reason = Status.NOT_APPLICABLE, "nothing in the target these checks apply to"
        results.append(ControlResult(control, status, reason, active, suppressed))
    return ComplianceReport(framework, result.target.name, tuple(results), tuple(sorted(present)))


def _finding_json(finding: Finding) -> dict[str, object]:
    location = finding.location
    return {
        "rule_id": finding.rule_id,
        "severity": finding.severity.value,
        "title": finding.title,
        "message": finding.message,
        "path": location.path if location else "",
        "line": location.line if location else None,
        "end_line": location.end_line if location else None,
        "suppressed": finding.suppressed,
    }


def report_json(report: ComplianceReport) -> str:
    """The report as JSON: framework, summary, and every control with its findings."""
    data = {
        "framework": {
            "id": report.framework.id,
            "title": report.framework.title,
            "version": report.framework.version,
            "source": report.framework.source,
        },
        "target": report.target,
        "inputs": list(report.inputs),
        "summary": {
            "controls": len(report.results),
            "pass": report.count(Status.PASS),
            "fail": report.count(Status.FAIL),
            "error": report.count(Status.ERROR),
            "not_applicable": report.count(Status.NOT_APPLICABLE),
            "percent": report.percent,
        },
        "controls": [
            {
                "id": r.control.id,
                "title": r.control.title,
                "status": r.status.value,
                "reason": r.reason,
                "checks": list(r.control.checks),
                "findings": [_finding_json(f) for f in r.findings],
                "suppressed": [_finding_json(f) for f in r.suppressed],
            }
            for r in report.results
        ],
    }
    return json.dumps(data, indent=2) + "\n"
