"""The admission policy: per-namespace rules, loaded from YAML and validated (an unusable policy is an error).

::

    failure_action: deny            # what to answer when the store cannot decide in time
    timeout_seconds: 2.0            # decision budget; keep it under the webhook's timeoutSeconds
    default:                        # every namespace starts from this
      mode: enforce                 # enforce | warn | audit
      severity: HIGH                # an active finding at or above this severity denies (NONE: off)
      kev: true                     # a known-exploited vulnerability denies whatever its severity
      fixable_only: false           # count only vulnerabilities with a fixed version
      secrets: true                 # a secret (or sensitive file) found in the image denies
      malware: true
      licenses: false               # a licence finding (denied licence) denies
      allowed_registries: []        # globs over the registry host (empty: any)
      unknown_image: deny           # deny | scan (allow now, queue a scan, never wait for it)
      kubernetes: {profiles: [k8s-pss-baseline], checks: [], disabled: []}
    namespaces:
      kube-system: {mode: audit}
      dev: {mode: warn, severity: CRITICAL}
    exceptions:                     # like the CLI's: a reason, an author and an expiry date
      - namespace: dev              # glob
        image: "docker.io/library/nginx*"   # glob over repository[:tag] or the digest
        rules: ["CVE-2023-*", "SW-K8S-001"] # finding or check IDs, or decision codes; empty: all
        reason: accepted until the rebuild
        by: alice@example.com
        expires: 2027-01-31
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from shieldwall.config.yamlsource import load_yaml_file
from shieldwall.errors import ConfigError
from shieldwall.model import Severity

DEFAULT_TIMEOUT_SECONDS = 2.0
MAX_EXCEPTIONS = 10_000


class Mode(StrEnum):
    """What a namespace's violations do: deny, warn the user, or only leave an audit record."""

    ENFORCE = "enforce"
    WARN = "warn"
    AUDIT = "audit"


class FailureAction(StrEnum):
    """The answer when the decision cannot be computed (store down, too slow, malformed review)."""

    DENY = "deny"
    ALLOW = "allow"


class UnknownImage(StrEnum):
    """What to do with an image the store has never scanned."""

    DENY = "deny"
    SCAN = "scan"


class KubernetesChecks(BaseModel):
    """Which misconfiguration checks a pod spec must pass: by benchmark profile, plus IDs, minus IDs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    profiles: tuple[str, ...] = ("k8s-pss-baseline",)
    checks: tuple[str, ...] = ()
    disabled: tuple[str, ...] = ()


class NamespacePolicy(BaseModel):
    """The rules of one namespace (every field has the default namespace's value unless overridden)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Mode = Mode.ENFORCE
    severity: str = "HIGH"
    kev: bool = True
    fixable_only: bool = False
    secrets: bool = True
    malware: bool = True
    licenses: bool = False
    allowed_registries: tuple[str, ...] = ()
    unknown_image: UnknownImage = UnknownImage.DENY
    kubernetes: KubernetesChecks = KubernetesChecks()

    @field_validator("severity")
    @classmethod
    def _severity(cls, value: str) -> str:
        upper = value.strip().upper()
        if upper != "NONE" and upper not in Severity.__members__:
            raise ValueError(f"severity must be one of {', '.join(Severity.__members__)} or NONE")
        return upper

    @property
    def threshold(self) -> Severity | None:
        """The lowest severity that denies, or None when severity does not decide."""
        return None if self.severity == "NONE" else Severity(self.severity)

    def registry_allowed(self, registry: str) -> bool:
        """True when ``registry`` matches an allowed glob (or no list is set)."""
        if not self.allowed_registries:
            return True
        host = registry.lower()
        return any(fnmatch.fnmatchcase(host, pattern.lower()) for pattern in self.allowed_registries)


class AdmissionException(BaseModel):
    """An accepted risk for a namespace and image, with its reason, author and expiry."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    namespace: str = "*"
    image: str = "*"
    rules: tuple[str, ...] = ()
    reason: str = Field(min_length=1)
    by: str = Field(min_length=1)
    expires: dt.date

    def active(self, today: dt.date) -> bool:
        """Still in force on ``today`` (the expiry day itself included)."""
        return today <= self.expires

    def covers(self, namespace: str, image_names: tuple[str, ...], rule: str) -> bool:
        """True when this exception applies to ``rule`` for one of the image's names in ``namespace``."""
        if not fnmatch.fnmatchcase(namespace, self.namespace):
            return False
        if not any(fnmatch.fnmatchcase(name, self.image) for name in image_names if name):
            return False
        return not self.rules or any(fnmatch.fnmatchcase(rule, pattern) for pattern in self.rules)


class AdmissionPolicy(BaseModel):
    """The whole policy: failure action, time budget, default and per-namespace rules, exceptions."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    failure_action: FailureAction = FailureAction.DENY
    timeout_seconds: float = Field(default=DEFAULT_TIMEOUT_SECONDS, gt=0, le=25)
    default: NamespacePolicy = NamespacePolicy()
    namespaces: dict[str, dict[str, Any]] = Field(default_factory=dict)
    exceptions: tuple[AdmissionException, ...] = Field(default=(), max_length=MAX_EXCEPTIONS)

    def model_post_init(self, context: Any, /) -> None:
        """Validate every namespace override now, so a typo fails at load time, not at admission time."""
        for name in self.namespaces:
            self.for_namespace(name)

    def for_namespace(self, namespace: str) -> NamespacePolicy:
        """The effective rules of ``namespace``: the default with that namespace's overrides."""
        override = self.namespaces.get(namespace)
        if not override:
            return self.default
        merged = self.default.model_dump()
        merged.update(override)
        try:
            return NamespacePolicy.model_validate(merged)
        except ValidationError as exc:
            raise ConfigError(f"admission policy: namespace {namespace!r}: {exc}") from None


def load_policy(path: Path | None) -> AdmissionPolicy:
    """The policy in ``path`` (the built-in default when None); an invalid file raises ``ConfigError``."""
    if path is None:
        return AdmissionPolicy()
    document = load_yaml_file(path)
    data = document.data if document.data is not None else {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the admission policy must be a mapping")
    try:
        return AdmissionPolicy.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = document.line_of([str(p) for p in first["loc"]])
        at = f":{where}" if where else ""
        raise ConfigError(f"{path}{at}: {'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from None
