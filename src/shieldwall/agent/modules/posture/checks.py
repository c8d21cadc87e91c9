"""The host's Docker posture now: the misconfiguration engine's host checks on the agent's root.

The same parsing and checks as a host scan (``misconfig.hostscan``): the
daemon's ``daemon.json``, sshd, sysctl and login.defs settings, and the mode
bits of sensitive files (the Docker socket, units, keys...), kept to the
checks whose controls belong to the policy's frameworks (CIS Docker by
default). Suppression comments in the files are honoured; a file that
cannot be read is a warning, never a pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from shieldwall.misconfig.check import InputKind, ParsedFile
from shieldwall.misconfig.checks import host_files
from shieldwall.misconfig.engine import run_checks
from shieldwall.misconfig.hostscan import host_resources, mode_resources
from shieldwall.misconfig.registry import load_checks
from shieldwall.model import Finding


@dataclass(frozen=True, slots=True)
class PostureResult:
    """Failing checks (active findings) of the selected frameworks, and what could not be read."""

    failures: tuple[Finding, ...]
    warnings: tuple[str, ...]
    evaluated: int


def controls_of(finding: Finding) -> list[str]:
    """The benchmark controls a finding's check implements."""
    return [value for evidence in finding.evidence for key, value in evidence.details if key == "control"]


def _selected(finding: Finding, frameworks: Sequence[str]) -> bool:
    if not frameworks:
        return True
    prefixes = tuple(f"{name}:" for name in frameworks)
    return any(control.startswith(prefixes) for control in controls_of(finding))


def evaluate_posture(root: Path, frameworks: Sequence[str]) -> PostureResult:
    """Run the host checks on ``root`` and keep the active failures of ``frameworks`` (empty: every one)."""
    checks = load_checks()
    findings: list[Finding] = []
    warnings: list[str] = []
    evaluated = 0
    resources, files = host_resources(root)
    for resource, _sources in resources:
        output = run_checks(ParsedFile(resource.path, resource.input, (resource,)), checks.for_input(resource.input))
        findings += output.findings
        warnings += output.warnings
        evaluated += output.evaluated
    perm_ids = {c.id for c in host_files.CHECKS}
    mode_checks = [c for c in checks.for_input(InputKind.FILE_MODE) if c.id in perm_ids]
    for resource in mode_resources(files):
        output = run_checks(ParsedFile(resource.path, InputKind.FILE_MODE, (resource,)), mode_checks)
        findings += output.findings
        warnings += output.warnings
        evaluated += output.evaluated
    warnings += files.warnings
    unique = {f.fingerprint: f for f in findings if f.active and _selected(f, frameworks)}
    return PostureResult(tuple(unique.values()), tuple(warnings), evaluated)
