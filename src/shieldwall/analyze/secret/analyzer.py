"""The secret analyzer: every file of every layer through the one-pass engine.

Text files are scanned with every rule; binary files (a NUL byte in the
first 8 KiB) only with the rules marked ``binary``; archives (zip, jar,
whl, tar, gz...) are opened in memory by the shared walker and each member
is scanned under ``<archive path>!<member path>``. Findings carry a
redacted form and a keyed fingerprint of the secret, never the secret.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from pathlib import Path

from shieldwall.analyze.archive import DEFAULT_ARCHIVE_LIMITS, ArchiveLimits, is_archive, iter_archive_members
from shieldwall.analyze.base import EMPTY, AnalysisInput, AnalysisResult, AnalyzerError, FileInfo
from shieldwall.analyze.secret.config import SecretsConfig, build_ruleset, find_project_config, load_secrets_config
from shieldwall.analyze.secret.engine import PrefilterKind, SecretEngine, SecretMatch, is_binary
from shieldwall.analyze.secret.fingerprint import Fingerprinter, load_or_create_key, redact
from shieldwall.analyze.secret.provenance import content_records, documentation_reason, pem_private_key_reason
from shieldwall.analyze.secret.rules import Allowlist, Rule, ruleset_digest
from shieldwall.model import Evidence, Finding, FindingKind, Location

ANALYZER_VERSION = 2
MiB = 1024 * 1024
DETECTOR = "shieldwall-secret"
_ARCHIVE_SUFFIXES = (
    ".zip",
    ".jar",
    ".war",
    ".ear",
    ".whl",
    ".egg",
    ".nupkg",
    ".aar",
    ".tar",
    ".gz",
    ".tgz",
    ".bz2",
    ".xz",
)


_LEADING_FLAGS = re.compile(r"^\(\?([aiLmsux]+)\)")


def _scoped(pattern: str) -> str:
    """``(?i)x`` as ``(?i:x)`` so patterns can be joined into one alternation."""
    match = _LEADING_FLAGS.match(pattern)
    if match:
        return f"(?{match.group(1)}:{pattern[match.end() :]})"
    return f"(?:{pattern})"


_INLINE = re.compile(
    rb"shieldwall:ignore(?:=([A-Za-z0-9_.*,-]+))?[ \t]*([^\r\n]*)|pragma: allowlist secret|gitleaks:allow"
)


def inline_suppression(data: bytes, match: SecretMatch) -> str:
    """The reason when the lines of ``match`` carry an allow comment, else "".

    ``shieldwall:ignore`` (optionally ``=RULE-ID[,ID...] reason``) and the
    comments other scanners honour, detect-secrets' ``pragma: allowlist secret``
    and gitleaks' ``gitleaks:allow``, keep the finding in the result, suppressed.
    """
    start = data.rfind(b"\n", 0, match.start) + 1
    end = data.find(b"\n", match.end)
    lines = data[start : end if end >= 0 else len(data)]
    if b"shieldwall:ignore" not in lines and b"allowlist secret" not in lines and b"gitleaks:allow" not in lines:
        return ""
    found = _INLINE.search(lines)
    if found is None:
        return ""
    if found.group(0).startswith(b"shieldwall:ignore"):
        ids = found.group(1)
        if ids and match.rule.id.encode() not in ids.split(b","):
            return ""
        reason = found.group(2).decode("utf-8", errors="replace").strip()
        return f"shieldwall:ignore comment: {reason}" if reason else "shieldwall:ignore comment"
    return f"{found.group(0).decode()} comment"


def suppression_reason(data: bytes, match: SecretMatch, path: str) -> str:
    """Why ``match`` is set aside ("" when it is not): an allow comment, documentation, or no real private key."""
    return (
        inline_suppression(data, match)
        or documentation_reason(path)
        or pem_private_key_reason(match.rule.id, match.secret)
    )


def secret_finding(
    match: SecretMatch, path: str, fingerprint: Fingerprinter, *, where: str = "", suppressed: str = ""
) -> Finding:
    """A SECRET finding for ``match`` at ``path``: redacted, fingerprinted, SARIF-ready location."""
    rule = match.rule
    shown = redact(match.secret)
    place = f" in {where}" if where else ""
    return Finding(
        kind=FindingKind.SECRET,
        rule_id=rule.id,
        title=rule.title,
        severity=rule.severity,
        location=Location(path, None, match.line, match.column, match.end_line),
        message=f"{rule.title}{place}: {shown}",
        fix="Revoke and rotate this credential, then remove it from the image and its history.",
        references=rule.references,
        evidence=(
            Evidence(
                detector=DETECTOR,
                searched=f"rule {rule.id}" + (f" ({rule.source})" if rule.source else ""),
                found=shown,
                source=rule.source,
                confidence=0.6 if rule.generic else 0.95,
            ),
        ),
        fingerprint_material=fingerprint(match.secret),
        suppressed=suppressed,
    )


def analyzer_version(rules: Sequence[Rule], allowlist: Allowlist, key_id: str) -> int:
    """An integer that changes with the code version, the rule set and the fingerprint key (cache key part)."""
    material = f"{ANALYZER_VERSION}:{ruleset_digest(rules, allowlist)}:{key_id}"
    return int(hashlib.sha256(material.encode()).hexdigest()[:8], 16)


class SecretAnalyzer:
    """Finds credentials in files (scanner family ``secret``)."""

    name = "secret"
    scanner = "secret"

    def __init__(
        self,
        engine: SecretEngine,
        fingerprint: Fingerprinter,
        *,
        max_file_bytes: int = 64 * MiB,
        archive_limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS,
        scan_archives: bool = True,
    ) -> None:
        self.engine = engine
        self.fingerprint = fingerprint
        self.max_file_bytes = max_file_bytes
        self.archive_limits = archive_limits
        self.scan_archives = scan_archives
        self.version = analyzer_version(engine.rules, engine.allowlist, fingerprint.key_id)
        self._path_allow = engine.allowlist.paths
        patterns = [_scoped(p.pattern) for p in self._path_allow]
        self._path_allowed = re.compile("|".join(patterns)).search if patterns else None

    @classmethod
    def from_config(
        cls,
        data_dir: Path,
        config: SecretsConfig | None = None,
        *,
        prefilter: PrefilterKind = "auto",
        cache_dir: Path | None = None,
    ) -> SecretAnalyzer:
        """Build from the bundled rules plus ``config`` (custom rules, allowlists, gitleaks import).

        ``data_dir`` holds the fingerprint key; ``cache_dir`` keeps the compiled prefilter.
        """
        ruleset = build_ruleset(config or SecretsConfig())
        engine = SecretEngine(ruleset.rules, ruleset.allowlist, prefilter=prefilter, cache_dir=cache_dir)
        return cls(engine, Fingerprinter(load_or_create_key(data_dir)))

    def required(self, path: str, info: FileInfo) -> bool:
        """Every non-empty file whose path is not allowlisted (over the size limit: a warning, in ``analyze``)."""
        if info.size == 0:
            return False
        return self._path_allowed is None or self._path_allowed(path) is None

    def analyze(self, input: AnalysisInput) -> AnalysisResult:
        """Scan the file (or every member of an archive) and return redacted findings.

        A file over ``max_file_bytes`` is not read: the runner reports it as a
        warning with its path and size, never a silent skip.
        """
        if input.info.size > self.max_file_bytes:
            raise AnalyzerError(
                f"{input.info.size} bytes, over the {self.max_file_bytes}-byte secret scan limit; not scanned"
            )
        data = input.read()
        path = input.path
        if self.scan_archives and path.lower().endswith(_ARCHIVE_SUFFIXES) and is_archive(data):
            return self._analyze_archive(data, path)
        matches = self.engine.scan(data, path)
        findings = [
            secret_finding(m, path, self.fingerprint, suppressed=suppression_reason(data, m, path)) for m in matches
        ]
        warnings = (f"{path}: secret scan cut short: {matches.truncated}",) if matches.truncated else ()
        if not findings and not warnings:
            return EMPTY
        records = content_records(path, data) if findings else ()
        return AnalysisResult(findings=tuple(findings), warnings=warnings, file_records=records)

    def _analyze_archive(self, data: bytes, path: str) -> AnalysisResult:
        result = self._scan_archive(data, path)
        if not result.findings:
            return result
        return AnalysisResult(
            findings=result.findings, warnings=result.warnings, file_records=content_records(path, data)
        )

    def _scan_archive(self, data: bytes, path: str) -> AnalysisResult:
        findings: list[Finding] = []
        warnings: list[str] = []
        for member in iter_archive_members(data, path, self.archive_limits):
            if member.skipped:
                warnings.append(f"{member.path}: {member.skipped}")
                continue
            inner = member.path
            if ".." in inner.replace("!", "/").split("/"):
                warnings.append(f"{inner}: member name climbs out of the archive; not scanned")
                continue
            if any(p.search(inner) for p in self._path_allow) or is_archive(member.data):
                continue
            binary = is_binary(member.data)
            matches = self.engine.scan(member.data, inner, binary=binary)
            if matches.truncated:
                warnings.append(f"{inner}: secret scan cut short: {matches.truncated}")
            for match in matches:
                reason = suppression_reason(member.data, match, inner)
                findings.append(secret_finding(match, inner, self.fingerprint, suppressed=reason))
        return AnalysisResult(findings=tuple(findings), warnings=tuple(warnings))


def default_secret_analyzer() -> SecretAnalyzer:
    """The registry factory: bundled rules, ``./shieldwall.yaml`` when present, the default key location."""
    from shieldwall import paths

    config_path = find_project_config(Path.cwd())
    config = load_secrets_config(config_path) if config_path else None
    return SecretAnalyzer.from_config(paths.data_dir(), config, cache_dir=paths.cache_dir())
