"""Drift: what changed between two scans of the same repository tag, as findings of their own.

When a tag moves to a new digest, the new image is compared with the one the
tag pointed at before: packages added, removed or changed version; the user
the container runs as; exposed ports; environment variables (names only —
values may be secrets, so a changed value is reported without it); and the
rest of the run configuration (entrypoint, command, working directory,
volumes, healthcheck, labels, platform). Each difference is one ``drift``
finding whose fingerprint names both digests, so it is recorded once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from shieldwall.model import Finding, FindingKind, ImageConfig, Severity

ROOT_USERS = frozenset({"", "0", "root", "0:0", "root:root"})
MAX_PACKAGE_FINDINGS = 500


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What drift compares: an image's identity, its packages (type/name -> versions) and its config."""

    label: str
    packages: Mapping[tuple[str, str], str] = field(default_factory=dict)
    image: ImageConfig | None = None


def package_map(items: Iterable[tuple[str, str, str]]) -> dict[tuple[str, str], str]:
    """``(type, name, version)`` triples -> ``{(type, name): "v1, v2"}`` (several copies are joined)."""
    versions: dict[tuple[str, str], set[str]] = {}
    for kind, name, version in items:
        versions.setdefault((kind, name), set()).add(version)
    return {key: ", ".join(sorted(values)) for key, values in versions.items()}


def _finding(old: Snapshot, new: Snapshot, rule: str, subject: str, title: str, severity: Severity) -> Finding:
    return Finding(
        kind=FindingKind.DRIFT,
        rule_id=f"drift/{rule}",
        title=title,
        severity=severity,
        message=f"{title} (from {old.label} to {new.label})",
        fingerprint_material=f"{old.label}\x00{new.label}\x00{rule}\x00{subject}",
    )


def _env(config: ImageConfig | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in config.env if config else ():
        key, _, value = item.partition("=")
        out[key] = value
    return out


def _packages(old: Snapshot, new: Snapshot) -> list[Finding]:
    found: list[Finding] = []
    for key in sorted(set(old.packages) | set(new.packages)):
        kind, name = key
        before, after = old.packages.get(key), new.packages.get(key)
        if before == after:
            continue
        if before is None:
            found.append(
                _finding(old, new, "package-added", f"{kind}/{name}", f"package {name} {after} added", Severity.LOW)
            )
        elif after is None:
            found.append(
                _finding(
                    old, new, "package-removed", f"{kind}/{name}", f"package {name} {before} removed", Severity.LOW
                )
            )
        else:
            found.append(
                _finding(
                    old, new, "package-changed", f"{kind}/{name}", f"package {name} {before} -> {after}", Severity.LOW
                )
            )
    if len(found) > MAX_PACKAGE_FINDINGS:
        rest = len(found) - MAX_PACKAGE_FINDINGS
        found = found[:MAX_PACKAGE_FINDINGS]
        found.append(_finding(old, new, "package-more", "more", f"{rest} more package changes", Severity.LOW))
    return found


def _config(old: Snapshot, new: Snapshot) -> list[Finding]:
    a, b = old.image or ImageConfig(), new.image or ImageConfig()
    found: list[Finding] = []
    if a.user != b.user:
        to_root = b.user.strip() in ROOT_USERS and a.user.strip() not in ROOT_USERS
        found.append(
            _finding(
                old,
                new,
                "user-changed",
                "user",
                f"container user changed from {a.user or 'root (unset)'} to {b.user or 'root (unset)'}",
                Severity.HIGH if to_root else Severity.MEDIUM,
            )
        )
    for port in sorted(set(b.exposed_ports) - set(a.exposed_ports)):
        found.append(_finding(old, new, "port-added", port, f"port {port} newly exposed", Severity.MEDIUM))
    for port in sorted(set(a.exposed_ports) - set(b.exposed_ports)):
        found.append(_finding(old, new, "port-removed", port, f"port {port} no longer exposed", Severity.LOW))
    env_a, env_b = _env(a), _env(b)
    for key in sorted(set(env_a) | set(env_b)):
        if key not in env_a:
            found.append(_finding(old, new, "env-added", key, f"environment variable {key} added", Severity.LOW))
        elif key not in env_b:
            found.append(_finding(old, new, "env-removed", key, f"environment variable {key} removed", Severity.LOW))
        elif env_a[key] != env_b[key]:
            found.append(
                _finding(old, new, "env-changed", key, f"environment variable {key} changed value", Severity.LOW)
            )
    settings: list[tuple[str, object, object]] = [
        ("entrypoint", a.entrypoint, b.entrypoint),
        ("cmd", a.cmd, b.cmd),
        ("working_dir", a.working_dir, b.working_dir),
        ("volumes", tuple(sorted(a.volumes)), tuple(sorted(b.volumes))),
        ("healthcheck", a.healthcheck, b.healthcheck),
        ("platform", a.platform, b.platform),
    ]
    for name, before, after in settings:
        if before != after:
            found.append(
                _finding(
                    old, new, "config-changed", name, f"{name} changed: {_show(before)} -> {_show(after)}", Severity.LOW
                )
            )
    labels_a, labels_b = dict(a.labels), dict(b.labels)
    for key in sorted(set(labels_a) | set(labels_b)):
        if labels_a.get(key) != labels_b.get(key):
            found.append(
                _finding(
                    old,
                    new,
                    "config-changed",
                    f"label:{key}",
                    f"label {key} changed: {labels_a.get(key, '(none)')} -> {labels_b.get(key, '(none)')}",
                    Severity.LOW,
                )
            )
    return found


def _show(value: object) -> str:
    text = " ".join(str(v) for v in value) if isinstance(value, tuple) else str(value)
    text = text or "(none)"
    return text if len(text) <= 120 else text[:119] + "…"


def drift_findings(old: Snapshot, new: Snapshot) -> list[Finding]:
    """Every difference between ``old`` and ``new`` as a ``drift`` finding (none when they are the same image)."""
    if old.label == new.label:
        return []
    return _packages(old, new) + _config(old, new)
