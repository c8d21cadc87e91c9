"""The decision: store facts, pod-spec findings and the namespace policy -> allowed or not, and why.

Pure: no I/O, no clock (``today`` is passed in), so every branch is testable
without a server. The mode turns violations into a denial (enforce), into
``warnings`` the user sees while the object is admitted (warn), or into an
audit record only (audit). An exception removes one rule for one image in
one namespace until it expires; an expired exception no longer applies and
says so in the warnings.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from shieldwall.admission.images import ContainerImage
from shieldwall.admission.lookup import FindingFact, ImageFacts
from shieldwall.admission.podspec import PodSpecResult
from shieldwall.admission.policy import AdmissionException, AdmissionPolicy, Mode, NamespacePolicy, UnknownImage
from shieldwall.model import FindingKind, Severity

MAX_RULES_IN_MESSAGE = 5
RANK = {severity: severity.rank for severity in Severity}


@dataclass(frozen=True, slots=True)
class Violation:
    """One reason the object breaks the policy: a code, the rule IDs behind it, the image if any."""

    code: str
    message: str
    image: str = ""
    rules: tuple[str, ...] = ()
    headline: str = ""
    """The message before its rule list, ``{n}`` standing for their count (to rebuild it when some are excepted)."""


@dataclass(frozen=True, slots=True)
class Resolution:
    """How an image reference was judged: the digest it resolved to, and from what."""

    image: str
    digest: str
    resolved_from: str
    known: bool


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer to one admission request and everything the audit record needs."""

    allowed: bool
    mode: Mode
    namespace: str
    violations: tuple[Violation, ...] = ()
    excepted: tuple[tuple[Violation, str], ...] = ()
    warnings: tuple[str, ...] = ()
    resolutions: tuple[Resolution, ...] = ()
    scan_requests: tuple[str, ...] = ()
    summary: str = ""
    notes: tuple[str, ...] = field(default=())

    @property
    def message(self) -> str:
        """What a denied user reads."""
        if not self.violations:
            return self.summary
        return "shieldwall: " + "; ".join(v.message for v in self.violations)


def _rules_text(rules: Sequence[str]) -> str:
    shown = ", ".join(rules[:MAX_RULES_IN_MESSAGE])
    more = len(rules) - MAX_RULES_IN_MESSAGE
    return shown + (f" and {more} more" if more > 0 else "")


class _Judge:
    """Collects violations, setting aside what an active exception covers."""

    def __init__(self, namespace: str, exceptions: Sequence[AdmissionException], today: dt.date) -> None:
        self.namespace = namespace
        self.active = [e for e in exceptions if e.active(today)]
        self.expired = [e for e in exceptions if not e.active(today)]
        self.violations: list[Violation] = []
        self.excepted: list[tuple[Violation, str]] = []
        self.notes: list[str] = []

    def exception_for(self, names: tuple[str, ...], rule: str) -> AdmissionException | None:
        for item in self.active:
            if item.covers(self.namespace, names, rule):
                return item
        for item in self.expired:
            if item.covers(self.namespace, names, rule):
                self.notes.append(f"exception for {item.image} ({rule}) expired on {item.expires.isoformat()}")
        return None

    def add(self, violation: Violation, names: tuple[str, ...]) -> None:
        rules = violation.rules or (violation.code,)
        kept: list[str] = []
        for rule in rules:
            exception = self.exception_for(names, rule)
            if exception is None:
                kept.append(rule)
            else:
                reason = f"{exception.reason} (by {exception.by}, until {exception.expires.isoformat()})"
                self.excepted.append((Violation(violation.code, violation.message, violation.image, (rule,)), reason))
        if not kept:
            return
        if violation.headline and len(kept) != len(rules):
            violation = _listed(violation.code, violation.headline, violation.image, kept)
        self.violations.append(violation)


def _listed(code: str, headline: str, image: str, rules: Sequence[str]) -> Violation:
    """A violation whose message ends with its rule IDs."""
    message = f"{headline.format(n=len(rules))}: {_rules_text(rules)}"
    return Violation(code, message, image, tuple(rules), headline)


def _counted(facts: ImageFacts, rules: NamespacePolicy) -> list[FindingFact]:
    out = []
    for item in facts.findings:
        if item.kind is FindingKind.VULNERABILITY and rules.fixable_only and not item.fixable:
            continue
        out.append(item)
    return out


def _judge_findings(judge: _Judge, facts: ImageFacts, rules: NamespacePolicy) -> None:
    label = facts.written
    names = facts.names
    findings = _counted(facts, rules)
    threshold = rules.threshold

    def pick(predicate: Callable[[FindingFact], bool]) -> list[str]:
        return sorted({f.rule_id for f in findings if predicate(f)})

    image = label.replace("{", "{{").replace("}", "}}")
    if threshold is not None:
        severe = pick(lambda f: f.kind is FindingKind.VULNERABILITY and RANK[f.severity] >= RANK[threshold])
        if severe:
            headline = f"image {image}: {{n}} vulnerabilities at or above {threshold}"
            judge.add(_listed("vulnerability", headline, label, severe), names)
    if rules.kev:
        kev = pick(lambda f: f.kind is FindingKind.VULNERABILITY and f.kev)
        if kev:
            headline = f"image {image}: {{n}} known-exploited vulnerabilities (CISA KEV)"
            judge.add(_listed("kev", headline, label, kev), names)
    if rules.secrets:
        found = pick(lambda f: f.kind in (FindingKind.SECRET, FindingKind.SENSITIVE_FILE))
        if found:
            judge.add(_listed("secret", f"image {image}: {{n}} secrets found", label, found), names)
    if rules.malware:
        found = pick(lambda f: f.kind is FindingKind.MALWARE)
        if found:
            judge.add(_listed("malware", f"image {image}: {{n}} malware findings", label, found), names)
    if rules.licenses:
        found = pick(lambda f: f.kind is FindingKind.LICENSE)
        if found:
            judge.add(_listed("license", f"image {image}: {{n}} denied licences", label, found), names)


def _judge_image(judge: _Judge, facts: ImageFacts, rules: NamespacePolicy, scans: list[str]) -> Resolution:
    label = facts.written
    names = facts.names
    if facts.reference is None:
        judge.add(Violation("bad-reference", f"image {label!r}: {facts.error}", label), names)
        return Resolution(label, "", "", False)
    if not rules.registry_allowed(facts.reference.registry):
        message = f"image {label}: registry {facts.reference.registry} is not allowed here"
        judge.add(Violation("registry", message, label), names)
    resolution = Resolution(label, facts.digest, facts.resolved_from, facts.asset_id is not None)
    if facts.asset_id is None or not facts.scanned:
        if rules.unknown_image is UnknownImage.SCAN:
            scans.append(str(facts.reference))
            judge.notes.append(f"image {label} is not known to the store yet; a scan was queued")
        else:
            what = "has never been scanned" if facts.asset_id is None else "has no recorded scan"
            judge.add(Violation("unknown-image", f"image {label} {what}", label), names)
        return resolution
    _judge_findings(judge, facts, rules)
    return resolution


def decide(
    *,
    namespace: str,
    operation: str,
    policy: AdmissionPolicy,
    images: Sequence[ContainerImage],
    facts: Mapping[str, ImageFacts],
    podspec: PodSpecResult | None,
    today: dt.date,
) -> Decision:
    """Judge one request: every image, the pod spec, then the namespace's mode."""
    rules = policy.for_namespace(namespace)
    if operation in ("DELETE", "CONNECT"):
        return Decision(True, rules.mode, namespace, summary=f"{operation} is not judged")
    judge = _Judge(namespace, policy.exceptions, today)
    scans: list[str] = []
    resolutions: list[Resolution] = []
    seen: set[str] = set()
    for container in images:
        if not container.image:
            judge.add(Violation("bad-reference", f"container {container.name} has no image", container.name), ())
            continue
        if container.image in seen:
            continue
        seen.add(container.image)
        resolutions.append(_judge_image(judge, facts[container.image], rules, scans))
    if podspec is not None:
        for warning in podspec.warnings:  # a crashed check is never a pass
            judge.add(Violation("check-error", f"pod spec check failed: {warning}"), ())
        by_rule: dict[str, list[str]] = {}
        for finding in podspec.findings:
            by_rule.setdefault(finding.rule_id, []).append(finding.message or finding.title)
        image_names = tuple(c.image for c in images)
        for rule_id, messages in sorted(by_rule.items()):
            text = f"{rule_id}: {messages[0]}" + (f" (+{len(messages) - 1} more)" if len(messages) > 1 else "")
            judge.add(Violation("k8s-check", text, "", (rule_id,)), image_names or ("*",))
    violations = tuple(judge.violations)
    warnings = list(judge.notes)
    if rules.mode is Mode.WARN:
        warnings = [f"would be denied: {v.message}" for v in violations] + warnings
    allowed = not violations or rules.mode is not Mode.ENFORCE
    summary = "no violation" if not violations else f"{len(violations)} violations ({rules.mode} mode)"
    return Decision(
        allowed=allowed,
        mode=rules.mode,
        namespace=namespace,
        violations=violations,
        excepted=tuple(judge.excepted),
        warnings=tuple(dict.fromkeys(warnings)),
        resolutions=tuple(resolutions),
        scan_requests=tuple(dict.fromkeys(scans)),
        summary=summary,
        notes=tuple(judge.notes),
    )
