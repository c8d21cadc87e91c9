"""``.shieldwallignore.yaml``: judged findings, each with a reason, an owner and an expiry date.

::

    exceptions:
      - id: CVE-2023-32681              # rule ID or alias (globs allowed), or:
        fingerprint: 3f2a...            # the finding's fingerprint
        packages: [pkg:pypi/requests]   # optional scope: PURL or name globs
        paths: ["/app/*"]               # optional scope: path globs
        reason: the proxy code path is never used
        by: alice@example.com
        expires: 2027-01-31

A matching exception does not delete the finding: it adds a ``Suppression``
naming the file, line, author and reason. An expired exception stops
suppressing and a warning names it; one that matches nothing is reported
too, so the file does not rot.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from shieldwall.config.yamlsource import YamlDocument, load_yaml_file
from shieldwall.errors import ConfigError
from shieldwall.model import Finding, Package, ScanResult, ScanWarning, Suppression
from shieldwall.policy.purls import scope_matches

MAX_EXCEPTIONS = 10_000


class ExceptionDoc(BaseModel):
    """One entry of ``exceptions:``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: tuple[str, ...] = ()
    fingerprint: tuple[str, ...] = ()
    packages: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()
    reason: str = Field(min_length=1)
    by: str = Field(min_length=1)
    expires: dt.date

    @field_validator("id", "fingerprint", "packages", "paths", mode="before")
    @classmethod
    def _listify(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("reason", "by")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()

    @model_validator(mode="after")
    def _identifies(self) -> ExceptionDoc:
        if not self.id and not self.fingerprint:
            raise ValueError("an exception needs an id or a fingerprint")
        return self


class ExceptionsFileDoc(BaseModel):
    """The whole file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = 1
    exceptions: tuple[ExceptionDoc, ...] = Field(default=(), max_length=MAX_EXCEPTIONS)


@dataclass(frozen=True, slots=True)
class ExceptionRule:
    """A validated exception and where it was written."""

    ids: tuple[str, ...]
    fingerprints: tuple[str, ...]
    packages: tuple[str, ...]
    paths: tuple[str, ...]
    reason: str
    by: str
    expires: dt.date
    where: str

    @property
    def label(self) -> str:
        """What the exception names: its IDs or fingerprints."""
        return ", ".join(self.ids or self.fingerprints)

    def expired(self, today: dt.date) -> bool:
        """True from the day after ``expires``."""
        return today > self.expires

    def matches(self, finding: Finding, package: Package | None) -> bool:
        """True when the finding is named (ID/alias or fingerprint) and inside the scope."""
        names = [finding.rule_id.lower(), *(a.lower() for a in finding.aliases)]
        named = finding.fingerprint in self.fingerprints or any(
            fnmatch.fnmatchcase(n, p.lower()) for n in names for p in self.ids
        )
        if not named:
            return False
        if self.packages:
            purl = package.purl if package else ""
            name = package.name if package else ""
            if not package or not any(scope_matches(p, purl, name) for p in self.packages):
                return False
        if self.paths:
            path = finding.location.path if finding.location else ""
            if not path or not any(fnmatch.fnmatchcase(path, p) for p in self.paths):
                return False
        return True

    def suppression(self) -> Suppression:
        """The value kept on each finding this exception sets aside."""
        return Suppression(
            kind="exception",
            rule=self.where,
            reason=self.reason,
            source=self.where.rsplit(":", 1)[0],
            author=self.by,
            expires=self.expires.isoformat(),
            statement=(("id", self.label),),
        )


def load_exceptions(path: Path) -> tuple[ExceptionRule, ...]:
    """Read and validate an exceptions file; errors name the file, line and key."""
    document = load_yaml_file(path)
    return parse_exceptions(document)


def parse_exceptions(document: YamlDocument) -> tuple[ExceptionRule, ...]:
    """Validate an already-parsed exceptions document."""
    data = document.data
    if data is None:
        return ()
    if not isinstance(data, dict):
        raise ConfigError(f"{document.where(())}: an exceptions file is a mapping with an 'exceptions' list")
    try:
        doc = ExceptionsFileDoc.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = tuple(error["loc"])
            key = ".".join(str(p) for p in loc)
            message = "unknown key" if error["type"] == "extra_forbidden" else error["msg"]
            problems.append(f"{document.where(loc)}: {key}: {message.removeprefix('Value error, ')}")
        raise ConfigError("invalid exceptions file: " + "; ".join(problems)) from None
    return tuple(
        ExceptionRule(
            ids=e.id,
            fingerprints=e.fingerprint,
            packages=e.packages,
            paths=e.paths,
            reason=e.reason,
            by=e.by,
            expires=e.expires,
            where=document.where(("exceptions", i)),
        )
        for i, e in enumerate(doc.exceptions)
    )


def apply_exceptions(
    result: ScanResult, rules: Sequence[ExceptionRule], today: dt.date | None = None
) -> tuple[ScanResult, tuple[ScanWarning, ...]]:
    """Add a ``Suppression`` to each finding an unexpired exception covers; warn about expired and unused ones."""
    if not rules:
        return result, ()
    day = today or dt.date.today()
    packages = {p.id: p for p in result.packages}
    used: dict[int, int] = {}
    expired_hits: dict[int, int] = {}
    findings: list[Finding] = []
    for finding in result.findings:
        package = packages.get(finding.package_id)
        added: list[Suppression] = []
        for index, rule in enumerate(rules):
            if not rule.matches(finding, package):
                continue
            if rule.expired(day):
                expired_hits[index] = expired_hits.get(index, 0) + 1
                continue
            used[index] = used.get(index, 0) + 1
            added.append(rule.suppression())
        findings.append(replace(finding, suppressions=finding.suppressions + tuple(added)) if added else finding)
    warnings: list[ScanWarning] = []
    for index, rule in enumerate(rules):
        if rule.expired(day):
            hits = expired_hits.get(index, 0)
            warnings.append(
                ScanWarning(
                    "exceptions",
                    f"exception {rule.label} (by {rule.by}) expired on {rule.expires.isoformat()}"
                    f" and no longer suppresses: {hits} finding(s) are active again",
                    rule.where,
                )
            )
        elif index not in used:
            warnings.append(ScanWarning("exceptions", f"exception {rule.label} matched no finding", rule.where))
    return replace(result, findings=tuple(findings), warnings=result.warnings + tuple(warnings)), tuple(warnings)
