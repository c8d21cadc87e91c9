"""The secrets baseline: today's secrets by fingerprint, each with a human verdict.

``shieldwall secrets baseline`` writes it; ``shieldwall scan
--secrets-baseline FILE`` then sets aside every secret already listed (as a
suppression with the verdict as reason, so reports still list it) and only
what is new stays active. The file never holds a secret: each entry has the
finding's fingerprint (built on a keyed HMAC of the secret), its rule, path,
line and redacted form, and the reviewer's ``verdict`` and ``note``, which a
rewrite of the baseline keeps.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shieldwall.errors import ConfigError
from shieldwall.model import Finding, FindingKind, ScanResult, Suppression

BASELINE_VERSION = 1
SECRET_KINDS = frozenset({FindingKind.SECRET, FindingKind.SENSITIVE_FILE})
Verdict = Literal["true-positive", "false-positive", "unreviewed"]


class BaselineEntry(BaseModel):
    """One known secret (by fingerprint) and what a reviewer decided about it."""

    model_config = ConfigDict(extra="forbid")

    fingerprint: str = Field(min_length=8)
    kind: str
    rule_id: str
    path: str = ""
    line: int | None = None
    redacted: str = ""
    verdict: Verdict = "unreviewed"
    note: str = ""


class SecretsBaseline(BaseModel):
    """The whole baseline file."""

    model_config = ConfigDict(extra="forbid")

    version: int = BASELINE_VERSION
    generated_at: str = ""
    tool_version: str = ""
    target: str = ""
    fingerprint_key_id: str = ""
    entries: list[BaselineEntry] = Field(default_factory=list)

    def by_fingerprint(self) -> dict[str, BaselineEntry]:
        """Entries keyed by fingerprint."""
        return {e.fingerprint: e for e in self.entries}


def secret_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Findings of the secret scanner family (secrets and sensitive files)."""
    return [f for f in findings if f.kind in SECRET_KINDS]


def build_baseline(
    result: ScanResult, key_id: str, previous: SecretsBaseline | None = None, *, now: str | None = None
) -> SecretsBaseline:
    """A baseline of ``result``'s secrets; verdicts and notes of ``previous`` entries are kept."""
    known = previous.by_fingerprint() if previous else {}
    entries: dict[str, BaselineEntry] = {}
    for finding in secret_findings(result.findings):
        fingerprint = finding.fingerprint
        if fingerprint in entries:
            continue
        old = known.get(fingerprint)
        loc = finding.location
        entries[fingerprint] = BaselineEntry(
            fingerprint=fingerprint,
            kind=str(finding.kind),
            rule_id=finding.rule_id,
            path=loc.path if loc else "",
            line=loc.line if loc else None,
            redacted=finding.evidence[0].found if finding.evidence else "",
            verdict=old.verdict if old else "unreviewed",
            note=old.note if old else "",
        )
    return SecretsBaseline(
        generated_at=now or dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        tool_version=result.tool_version,
        target=result.target.name,
        fingerprint_key_id=key_id,
        entries=sorted(entries.values(), key=lambda e: (e.path, e.line or 0, e.rule_id)),
    )


def load_baseline(path: Path) -> SecretsBaseline:
    """Read and validate a baseline file; a malformed one is a ``ConfigError``."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot read the secrets baseline ({exc})") from None
    try:
        baseline = SecretsBaseline.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise ConfigError(f"{path}: invalid secrets baseline at {where}: {first['msg']}") from None
    if baseline.version != BASELINE_VERSION:
        raise ConfigError(f"{path}: secrets baseline version {baseline.version} is not supported")
    return baseline


def write_baseline(baseline: SecretsBaseline, path: Path) -> None:
    """Write atomically, as indented JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(baseline.model_dump(mode="json"), indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def apply_baseline(result: ScanResult, baseline: SecretsBaseline, source: str = "") -> ScanResult:
    """Set aside every secret the baseline lists (a suppression naming its verdict); new ones stay active."""
    known = baseline.by_fingerprint()
    findings = []
    for finding in result.findings:
        entry = known.get(finding.fingerprint) if finding.kind in SECRET_KINDS else None
        if entry is not None:
            reason = f"in the secrets baseline ({entry.verdict})" + (f": {entry.note}" if entry.note else "")
            mark = Suppression(kind="secrets-baseline", rule=entry.fingerprint, reason=reason, source=source)
            finding = replace(finding, suppressions=(*finding.suppressions, mark))
        findings.append(finding)
    return replace(result, findings=tuple(findings))


def new_secrets(result: ScanResult) -> list[Finding]:
    """Active secret and sensitive-file findings (after a baseline, the new ones)."""
    return [f for f in secret_findings(result.findings) if f.active]
