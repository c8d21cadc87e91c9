"""The typed units of the check engine: resources, checks and what a check returns.

A *parser* (``misconfig.inputs``) turns one file into ``Resource`` values of
one input kind (a Dockerfile, a Kubernetes object, a compose service...). A
*check* is a small function over one resource that yields ``Hit`` values,
each with a line range and, when narrower than the resource, the part of it
that is wrong (a Dockerfile instruction, a container). The engine turns hits
into ``Finding`` values that point at the file, the line range and the
resource.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from shieldwall.model import Severity


class InputKind:
    """Names of the input kinds; a plain ``str`` so new parsers can add their own."""

    DOCKERFILE = "dockerfile"
    KUBERNETES = "kubernetes"
    COMPOSE = "compose"
    IMAGE_CONFIG = "image-config"
    FILE_MODE = "file-mode"
    TERRAFORM = "terraform"
    HOST = "host"


SET_KIND = "ResourceSet"

CHECK_ID = re.compile(r"^[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+$")
"""Stable check IDs look like ``SW-DF-001``, ``SW-K8S-012`` or ``ACME-K8S-7``."""


@dataclass(frozen=True, slots=True)
class ResourceRef:
    """What a finding is about, inside a file: ``Deployment prod/web``, ``RUN`` at a line..."""

    kind: str
    name: str = ""
    namespace: str = ""

    def __str__(self) -> str:
        name = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.kind} {name}".strip()


@dataclass(frozen=True, slots=True)
class Resource:
    """One parsed unit a check looks at.

    ``data`` is the parser's typed form (``Dockerfile``, ``YamlMap``, ``ImageConfig``...),
    which the built-in checks of that input kind read; ``document`` is plain
    data (mappings, lists, scalars) for the YAML condition language and
    defaults to ``data``. ``line``/``end_line`` are 1-based and inclusive.
    ``scoped`` resources (a Kubernetes object, a compose service) take every
    suppression comment inside their line range; a whole-file resource such
    as a Dockerfile is not scoped, so a comment suppresses only the hit on the
    lines right below it (or the whole file when it sits in the header).
    """

    input: str
    kind: str
    name: str
    path: str
    data: Any
    line: int | None = None
    end_line: int | None = None
    namespace: str = ""
    document: Any = None
    scoped: bool = True

    @property
    def ref(self) -> ResourceRef:
        """The resource as a finding names it."""
        return ResourceRef(self.kind, self.name, self.namespace)

    @property
    def plain(self) -> Any:
        """What the condition language walks."""
        return self.data if self.document is None else self.document


@dataclass(frozen=True, slots=True)
class Hit:
    """One thing a check found wrong in a resource.

    ``resource`` narrows the resource when the problem sits in a part of it
    (a container, a Dockerfile instruction, an RBAC rule); ``key`` is extra,
    line-independent identity when a check can hit the same resource more
    than once (the container name, the port); ``found`` is the offending
    text or value, kept as evidence. ``path`` is set only by checks over a
    set of files, to say which file the hit is in.
    """

    message: str
    line: int | None = None
    end_line: int | None = None
    resource: ResourceRef | None = None
    key: str = ""
    found: str = ""
    path: str = ""


Evaluate = Callable[[Resource], Iterable[Hit]]


@dataclass(frozen=True, slots=True)
class Check:
    """A misconfiguration check: stable identity, metadata, and the function that evaluates it.

    ``controls`` name the benchmark controls the check implements, as
    ``framework:control`` (``cis-docker-1.6:4.1``, ``k8s-pss-restricted:capabilities``,
    ``nist-800-190:4.4.3``); ``references`` are documentation URLs.
    ``resource_kinds`` limits the check to some kinds of its input
    (``Deployment``, ``ClusterRole``...); empty means every resource of the input.
    ``source`` says where the check came from (``builtin``, a YAML file, an entry point).
    ``scope`` is ``resource`` (one resource at a time) or ``set``: the check gets one
    ``Resource`` of kind ``ResourceSet`` whose ``data`` is every resource of its input kind
    in the scanned file set (namespaces without a NetworkPolicy); set checks run in the
    post-scan, over all files of a directory target.
    """

    id: str
    title: str
    severity: Severity
    input: str
    description: str
    remediation: str
    evaluate: Evaluate = field(repr=False, compare=False)
    resource_kinds: frozenset[str] = frozenset()
    controls: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    source: str = "builtin"
    scope: str = "resource"

    def applies_to(self, resource: Resource) -> bool:
        """True when this check looks at ``resource``."""
        if resource.input != self.input or (self.scope == "set") != (resource.kind == SET_KIND):
            return False
        if self.scope == "set":
            return True
        return not self.resource_kinds or resource.kind in self.resource_kinds


@dataclass(frozen=True, slots=True)
class Suppression:
    """``# shieldwall:ignore=ID[,ID...] reason`` found at ``line``."""

    line: int
    ids: frozenset[str]
    reason: str

    def covers(self, check_id: str) -> bool:
        """True for a listed ID (``*`` lists every check)."""
        return check_id in self.ids or "*" in self.ids


@dataclass(frozen=True, slots=True)
class ParsedFile:
    """A file turned into resources, plus what suppression needs to know about its lines.

    ``header_end`` is the last line before the first resource (comments there
    apply to the whole file); ``quiet_lines`` are the blank and comment-only
    lines, so a suppression directly above a hit can be told from one further up.
    """

    path: str
    input: str
    resources: tuple[Resource, ...] = ()
    suppressions: tuple[Suppression, ...] = ()
    header_end: int = 0
    quiet_lines: frozenset[int] = frozenset()
    warnings: tuple[str, ...] = ()


def check(
    id: str,
    title: str,
    severity: Severity,
    input: str,
    *,
    description: str,
    remediation: str,
    kinds: Iterable[str] = (),
    controls: Iterable[str] = (),
    references: Iterable[str] = (),
    scope: str = "resource",
) -> Callable[[Evaluate], Check]:
    """Decorator that turns an evaluate function into a ``Check`` (the function's name is irrelevant)."""

    def wrap(fn: Evaluate) -> Check:
        return Check(
            id=id,
            title=title,
            severity=severity,
            input=input,
            description=description,
            remediation=remediation,
            evaluate=fn,
            resource_kinds=frozenset(kinds),
            controls=tuple(controls),
            references=tuple(references),
            scope=scope,
        )

    return wrap
