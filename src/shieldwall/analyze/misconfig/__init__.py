"""Misconfiguration detectors: IaC and container-definition files, and setuid/setgid files of layers.

Both analyzers are thin: they pick files, hand them to a parser of
``shieldwall.misconfig.inputs`` and run the checks of ``shieldwall.misconfig``.
"""

from __future__ import annotations

from shieldwall.analyze.base import EMPTY, AnalysisInput, AnalysisResult, FileInfo
from shieldwall.misconfig.check import InputKind, ParsedFile
from shieldwall.misconfig.engine import run_checks
from shieldwall.misconfig.inputs import InputParser, builtin_parsers
from shieldwall.misconfig.inputs.imageconfig import file_mode_resource
from shieldwall.misconfig.registry import CheckConfig, CheckSet, config_from_environment, load_checks


class _Checks:
    """Loads the check set on first use, so building an analyzer stays cheap."""

    def __init__(self, config: CheckConfig | None) -> None:
        self._config = config
        self._set: CheckSet | None = None
        self._warned = False

    def get(self) -> CheckSet:
        if self._set is None:
            self._set = load_checks(self._config if self._config is not None else config_from_environment())
        return self._set

    def load_warnings(self) -> tuple[str, ...]:
        """Problems met while loading the checks, handed out once per scan."""
        if self._warned:
            return ()
        self._warned = True
        return self.get().warnings


class MisconfigAnalyzer:
    """Dockerfiles, Kubernetes manifests and compose files (and the inputs later parsers add)."""

    name = "misconfig"
    version = 1
    scanner = "misconfig"

    def __init__(self, config: CheckConfig | None = None, parsers: list[InputParser] | None = None) -> None:
        self._checks = _Checks(config)
        self._parsers = parsers if parsers is not None else builtin_parsers()

    def take_setup_warnings(self) -> tuple[str, ...]:
        """Problems loading the checks, once (see ``SetupWarnings``); ``analyze`` then omits them."""
        return self._checks.load_warnings()

    def required(self, path: str, info: FileInfo) -> bool:
        """A name test per parser: Dockerfile names, compose names, any ``*.yaml``/``*.yml``."""
        return any(p.claims(path, info) for p in self._parsers)

    def analyze(self, input: AnalysisInput) -> AnalysisResult:
        """Parse the file with the first parser that recognises it and run that input's checks."""
        checks = self._checks.get()
        for parser in self._parsers:
            if not parser.claims(input.path, input.info):
                continue
            parsed: ParsedFile | None = parser.parse(input.path, input.read())
            if parsed is None:
                continue
            output = run_checks(parsed, checks.for_input(parsed.input))
            return AnalysisResult(findings=output.findings, warnings=self._checks.load_warnings() + output.warnings)
        return EMPTY


_SYSTEM_PREFIXES = ("/bin/", "/sbin/", "/usr/", "/lib/", "/lib64/", "/etc/")


class SetuidAnalyzer:
    """Files with the setuid or setgid bit (or world-writable system files): judged from the layer
    entry's mode, content never read."""

    name = "misconfig-setuid"
    version = 1
    scanner = "misconfig"

    def __init__(self, config: CheckConfig | None = None) -> None:
        self._checks = _Checks(config)

    def required(self, path: str, info: FileInfo) -> bool:
        """Setuid/setgid bit set, or a world-writable file under a system directory."""
        return bool(info.mode & 0o6000) or (bool(info.mode & 0o002) and path.startswith(_SYSTEM_PREFIXES))

    def analyze(self, input: AnalysisInput) -> AnalysisResult:
        """Run the ``file-mode`` checks on the entry."""
        checks = self._checks.get().for_input(InputKind.FILE_MODE)
        parsed = ParsedFile(input.path, InputKind.FILE_MODE, (file_mode_resource(input.info),))
        output = run_checks(parsed, checks)
        return AnalysisResult(findings=output.findings, warnings=output.warnings)


ANALYZERS = (MisconfigAnalyzer, SetuidAnalyzer)
