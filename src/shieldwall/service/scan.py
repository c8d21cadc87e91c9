"""Scan one target: resolve it, analyze each layer (or reuse the cache), merge, and build a result."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import replace

from shieldwall import __version__, paths
from shieldwall.analyze.base import Analyzer
from shieldwall.analyze.registry import analyzer_versions, load_analyzers
from shieldwall.analyze.runner import LayerResult, analyze_layer
from shieldwall.analyze.secret.imageconfig import secret_matcher
from shieldwall.analyze.secret.masking import scrub_secrets
from shieldwall.analyze.secret.provenance import index_records, mark_distro_content
from shieldwall.cache.layers import LayerCache, LayerResultCache, cache_key
from shieldwall.errors import InputError
from shieldwall.merge.duplicates import merge_duplicates
from shieldwall.merge.layers import merge_layers, resolve_dependencies
from shieldwall.merge.os_owned import mark_os_owned
from shieldwall.model import LayerRef, ScanResult, ScanWarning
from shieldwall.scanopts import ALL_SCANNERS as ALL_SCANNERS
from shieldwall.scanopts import ScanOptions as ScanOptions
from shieldwall.service.postscan import builtin_post_scanners
from shieldwall.service.progress import NullProgress, ScanProgress
from shieldwall.target.base import LayerSource, ResolvedTarget
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
    outcomes: dict[int, LayerResult] = {}
    done: dict[tuple[str, str], LayerResult] = {}  # the same bytes listed again (a layer repeated 512 times)
    # read in archive order (a compressed archive never seeks back), merge in layer order
    for position, layer in sorted(enumerate(resolved.layers), key=lambda item: item[1].read_order):
        same = (layer.cache_key, layer.blob_key) if layer.cache_key and layer.blob_key else None
        if same is not None and same in done:
            progress.layer_finished(layer.ref, cached=True)
            outcomes[position] = done[same]
            continue
        outcome = _layer_result(layer, analyzers, versions, cache, progress)
        if same is not None:
            done[same] = outcome
        outcomes[position] = outcome
    layer_results = [(layer.ref, outcomes[position]) for position, layer in enumerate(resolved.layers)]
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
        warnings=inventory.warnings,
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


def _layer_result(
    source: LayerSource,
    analyzers: Sequence[Analyzer],
    versions: tuple[tuple[str, int], ...],
    cache: LayerResultCache | None,
    progress: ScanProgress,
) -> LayerResult:
    """A layer's result: from the cache only when the shipped bytes are known to be that layer, else analysed."""
    ref: LayerRef = source.ref
    key = cache_key(source.cache_key, versions) if cache is not None and source.cache_key else ""
    if not key or cache is None:
        return _analyze(source, analyzers, progress)
    hit = cache.get(key)
    if hit is not None and cache.is_verified(source.cache_identity(), source.cache_key):
        progress.layer_finished(ref, cached=True)
        return hit
    # one process analyses a layer; the others wait on it and read its result (shared cache)
    with cache.exclusive(key):
        hit = cache.get(key)
        if hit is not None and cache.is_verified(source.cache_identity(), source.cache_key):
            progress.layer_finished(ref, cached=True)
            return hit
        result = _analyze(source, analyzers, progress)
        cache.record_verified(source.read_blob_digest, source.cache_key)
        cache.put(key, result)
        return result


def _analyze(source: LayerSource, analyzers: Sequence[Analyzer], progress: ScanProgress) -> LayerResult:
    progress.layer_started(source.ref, source.ref.size)
    result = analyze_layer(source, analyzers, progress)
    progress.layer_finished(source.ref, cached=False)
    return result
