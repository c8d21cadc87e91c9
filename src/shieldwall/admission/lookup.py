"""What the store knows about an image reference: the digest it resolves to, whether it was scanned, its findings.

A reference by digest is looked up by that digest (the asset's identifier or
a recorded tag's manifest digest). A reference by tag is resolved through the
store's recorded tags (``asset_tags``: the tag the last scan saw pointing at
a digest); the resolution is part of the facts so the decision and its audit
record say which digest was judged. Only active findings count: fixed,
not-applicable and suppressed ones (stored exceptions, VEX) do not.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from shieldwall.errors import InputError
from shieldwall.model import FindingKind, Severity
from shieldwall.store.schema import Asset, AssetKind, AssetTag, FindingStatus, StoredFinding
from shieldwall.target.reference import ImageReference, parse_reference

ACTIVE = (str(FindingStatus.OPEN), str(FindingStatus.REOPENED))
MAX_FINDINGS = 20_000
_KEV_MARK = '"kev": true'
_KINDS = {str(k): k for k in FindingKind}
_SEVERITIES = {str(s): s for s in Severity}


@dataclass(frozen=True, slots=True)
class FindingFact:
    """The parts of a stored finding a decision needs."""

    kind: FindingKind
    rule_id: str
    severity: Severity
    fixable: bool
    kev: bool
    package: str = ""


@dataclass(frozen=True, slots=True)
class ImageFacts:
    """One image reference as the store sees it.

    ``error`` is set when the reference itself is malformed; ``digest`` is
    empty when the store cannot resolve the reference; ``resolved_from`` is
    ``digest`` or ``tag <repository>:<tag>``.
    """

    written: str
    reference: ImageReference | None
    digest: str = ""
    resolved_from: str = ""
    asset_id: int | None = None
    scanned: bool = False
    findings: tuple[FindingFact, ...] = ()
    error: str = ""

    @property
    def names(self) -> tuple[str, ...]:
        """Every name an exception's image glob may match: repository, repository:tag, digest."""
        if self.reference is None:
            return (self.written,)
        ref = self.reference
        names = [ref.name, str(ref), self.written]
        if ref.tag:
            names.append(f"{ref.name}:{ref.tag}")
        if self.digest:
            names.append(self.digest)
            names.append(f"{ref.name}@{self.digest}")
        return tuple(dict.fromkeys(names))


# Statements built once: building SQLAlchemy expressions per request costs more than running them.
_ASSET_BY_DIGEST = (
    select(Asset.id, Asset.last_scan_id)
    .where(Asset.kind == str(AssetKind.IMAGE), Asset.identifier == bindparam("digest"))
    .limit(1)
)
_TAGGED_DIGEST = (
    select(Asset.id, Asset.last_scan_id)
    .join(AssetTag, AssetTag.asset_id == Asset.id)
    .where(AssetTag.manifest_digest == bindparam("digest"))
    .limit(1)
)
_BY_TAG = (
    select(AssetTag.asset_id, AssetTag.manifest_digest, Asset.identifier, Asset.last_scan_id)
    .join(Asset, Asset.id == AssetTag.asset_id)
    .where(AssetTag.repository == bindparam("repository"), AssetTag.tag == bindparam("tag"), AssetTag.current.is_(True))
    .order_by(AssetTag.last_seen.desc())
    .limit(1)
)
_FINDINGS = (
    select(
        StoredFinding.kind,
        StoredFinding.rule_id,
        StoredFinding.severity,
        StoredFinding.fixed_version,
        StoredFinding.package_name,
        StoredFinding.data.contains(_KEV_MARK, autoescape=True),
    )
    .where(StoredFinding.asset_id == bindparam("asset_id"), StoredFinding.status.in_(ACTIVE))
    .limit(MAX_FINDINGS)
)


def _asset_by_digest(session: Session, digest: str) -> tuple[int, bool] | None:
    row = session.execute(_ASSET_BY_DIGEST, {"digest": digest}).first()
    if row is None:
        row = session.execute(_TAGGED_DIGEST, {"digest": digest}).first()
    return (int(row[0]), row[1] is not None) if row is not None else None


def _asset_by_tag(session: Session, ref: ImageReference) -> tuple[int, str, bool] | None:
    row = session.execute(_BY_TAG, {"repository": ref.name, "tag": ref.tag}).first()
    if row is None:
        return None
    return int(row[0]), str(row[1] or row[2]), row[3] is not None


def _findings(session: Session, asset_id: int) -> tuple[FindingFact, ...]:
    out: list[FindingFact] = []
    for kind, rule_id, severity, fixed, package, kev in session.execute(_FINDINGS, {"asset_id": asset_id}):
        parsed_kind = _KINDS.get(kind, FindingKind.MISCONFIG)
        parsed_severity = _SEVERITIES.get(severity, Severity.UNKNOWN)
        out.append(
            FindingFact(
                kind=parsed_kind,
                rule_id=str(rule_id),
                severity=parsed_severity,
                fixable=bool(fixed),
                kev=bool(kev),
                package=str(package or ""),
            )
        )
    return tuple(out)


def image_facts(session: Session, written: str) -> ImageFacts:
    """Resolve one image reference against the store (one read-only query per step)."""
    try:
        ref = parse_reference(written)
    except InputError as exc:
        return ImageFacts(written=written, reference=None, error=str(exc))
    if ref.digest:
        digest, resolved_from = ref.digest, "digest"
        by_digest = _asset_by_digest(session, ref.digest)
        if by_digest is None:
            return ImageFacts(written=written, reference=ref, digest=digest, resolved_from=resolved_from)
        asset_id, scanned = by_digest
    else:
        found = _asset_by_tag(session, ref)
        if found is None:
            return ImageFacts(written=written, reference=ref)
        asset_id, digest, scanned = found
        resolved_from = f"tag {ref.name}:{ref.tag}"
    return ImageFacts(
        written=written,
        reference=ref,
        digest=digest,
        resolved_from=resolved_from,
        asset_id=asset_id,
        scanned=scanned,
        findings=_findings(session, asset_id) if scanned else (),
    )
