"""Secrets in the image config: ``Env`` and the history commands (ARG, ENV, RUN leaks).

Build arguments and environment values end up in the image config and its
history (``|2 NPM_TOKEN=... /bin/sh -c npm ci``) even when no file holds
them. This post-scanner runs the secret engine over each ``Env`` entry and
each history command, and attributes every finding to the history entry
(and so the layer) that carries it.
"""

from __future__ import annotations

import functools
import re
import shlex
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from shieldwall.analyze.secret.analyzer import secret_finding
from shieldwall.analyze.secret.config import Ruleset, SecretsConfig, build_ruleset, load_secrets_config
from shieldwall.analyze.secret.credentials import CredentialValue, credential_values
from shieldwall.analyze.secret.engine import SecretEngine
from shieldwall.analyze.secret.fingerprint import Fingerprinter, load_or_create_key, redact
from shieldwall.analyze.secret.masking import mask_findings
from shieldwall.model import (
    Evidence,
    Finding,
    FindingKind,
    HistoryEntry,
    ImageConfig,
    LayerRef,
    Location,
    ScanResult,
    ScanWarning,
    Severity,
)
from shieldwall.postscan import PostScanOutput

if TYPE_CHECKING:
    from shieldwall.scanopts import ScanOptions

ENV_PATH = "image-config:Env"
LABELS_PATH = "image-config:Labels"
CREDENTIAL_RULE = "image-config-credential"
_NOP = re.compile(r"^/bin/sh -c #\(nop\)\s*")
_SHELL = re.compile(r"^(?:\|\d+\s+)?")


def history_path(index: int) -> str:
    """The location path of history entry ``index``."""
    return f"image-config:history[{index}]"


def _history_refs(history: Sequence[HistoryEntry], layers: Sequence[LayerRef]) -> list[LayerRef]:
    """A LayerRef for every history entry: its own layer, or the next one for empty-layer entries."""
    refs: list[LayerRef] = []
    layer = 0
    for entry in history:
        if entry.empty_layer:
            refs.append(LayerRef(layer, "", entry.created_by))
            continue
        known = layers[layer] if layer < len(layers) else None
        refs.append(LayerRef(layer, known.digest if known else "", entry.created_by, known.size if known else 0))
        layer += 1
    return refs


def _command_lines(created_by: str) -> str:
    """The command, plus each ``KEY=VALUE`` word on a line of its own (so config-style rules see it)."""
    command = _NOP.sub("", created_by)
    try:
        words = shlex.split(command, posix=True)
    except ValueError:
        words = command.split()
    assignments = [w for w in words if "=" in w and not w.startswith("-") and re.match(r"^[A-Za-z_][\w.]*=", w)]
    return "\n".join([command, *assignments]) + "\n"


class ImageConfigSecrets:
    """Post-scanner (family ``secret``) over the image config's Env and history."""

    name = "image-config-secrets"
    scanner = "secret"

    def __init__(
        self,
        engine: SecretEngine | Callable[[], SecretEngine],
        fingerprint: Fingerprinter,
        *,
        config_warnings: Callable[[], list[str]] | None = None,
    ) -> None:
        self._engine = engine
        self.fingerprint = fingerprint
        self._seen_credentials: list[CredentialValue] = []
        self._config_warnings = config_warnings

    @property
    def engine(self) -> SecretEngine:
        """The engine, built on first use (a directory target never needs it)."""
        if not isinstance(self._engine, SecretEngine):
            self._engine = self._engine()
        return self._engine

    def run(self, result: ScanResult) -> PostScanOutput:
        """Findings for secrets in ``Env`` values and history commands."""
        notes = tuple(ScanWarning(self.name, w) for w in (self._config_warnings() if self._config_warnings else []))
        image = result.image
        if image is None or not (image.env or image.history or image.labels):
            return PostScanOutput(warnings=notes)
        refs = _history_refs(image.history, result.layers)
        findings: list[Finding] = []
        masked: list[str] = []
        for index, entry in enumerate(image.history):
            text = _command_lines(entry.created_by)
            seen: set[tuple[str, bytes]] = set()
            for match in self.engine.scan(text.encode("utf-8", errors="replace")):
                key = (match.rule.id, match.secret)
                if key in seen:
                    continue
                seen.add(key)
                finding = secret_finding(match, history_path(index), self.fingerprint, where=f"history entry {index}")
                findings.append(_attributed(finding, refs[index], line=None))
                masked.append(match.secret.decode("utf-8", errors="replace"))
        for position, variable in enumerate(image.env):
            name = variable.partition("=")[0]
            for match in self.engine.scan((variable + "\n").encode("utf-8", errors="replace")):
                finding = secret_finding(match, ENV_PATH, self.fingerprint, where=f"Env {name}")
                origin = _setter(image.history, refs, name)
                findings.append(_attributed(finding, origin, line=position + 1))
                masked.append(match.secret.decode("utf-8", errors="replace"))
        for position, (label, value) in enumerate(image.labels):
            for match in self.engine.scan(f"{label}={value}\n".encode("utf-8", errors="replace")):
                finding = secret_finding(match, LABELS_PATH, self.fingerprint, where=f"label {label}")
                findings.append(_attributed(finding, None, line=position + 1))
                masked.append(match.secret.decode("utf-8", errors="replace"))
        findings.extend(self._credentials(image, refs, set(masked)))
        masked.extend(c.value for c in self._seen_credentials)
        return PostScanOutput(findings=mask_findings(findings, masked), warnings=notes, masked=tuple(masked))

    def _credentials(self, image: ImageConfig, refs: Sequence[LayerRef], known: set[str]) -> list[Finding]:
        """Passwords named by their context (``*_PASSWORD=``, ``curl -u``, URL user info) that no rule matched."""
        self._seen_credentials = []
        places: list[tuple[str, str, LayerRef | None, int | None, str]] = []
        for index, entry in enumerate(image.history):
            places.append((history_path(index), f"history entry {index}", refs[index], None, entry.created_by))
        for position, variable in enumerate(image.env):
            name = variable.partition("=")[0]
            places.append((ENV_PATH, f"Env {name}", _setter(image.history, refs, name), position + 1, variable))
        for position, (label, value) in enumerate(image.labels):
            places.append((LABELS_PATH, f"label {label}", None, position + 1, f"{label}={value}"))
        findings: list[Finding] = []
        for path, where, ref, line, text in places:
            for credential in credential_values(text):
                if credential.value in known:
                    continue
                known.add(credential.value)
                self._seen_credentials.append(credential)
                findings.append(_attributed(self._credential_finding(credential, path, where), ref, line=line))
        return findings

    def _credential_finding(self, credential: CredentialValue, path: str, where: str) -> Finding:
        shown = redact(credential.value.encode())
        return Finding(
            kind=FindingKind.SECRET,
            rule_id=CREDENTIAL_RULE,
            title="Credential in the image config",
            severity=Severity.HIGH,
            location=Location(path),
            message=f"Credential {credential.key} in {where}: {shown}",
            fix="Pass credentials at run time (secrets, mounted files), never as ENV, ARG, labels or in RUN commands.",
            evidence=(Evidence(detector="image-config-credentials", searched=f"{credential.key}=", found=shown),),
            fingerprint_material=self.fingerprint(credential.value.encode()),
        )


def _setter(history: Sequence[HistoryEntry], refs: Sequence[LayerRef], name: str) -> LayerRef | None:
    """The last history entry that sets environment variable ``name`` (ENV or a build ARG)."""
    pattern = re.compile(rf"(?:\bENV\b|\bARG\b|^\|\d+)[^\n]*\b{re.escape(name)}[= ]")
    for index in range(len(history) - 1, -1, -1):
        if pattern.search(history[index].created_by):
            return refs[index]
    return None


def _attributed(finding: Finding, ref: LayerRef | None, *, line: int | None) -> Finding:
    from dataclasses import replace

    location = finding.location
    if location is not None:
        location = type(location)(location.path, ref, line, location.column if line else None, line)
    return replace(finding, location=location)


def image_config_secret_scanner(options: ScanOptions) -> ImageConfigSecrets | None:
    """Factory for ``builtin_post_scanners``: bundled rules (+ ``./shieldwall.yaml``), the data dir's key."""
    from shieldwall import paths
    from shieldwall.analyze.secret.config import find_project_config

    if "secret" not in options.scanners:
        return None
    cache = options.cache_dir or paths.cache_dir()
    config_path = find_project_config(Path.cwd())
    loaded: list[Ruleset] = []

    def ruleset() -> Ruleset:
        if not loaded:
            config = load_secrets_config(config_path) if config_path else SecretsConfig()
            loaded.append(build_ruleset(config))
        return loaded[0]

    def engine() -> SecretEngine:
        return SecretEngine(ruleset().rules, ruleset().allowlist, cache_dir=cache)

    def warnings() -> list[str]:
        return ruleset().warnings

    key = Fingerprinter(load_or_create_key(paths.data_dir()))
    return ImageConfigSecrets(engine, key, config_warnings=warnings if config_path else None)


@functools.lru_cache(maxsize=4)
def _bundled_engine(cache_dir: Path) -> SecretEngine:
    """The bundled rules' engine, built once per process and cache directory (every scan masks with it)."""
    ruleset = build_ruleset(SecretsConfig())
    return SecretEngine(ruleset.rules, ruleset.allowlist, cache_dir=cache_dir)


def secret_matcher(options: ScanOptions) -> Callable[[bytes], list[bytes]] | None:
    """The bundled secret rules as a function from bytes to the secrets in them (for masking), or None."""
    from shieldwall import paths

    try:
        engine = _bundled_engine(options.cache_dir or paths.cache_dir())
    except Exception:  # masking still has the credential patterns; the caller warns
        return None

    def scan(data: bytes) -> list[bytes]:
        return [match.secret for match in engine.scan(data)]

    return scan
