"""The gate: which active findings make a pipeline fail, and why.

A finding is active when nothing suppresses it (no in-file comment, no
unexpired exception, no VEX statement). With a baseline only findings whose
fingerprint the baseline lacks are considered. Each policy (the policy file,
``--fail-on``) is checked on its own; any failure fails the gate.
"""

from __future__ import annotations

from collections.abc import Sequence

from shieldwall.model import Finding, ScanResult
from shieldwall.policy.baseline import Baseline
from shieldwall.policy.model import AnyOf, Condition, GateFailure, GateVerdict, Policy


def evaluate_gate(result: ScanResult, policies: Sequence[Policy], baseline: Baseline | None = None) -> GateVerdict:
    """Check every active (and, with a baseline, new) finding against every policy."""
    names = (result.target.name, str(result.target.ref), result.target.ref.value, *result.target.tags)
    active = [f for f in result.findings if f.active]
    suppressed = len(result.findings) - len(active)
    known = baseline.fingerprints if baseline else frozenset()
    considered = [f for f in active if f.fingerprint not in known]
    failures: list[GateFailure] = []
    for policy in policies:
        condition = policy.condition_for(names)
        for finding in considered:
            if not condition.matches(finding):
                continue
            failures.append(
                GateFailure(
                    fingerprint=finding.fingerprint,
                    rule_id=finding.rule_id,
                    title=finding.title,
                    severity=finding.severity,
                    kind=finding.kind,
                    policy=policy.name,
                    reason=_reason(condition, finding),
                )
            )
    return GateVerdict(
        passed=not failures,
        policies=tuple(p.name for p in policies),
        failures=tuple(failures),
        active=len(active),
        suppressed=suppressed,
        baseline_known=len(active) - len(considered),
        baseline=baseline.source if baseline else "",
        new_fingerprints=frozenset(f.fingerprint for f in considered) if baseline else frozenset(),
    )


def _reason(condition: Condition, finding: Finding) -> str:
    """The most precise description: the ``any`` branch that matched rather than the whole list."""
    while isinstance(condition, AnyOf) and not condition.label:
        branch = condition.first_match(finding)
        if branch is None:
            break
        condition = branch
    return condition.describe()
