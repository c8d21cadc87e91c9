"""JUnit XML for GitLab and Jenkins test reports: one test case per finding.

A suite per finding kind. The test suite passes exactly when the gate
passes: a finding that violates the gate is a ``<failure>``; an active
finding below the gate (or any finding when no gate is configured, which
exits 0) is a passing case whose details are in ``<system-out>``; a
suppressed one is ``<skipped>`` with the rule and reason that set it aside.
A clean scan still has one passing case, so CI shows that the scan ran.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from shieldwall.model import Finding, FindingKind, Package, ScanResult
from shieldwall.policy.model import GateVerdict
from shieldwall.report.common import (
    fix_text,
    kind_title,
    layer_text,
    location_text,
    ordered,
    package_index,
    suppressions_text,
)


def render_junit(result: ScanResult, verdict: GateVerdict | None = None) -> str:
    """Serialise ``result`` as a JUnit ``<testsuites>`` document."""
    packages = package_index(result)
    findings = ordered(list(result.findings))
    root = ET.Element("testsuites", name=f"shieldwall {result.target.name}")
    failing = verdict.failing_fingerprints if verdict is not None and verdict.policies else None
    total = failures = skipped = 0
    for kind in FindingKind:
        items = [f for f in findings if f.kind is kind]
        if not items:
            continue
        suite = ET.SubElement(root, "testsuite", name=f"{result.target.name} / {kind_title(kind)}")
        suite_failures = suite_skipped = 0
        for finding in items:
            case = _case(suite, finding, result, packages)
            if not finding.active:
                ET.SubElement(case, "skipped", message=f"suppressed: {suppressions_text(finding)}"[:1000])
                suite_skipped += 1
            elif failing is not None and finding.fingerprint in failing:
                failure = ET.SubElement(
                    case,
                    "failure",
                    message=f"gate violation: {finding.severity} {finding.title}"[:1000],
                    type=str(finding.severity),
                )
                failure.text = _details(finding, packages)
                suite_failures += 1
            else:  # below the gate: reported, not a failure (the job's exit code is 0 for it)
                out = ET.SubElement(case, "system-out")
                out.text = f"below the gate: {finding.severity} {finding.title}\n{_details(finding, packages)}"
        suite.set("tests", str(len(items)))
        suite.set("failures", str(suite_failures))
        suite.set("errors", "0")
        suite.set("skipped", str(suite_skipped))
        total += len(items)
        failures += suite_failures
        skipped += suite_skipped
    if verdict is not None and verdict.policies and not verdict.passed and failures == 0:
        # the gate failed on something that is not one of the findings above: the suite must fail too
        suite = ET.SubElement(root, "testsuite", name=f"{result.target.name} / gate")
        case = ET.SubElement(suite, "testcase", classname=f"shieldwall.gate.{result.target.name}", name="gate")
        failure = ET.SubElement(case, "failure", message="gate failed", type="gate")
        failure.text = "\n".join(f"{f.policy}: {f.rule_id} {f.reason}" for f in verdict.failures) or "gate failed"
        for key, value in (("tests", "1"), ("failures", "1"), ("errors", "0"), ("skipped", "0")):
            suite.set(key, value)
        total += 1
        failures += 1
    if total == 0:
        suite = ET.SubElement(root, "testsuite", name=f"{result.target.name} / scan")
        ET.SubElement(suite, "testcase", classname=f"shieldwall.{result.target.name}", name="no findings")
        suite.set("tests", "1")
        suite.set("failures", "0")
        suite.set("errors", "0")
        suite.set("skipped", "0")
        total = 1
    root.set("tests", str(total))
    root.set("failures", str(failures))
    root.set("errors", "0")
    root.set("skipped", str(skipped))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _case(suite: ET.Element, finding: Finding, result: ScanResult, packages: dict[str, Package]) -> ET.Element:
    where = location_text(finding)
    package = packages.get(finding.package_id)
    subject = f"{package.name}@{package.version}" if package is not None else where
    attrs = {
        "classname": f"shieldwall.{finding.kind}.{result.target.name}",
        "name": f"[{finding.severity}] {finding.rule_id}" + (f" {subject}" if subject else ""),
    }
    if finding.location is not None:
        attrs["file"] = finding.location.path
        if finding.location.line:
            attrs["line"] = str(finding.location.line)
    return ET.SubElement(suite, "testcase", attrs)


def _details(finding: Finding, packages: dict[str, Package]) -> str:
    lines = [finding.title]
    if finding.message:
        lines.append(finding.message)
    where = location_text(finding)
    if where:
        lines.append(f"Location: {where}" + (f" ({layer_text(finding)})" if layer_text(finding) else ""))
    fix = fix_text(finding)
    if fix:
        lines.append(f"Fix: {fix}")
    lines.append(f"Fingerprint: {finding.fingerprint}")
    lines.extend(f"See: {r}" for r in finding.references[:5])
    return "\n".join(lines)
