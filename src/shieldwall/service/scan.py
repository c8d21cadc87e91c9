"""Scan one target: resolve it, analyze each layer (or reuse the cache), merge, and build a result."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from shieldwall import __version__, paths
from shieldwall.analyze.base import Analyzer, SetupWarnings
from shieldwall.analyze.registry import analyzer_versions, load_analyzers
from shieldwall.analyze.secret.imageconfig import secret_matcher
from shieldwall.analyze.secret.masking import scrub_secrets
from shieldwall.analyze.secret.provenance import index_records, mark_distro_content
from shieldwall.cache.layers import LayerCache, LayerResultCache
from shieldwall.errors import InputError
from shieldwall.merge.duplicates import merge_duplicates
from shieldwall.merge.layers import merge_layers, resolve_dependencies
from shieldwall.merge.os_owned import mark_os_owned
from shieldwall.model import ScanResult, ScanWarning
from shieldwall.scanopts import ALL_SCANNERS as ALL_SCANNERS
from shieldwall.scanopts import ScanOptions as ScanOptions
from shieldwall.service.layers import analyze_layers
from shieldwall.service.postscan import builtin_post_scanners
from shieldwall.service.progress import NullProgress, ScanProgress
from shieldwall.target.base import ResolvedTarget
from shieldwall.target.resolve import parse_target, resolve


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def scan_target(text: str, options: ScanOptions | None = None, progress: ScanProgress | None = None) -> ScanResult:
    """Scan the target named by ``text`` (any kind Shieldwall understands)."""
    options = options or ScanOptions()
    ref = parse_target(text, options.platform)
    sink = progress or NullProgress()
    sink.stage(f"resolving {ref}")
    resolved = resolve(ref, options.limits)
    try:
        return scan_resolved(resolved, options, sink)
    finally:
        resolved.close()


def scan_resolved(resolved: ResolvedTarget, options: ScanOptions, progress: ScanProgress) -> ScanResult:
    """Analyze an already-resolved target."""
    started = _now()
    analyzers: list[Analyzer] = load_analyzers(
        include_plugins=options.include_plugins, only=options.analyzers, scanners=options.scanners
    )
    analyzers.extend(options.extra_analyzers)
    versions = analyzer_versions(analyzers)
    cache_root = options.cache_dir or paths.cache_dir()
    cache: LayerResultCache | None = None
    if options.use_cache:
        cache = options.layer_cache or LayerCache(cache_root, paths.config_dir())
    # setup problems (rules that do not compile...) are reported once, whichever process analyses what
    setup = [
        ScanWarning(a.name, text) for a in analyzers if isinstance(a, SetupWarnings) for text in a.take_setup_warnings()
    ]
    results = analyze_layers(resolved.layers, analyzers, versions, cache, progress, options.parallel)
    layer_results = [(layer.ref, result) for layer, result in zip(resolved.layers, results, strict=True)]
    progress.stage("merging layers")
    inventory = merge_layers(layer_results)
    package_records, flagged = index_records(
        (ref.digest, record)
        for ref, outcome in layer_results
        for fr in outcome.files
        for record in fr.result.file_records
    )
    findings = mark_distro_content(inventory.findings, package_records, flagged)
    # a package declared in two places (lock file and node_modules...) is one package with two locations
    packages = merge_duplicates(inventory.packages + tuple(resolve_dependencies(list(resolved.packages))))
    packages = mark_os_owned(packages, package_records)  # dist-packages from python3-*: matched through dpkg
    result = ScanResult(
        target=resolved.target,
        layers=tuple(ref for ref, _ in layer_results if ref.digest),
        image=resolved.config,
        os=inventory.os or resolved.os,
        packages=packages,
        findings=findings,
        warnings=(*setup, *inventory.warnings),
        analyzers=versions,
        started_at=started,
        finished_at=_now(),
        tool_version=__version__,
    )
    return _post_scan(result, options, progress)


def _post_scan(result: ScanResult, options: ScanOptions, progress: ScanProgress) -> ScanResult:
    """Run the post-scanners over the merged result; a crash is a counted warning."""
    findings = list(result.findings)
    warnings = list(result.warnings)
    masked: list[str] = []
    marks: dict[str, list[tuple[str, str]]] = {}
    for factory in builtin_post_scanners():
        scanner = factory(options)
        if scanner is None or scanner.scanner not in options.scanners:
            continue
        progress.stage(f"{scanner.name}")
        try:
            output = scanner.run(result)
        except InputError:
            raise
        except Exception as exc:  # a crashed scanner must surface, never pass silently
            warnings.append(ScanWarning(scanner.name, f"post-scanner crashed: {type(exc).__name__}: {exc}"))
            continue
        findings.extend(output.findings)
        warnings.extend(output.warnings)
        masked.extend(output.masked)
        for package_id, key, value in output.package_marks:
            marks.setdefault(package_id, []).append((key, value))
    packages = result.packages
    if marks:
        packages = tuple(
            p.evolve(metadata=(*p.metadata, *marks[p.id])) if p.id in marks else p for p in result.packages
        )
    result = replace(result, packages=packages, findings=tuple(findings), warnings=tuple(warnings), finished_at=_now())
    return _scrub(result, masked, options)


def _scrub(result: ScanResult, masked: list[str], options: ScanOptions) -> ScanResult:
    """Mask every credential the result repeats (image config, finding evidence), whatever scanners ran."""
    if result.image is None and not result.findings and not masked:
        return result
    matcher = secret_matcher(options)
    scrubbed = scrub_secrets(result, masked, matcher)
    if matcher is None:
        note = ScanWarning("secret-masking", "secret rules unavailable: only credential assignments were masked")
        scrubbed = replace(scrubbed, warnings=(*scrubbed.warnings, note))
    return scrubbed
