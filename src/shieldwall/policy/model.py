"""Gate values: conditions over one finding, policies, and the verdict of a gate."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field

from shieldwall.model import Finding, FindingKind, Severity, Suppression


def license_of(finding: Finding) -> str:
    """The licence a ``license`` finding is about (its evidence's ``license`` detail)."""
    for evidence in finding.evidence:
        for key, value in evidence.details:
            if key == "license":
                return value
    return ""


def is_fixable(finding: Finding) -> bool:
    """A vulnerability with a fixed version, or any other finding that states a fix."""
    if finding.vuln is not None:
        return bool(finding.vuln.fixed_version)
    return bool(finding.fix)


@dataclass(frozen=True, slots=True)
class Predicate:
    """Facts one finding must all have; an unset field does not constrain."""

    kinds: frozenset[FindingKind] = frozenset()
    min_severity: Severity | None = None
    fixable: bool | None = None
    kev: bool | None = None
    epss_above: float | None = None
    licenses: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()
    label: str = ""

    def matches(self, finding: Finding) -> bool:
        """True when ``finding`` has every fact this predicate asks for."""
        if self.kinds and finding.kind not in self.kinds:
            return False
        if self.min_severity is not None and finding.severity.rank < self.min_severity.rank:
            return False
        if self.fixable is not None and is_fixable(finding) != self.fixable:
            return False
        vuln = finding.vuln
        if self.kev is not None and bool(vuln and vuln.kev) != self.kev:
            return False
        if self.epss_above is not None and not (
            vuln is not None and vuln.epss_score is not None and vuln.epss_score > self.epss_above
        ):
            return False
        if self.licenses:
            licence = license_of(finding).lower()
            if finding.kind is not FindingKind.LICENSE or not any(
                fnmatch.fnmatchcase(licence, p.lower()) for p in self.licenses
            ):
                return False
        if self.ids:
            names = [finding.rule_id.lower(), *(a.lower() for a in finding.aliases)]
            if not any(fnmatch.fnmatchcase(n, p.lower()) for n in names for p in self.ids):
                return False
        return True

    def describe(self) -> str:
        """A short human description, e.g. ``severity >= HIGH and fixable``."""
        if self.label:
            return self.label
        parts: list[str] = []
        if self.kinds:
            parts.append("kind " + "|".join(sorted(self.kinds)))
        if self.min_severity is not None:
            parts.append(f"severity >= {self.min_severity}")
        if self.fixable is not None:
            parts.append("fixable" if self.fixable else "not fixable")
        if self.kev is not None:
            parts.append("in KEV" if self.kev else "not in KEV")
        if self.epss_above is not None:
            parts.append(f"EPSS > {self.epss_above:g}")
        if self.licenses:
            parts.append("licence in " + ", ".join(self.licenses))
        if self.ids:
            parts.append("id in " + ", ".join(self.ids))
        return " and ".join(parts) or "any finding"


@dataclass(frozen=True, slots=True)
class AllOf:
    """Every sub-condition holds for the same finding."""

    conditions: tuple[Condition, ...]
    label: str = ""

    def matches(self, finding: Finding) -> bool:
        """True when every sub-condition matches ``finding``."""
        return all(c.matches(finding) for c in self.conditions)

    def describe(self) -> str:
        """``(a and b)``."""
        return self.label or "(" + " and ".join(c.describe() for c in self.conditions) + ")"


@dataclass(frozen=True, slots=True)
class AnyOf:
    """At least one sub-condition holds for the finding."""

    conditions: tuple[Condition, ...]
    label: str = ""

    def matches(self, finding: Finding) -> bool:
        """True when some sub-condition matches ``finding``."""
        return any(c.matches(finding) for c in self.conditions)

    def first_match(self, finding: Finding) -> Condition | None:
        """The sub-condition that matched (for a precise failure reason)."""
        return next((c for c in self.conditions if c.matches(finding)), None)

    def describe(self) -> str:
        """``(a or b)``."""
        return self.label or "(" + " or ".join(c.describe() for c in self.conditions) + ")"


@dataclass(frozen=True, slots=True)
class NotOf:
    """The sub-condition does not hold."""

    condition: Condition
    label: str = ""

    def matches(self, finding: Finding) -> bool:
        """True when the sub-condition does not match ``finding``."""
        return not self.condition.matches(finding)

    def describe(self) -> str:
        """``not a``."""
        return self.label or f"not {self.condition.describe()}"


Condition = Predicate | AllOf | AnyOf | NotOf


@dataclass(frozen=True, slots=True)
class Override:
    """Targets whose name matches ``target`` (a glob) are gated by ``condition`` instead."""

    target: str
    condition: Condition

    def applies_to(self, names: tuple[str, ...]) -> bool:
        """True when any of the target's names matches the glob."""
        return any(fnmatch.fnmatchcase(n, self.target) for n in names if n)


@dataclass(frozen=True, slots=True)
class Policy:
    """Fail when an active finding matches ``condition`` (or the first matching override's)."""

    name: str
    condition: Condition
    overrides: tuple[Override, ...] = ()
    source: str = ""

    def condition_for(self, names: tuple[str, ...]) -> Condition:
        """The condition that gates a target with these names."""
        for override in self.overrides:
            if override.applies_to(names):
                return override.condition
        return self.condition

    def license_patterns(self) -> tuple[str, ...]:
        """Every licence glob any condition names (the licence scanner must report those)."""
        found: list[str] = []
        stack: list[Condition] = [self.condition, *(o.condition for o in self.overrides)]
        while stack:
            node = stack.pop()
            if isinstance(node, Predicate):
                found.extend(node.licenses)
            elif isinstance(node, NotOf):
                stack.append(node.condition)
            else:
                stack.extend(node.conditions)
        return tuple(dict.fromkeys(found))


def fail_on_policy(threshold: Severity) -> Policy:
    """The policy ``--fail-on`` stands for: any active finding at or above ``threshold``."""
    return Policy(name=f"fail-on {threshold.lower()}", condition=Predicate(min_severity=threshold), source="--fail-on")


@dataclass(frozen=True, slots=True)
class GateFailure:
    """One active finding that a policy fails on, and why."""

    fingerprint: str
    rule_id: str
    title: str
    severity: Severity
    kind: FindingKind
    policy: str
    reason: str


@dataclass(frozen=True, slots=True)
class GateVerdict:
    """The outcome of the gate: pass or fail, with every reason."""

    passed: bool
    policies: tuple[str, ...] = ()
    failures: tuple[GateFailure, ...] = ()
    active: int = 0
    suppressed: int = 0
    baseline_known: int = 0
    baseline: str = ""
    new_fingerprints: frozenset[str] = field(default_factory=frozenset)

    @property
    def failing_fingerprints(self) -> frozenset[str]:
        """Fingerprints of the findings the gate fails on."""
        return frozenset(f.fingerprint for f in self.failures)


PROVENANCE_REASONS = (
    "distro content:",
    "package content:",
    "third-party package content:",
    "documentation:",
    "not a private key:",
)
"""How the secret analyzers' own reasons begin (``analyze/secret/provenance.py``); other reasons are comments."""


def suppressions_of(finding: Finding) -> tuple[Suppression, ...]:
    """Every reason the finding is set aside, the in-file comment (``suppressed``) included."""
    inline: tuple[Suppression, ...] = ()
    if finding.suppressed:
        where = finding.location.path if finding.location else ""
        if finding.location and finding.location.line:
            where = f"{where}:{finding.location.line}"
        # an allow comment in the file, or what the analyzer knows about the file (documentation, distro content)
        kind = "provenance" if finding.suppressed.startswith(PROVENANCE_REASONS) else "inline"
        rule = where or ("in-file comment" if kind == "inline" else "file provenance")
        inline = (Suppression(kind=kind, rule=rule, reason=finding.suppressed, source=where),)
    return inline + finding.suppressions
