"""The policy's Kubernetes checks, run by the misconfiguration engine on the object in the request.

The object arrives as JSON; it is turned into the engine's ``YamlMap`` form
(no line numbers: they do not exist in an API request) and evaluated as one
``kubernetes`` resource, so the admission answer and ``shieldwall scan`` of
the same manifest report the same check IDs. Server-side bookkeeping
(``managedFields``, the last-applied annotation) is dropped first: checks do
not read it and it is most of a captured object's size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from shieldwall.admission.policy import KubernetesChecks
from shieldwall.misconfig.check import Check, InputKind, ParsedFile
from shieldwall.misconfig.engine import run_checks
from shieldwall.misconfig.inputs.kubernetes import resources_of
from shieldwall.misconfig.registry import load_checks
from shieldwall.misconfig.yamlload import YamlList, YamlMap
from shieldwall.model import Finding

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
MAX_DEPTH = 64


@dataclass(frozen=True, slots=True)
class PodSpecResult:
    """Findings of the selected checks (unsuppressed) and the engine's warnings."""

    findings: tuple[Finding, ...]
    warnings: tuple[str, ...]
    evaluated: int


def _convert(value: Any, depth: int = 0) -> Any:
    if depth > MAX_DEPTH:
        raise ValueError("object nested too deeply")
    if isinstance(value, dict):
        out = YamlMap()
        for key, item in value.items():
            out[key] = _convert(item, depth + 1)
        return out
    if isinstance(value, list):
        seq = YamlList()
        seq.extend(_convert(item, depth + 1) for item in value)
        return seq
    return value


def _trimmed(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        return obj
    meta = {k: v for k, v in meta.items() if k != "managedFields"}
    annotations = meta.get("annotations")
    if isinstance(annotations, dict) and LAST_APPLIED in annotations:
        meta["annotations"] = {k: v for k, v in annotations.items() if k != LAST_APPLIED}
    return {**obj, "metadata": meta}


@lru_cache(maxsize=32)
def selected_checks(selection: KubernetesChecks) -> tuple[Check, ...]:
    """The Kubernetes checks a policy selects: by profile control prefix, plus IDs, minus disabled IDs."""
    prefixes = tuple(f"{profile}:" for profile in selection.profiles)
    wanted = set(selection.checks)
    off = set(selection.disabled)
    out: list[Check] = []
    for item in load_checks().for_input(InputKind.KUBERNETES):
        if item.id in off or item.scope != "resource":
            continue
        if item.id in wanted or any(control.startswith(prefixes) for control in item.controls):
            out.append(item)
    return tuple(out)


def check_object(obj: dict[str, Any], checks: Sequence[Check], label: str) -> PodSpecResult:
    """Run ``checks`` on one Kubernetes object from an admission request."""
    document = _convert(_trimmed(obj))
    resources = resources_of([document], label)
    parsed = ParsedFile(label, InputKind.KUBERNETES, tuple(resources))
    output = run_checks(parsed, checks)
    findings = tuple(f for f in output.findings if not f.suppressed)
    return PodSpecResult(findings, output.warnings, output.evaluated)
