"""Mask secrets wherever a scan result repeats the image config.

A secret in ``Env`` or in a history command (``|1 NPM_TOKEN=... npm ci``)
is not only a finding: the result echoes the config (``image.env``,
``image.history``) and every layer's ``created_by`` (``result.layers``, the
layer of each finding and package). ``mask_secrets`` replaces each secret
value there with its redacted form, so no report, cache or store entry built
from the result holds it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace

from shieldwall.analyze.secret.credentials import credential_values
from shieldwall.analyze.secret.fingerprint import redact
from shieldwall.model import Evidence, Finding, FindingKind, LayerRef, Location, Package, ScanResult

_MIN_MASKED = 6


class _Masker:
    def __init__(self, values: Iterable[str]) -> None:
        unique = {v for v in values if len(v) >= _MIN_MASKED}
        self.pairs = sorted(((v, redact(v.encode())) for v in unique), key=lambda p: -len(p[0]))
        self.memo: dict[str, str] = {}

    def text(self, value: str) -> str:
        if value in self.memo:
            return self.memo[value]
        masked = value
        for secret, shown in self.pairs:
            if secret in masked:
                masked = masked.replace(secret, shown)
        self.memo[value] = masked
        return masked

    def layer(self, ref: LayerRef | None) -> LayerRef | None:
        if ref is None or not ref.created_by:
            return ref
        masked = self.text(ref.created_by)
        return ref if masked == ref.created_by else replace(ref, created_by=masked)

    def location(self, loc: Location | None) -> Location | None:
        if loc is None or loc.layer is None:
            return loc
        layer = self.layer(loc.layer)
        return loc if layer is loc.layer else loc.with_layer(layer)

    def evidence(self, item: Evidence) -> Evidence:
        return replace(
            item,
            searched=self.text(item.searched),
            found=self.text(item.found),
            details=tuple((k, self.text(v)) for k, v in item.details),
        )

    def finding(self, finding: Finding) -> Finding:
        return replace(
            finding,
            title=self.text(finding.title),
            location=self.location(finding.location),
            deleted_in=self.layer(finding.deleted_in),
            message=self.text(finding.message),
            fix=self.text(finding.fix),
            evidence=tuple(self.evidence(e) for e in finding.evidence),
        )

    def package(self, package: Package) -> Package:
        locations = tuple(self.location(loc) or loc for loc in package.locations)
        return replace(package, locations=locations, introduced_by=self.layer(package.introduced_by))


def mask_secrets(result: ScanResult, values: Iterable[str]) -> ScanResult:
    """``result`` with every occurrence of ``values`` in the image config and layer commands redacted."""
    masker = _Masker(values)
    if not masker.pairs:
        return result
    image = result.image
    if image is not None:
        image = replace(
            image,
            env=tuple(masker.text(v) for v in image.env),
            cmd=tuple(masker.text(v) for v in image.cmd),
            entrypoint=tuple(masker.text(v) for v in image.entrypoint),
            labels=tuple((k, masker.text(v)) for k, v in image.labels),
            history=tuple(replace(h, created_by=masker.text(h.created_by)) for h in image.history),
        )
    return replace(
        result,
        image=image,
        layers=tuple(masker.layer(ref) or ref for ref in result.layers),
        findings=tuple(masker.finding(f) for f in result.findings),
        packages=tuple(masker.package(p) for p in result.packages),
        warnings=tuple(replace(w, message=masker.text(w.message)) for w in result.warnings),
    )


def _texts(result: ScanResult) -> Iterator[str]:
    """Every string of the result that can repeat a credential: the image config and each finding's text."""
    image = result.image
    if image is not None:
        yield from image.env
        yield " ".join(image.entrypoint + image.cmd)
        yield from (f"{k}={v}" for k, v in image.labels)
        yield from (h.created_by for h in image.history)
    yield from (w.message for w in result.warnings)  # a parser's error can quote the line it stopped on
    for finding in result.findings:
        if finding.kind in (FindingKind.SECRET, FindingKind.SENSITIVE_FILE):
            continue  # built redacted
        yield finding.title
        yield finding.message
        for item in finding.evidence:
            yield item.found
            yield from (v for _, v in item.details)


def scrub_secrets(
    result: ScanResult, known: Iterable[str], scan: Callable[[bytes], Iterable[bytes]] | None
) -> ScanResult:
    """The one place a result passes before any output or the store: every credential in it masked.

    ``known`` are values post-scanners already found; ``scan`` is the secret
    engine's matcher (``None`` when no engine could be built); credential-shaped
    assignments (``*_PASSWORD=``, ``curl -u``, URL user info) are masked too,
    whatever scanners ran.
    """
    values = set(known)
    for text in _texts(result):
        if not text:
            continue
        values.update(c.value for c in credential_values(text))
        if scan is not None:
            values.update(secret.decode("utf-8", errors="replace") for secret in scan(text.encode(errors="replace")))
    return mask_secrets(result, values) if values else result


def mask_findings(findings: Iterable[Finding], values: Iterable[str]) -> tuple[Finding, ...]:
    """``findings`` with ``values`` redacted in their layer commands and messages."""
    masker = _Masker(values)
    return tuple(masker.finding(f) for f in findings) if masker.pairs else tuple(findings)
