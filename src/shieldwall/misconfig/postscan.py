"""The misconfig post-scanner: checks that need the merged result rather than one file.

* the image config (``image-config`` checks) of image targets;
* ``set`` checks over all Kubernetes manifests of a directory target
  (namespaces and workloads without a NetworkPolicy). The manifests are read
  again from the directory, through the same walker and limits as the scan,
  because per-file analysis cannot see the other files.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from shieldwall.analyze.base import AnalyzerError, FileInfo
from shieldwall.errors import FileTooLargeError
from shieldwall.misconfig.check import InputKind, ParsedFile
from shieldwall.misconfig.engine import run_checks, run_set_checks
from shieldwall.misconfig.inputs.imageconfig import image_config_resource
from shieldwall.misconfig.inputs.kubernetes import KubernetesInput
from shieldwall.misconfig.registry import CheckConfig, CheckSet, config_from_environment, load_checks
from shieldwall.model import Finding, ScanResult, ScanWarning, TargetKind
from shieldwall.postscan import PostScanOutput
from shieldwall.target.limits import DEFAULT_LIMITS, Limits

if TYPE_CHECKING:
    from shieldwall.scanopts import ScanOptions

NAME = "misconfig-post"
MAX_MANIFESTS = 20_000


def kubernetes_files(root: Path, limits: Limits) -> tuple[list[ParsedFile], list[ScanWarning]]:
    """Every Kubernetes manifest under ``root``, parsed (bad files become warnings)."""
    from shieldwall.target.directory import DirectoryLayer
    from shieldwall.target.entries import EntryKind

    parser = KubernetesInput()
    files: list[ParsedFile] = []
    warnings: list[ScanWarning] = []
    for entry in DirectoryLayer(root, limits, skip_dirs=frozenset({".git", "node_modules"})).walk():
        if entry.kind is not EntryKind.FILE or not parser.claims(entry.path, FileInfo(entry.path, entry.size)):
            continue
        try:
            parsed = parser.parse(entry.path, entry.read())
        except (AnalyzerError, FileTooLargeError):
            continue  # the per-file analyzer already reported it
        if parsed is not None:
            files.append(parsed)
        if len(files) >= MAX_MANIFESTS:
            warnings.append(ScanWarning(NAME, f"more than {MAX_MANIFESTS} manifests; the rest are not cross-checked"))
            break
    return files, warnings


class MisconfigPostScanner:
    """Image-config checks and cross-file Kubernetes checks."""

    name = NAME
    scanner = "misconfig"

    def __init__(self, checks: CheckSet, limits: Limits = DEFAULT_LIMITS) -> None:
        self.checks = checks
        self.limits = limits

    def run(self, result: ScanResult) -> PostScanOutput:
        """Findings of the image config and of the directory's manifests taken together."""
        findings: list[Finding] = []
        warnings: list[ScanWarning] = []
        if result.image is not None:
            resource = image_config_resource(result.image, "image-config", result.target.name)
            output = run_checks(ParsedFile("image-config", InputKind.IMAGE_CONFIG, (resource,)),
                                self.checks.for_input(InputKind.IMAGE_CONFIG))  # fmt: skip
            findings += output.findings
            warnings += [ScanWarning(NAME, w, "image-config") for w in output.warnings]
        set_checks = [c for c in self.checks.for_input(InputKind.KUBERNETES) if c.scope == "set"]
        if set_checks and result.target.ref.kind is TargetKind.DIRECTORY:
            root = Path(result.target.ref.value)
            if root.is_dir():
                files, problems = kubernetes_files(root, self.limits)
                warnings += problems
                if files:
                    output = run_set_checks(InputKind.KUBERNETES, files, set_checks, str(root))
                    findings += output.findings
                    warnings += [ScanWarning(NAME, w) for w in output.warnings]
        return PostScanOutput(tuple(findings), tuple(warnings))


def misconfig_post_scanner(options: ScanOptions, config: CheckConfig | None = None) -> MisconfigPostScanner | None:
    """Factory for ``builtin_post_scanners``."""
    if "misconfig" not in options.scanners:
        return None
    checks = load_checks(config if config is not None else config_from_environment())
    return MisconfigPostScanner(checks, options.limits)
