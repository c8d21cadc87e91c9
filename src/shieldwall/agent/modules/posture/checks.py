"""The host's Docker posture now: the misconfiguration engine's host checks on the agent's root.

The same parsing and checks as a host scan (``misconfig.hostscan``): the
daemon's ``daemon.json``, sshd, sysctl and login.defs settings, and the mode
bits of sensitive files (the Docker socket, units, keys...), kept to the
checks whose controls belong to the policy's frameworks (CIS Docker by
default). Suppression comments in the files are honoured; a file that
cannot be read is a warning, never a pass. When Docker is installed (a daemon
socket or binary under the root) and ``daemon.json`` is absent, the daemon
checks run on ``{}``: the daemon then runs with Docker's defaults, which CIS
asks to change, so a missing file is not a pass either.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from shieldwall.misconfig.check import InputKind, ParsedFile, Resource
from shieldwall.misconfig.checks import host_files
from shieldwall.misconfig.engine import run_checks
from shieldwall.misconfig.hostscan import host_resources, mode_resources
from shieldwall.misconfig.inputs.host import DOCKER_DAEMON_JSON, DockerDaemonInput
from shieldwall.misconfig.registry import load_checks
from shieldwall.model import Finding

DOCKER_PRESENT = ("var/run/docker.sock", "run/docker.sock", "usr/bin/dockerd", "usr/sbin/dockerd")


@dataclass(frozen=True, slots=True)
class PostureResult:
    """Failing checks (active findings) of the selected frameworks, and what could not be read."""

    failures: tuple[Finding, ...]
    warnings: tuple[str, ...]
    evaluated: int
    daemon_defaults: bool = False


def docker_installed(root: Path) -> bool:
    """A Docker daemon socket or binary exists under ``root`` (not following a final symlink)."""
    return any((root / relative).exists() or (root / relative).is_symlink() for relative in DOCKER_PRESENT)


def _defaults_resource() -> Resource:
    """``daemon.json`` as ``{}``: the daemon runs with Docker's defaults when the file is absent."""
    parsed = DockerDaemonInput().parse(DOCKER_DAEMON_JSON, b"{}")
    assert parsed is not None
    resource = parsed.resources[0]
    return replace(resource, name=f"{DOCKER_DAEMON_JSON} (absent: Docker defaults)")


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
    defaults = False
    if docker_installed(root) and files.stat(DOCKER_DAEMON_JSON) is None:
        # No daemon.json is not a pass: the daemon runs with the defaults CIS asks to change.
        resources.append((_defaults_resource(), []))
        defaults = True
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
    return PostureResult(tuple(unique.values()), tuple(warnings), evaluated, defaults)
