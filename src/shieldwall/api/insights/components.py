""" "Where is this component?": a package (name, PURL, version range) or an advisory ID across every asset.

A package search reads the stored inventories (images and hosts); containers
are found through the image they run (the current tag or the digest in the
container's image reference). A version range (``< 2.17.1``, ``>=2.0,<2.17.1``)
is evaluated with the project's own version scheme of each package's
ecosystem (``match.versions``); a version the scheme cannot parse is kept and
marked "not comparable", never dropped. An advisory search reads the stored
findings, by the ID and its aliases in the advisory database. One row per
(asset, package, version): its file locations are listed on the row.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from shieldwall.api.insights.names import AssetName, labels_of, names_by_id, owner_of
from shieldwall.api.queries import ACTIVE
from shieldwall.errors import InputError, ShieldwallError
from shieldwall.match.versions import InvalidVersion, ParsedVersion, UnknownEcosystemError, scheme_for
from shieldwall.store import Store
from shieldwall.store.schema import Asset, AssetTag, Environment, Inventory, InventoryPackage, StoredFinding
from shieldwall.target.reference import parse_reference

MAX_CANDIDATES = 20_000
MAX_LOCATIONS = 5
PAGE = 50
OPERATORS = ("<=", ">=", "!=", "==", "<", ">", "=")
_ADVISORY = re.compile(r"^(?:[A-Za-z]+-\d{4}-[\w.-]+|GHSA(?:-[0-9a-z]{4}){3}|[A-Z][A-Z0-9]+-\d[\w.:-]*)$")
_NAME_AND_RANGE = re.compile(r"^(?P<name>[^\s<>=!]+)\s*(?P<range>(?:[<>]=?|==?|!=)\s*\S.*)$")


@dataclass(frozen=True, slots=True)
class Constraint:
    """One comparison of a version range."""

    op: str
    version: str


@dataclass(frozen=True, slots=True)
class ComponentQuery:
    """What was asked, as understood."""

    mode: str  # package, purl or advisory
    text: str
    name: str = ""
    purl: str = ""
    constraints: tuple[Constraint, ...] = ()
    ecosystem: str = ""
    statuses: tuple[str, ...] = ACTIVE

    @property
    def range_text(self) -> str:
        """The range as typed back ('' for none)."""
        return ", ".join(f"{c.op}{c.version}" for c in self.constraints)


@dataclass(frozen=True, slots=True)
class ComponentHit:
    """One (asset, package, version) the search found."""

    asset_id: int
    asset: str
    asset_kind: str
    digest: str
    environment: str
    owner: str
    name: str
    version: str
    ecosystem: str
    purl: str
    locations: tuple[str, ...]
    location_count: int
    layers: tuple[int, ...]
    in_range: bool | None  # None: the version is not comparable in its ecosystem's scheme
    via_image_id: int | None = None
    via_image: str = ""
    advisory: str = ""
    status: str = ""
    fixed_version: str = ""
    finding_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class ComponentSearch:
    """A page of hits and the totals of the whole search."""

    query: ComponentQuery
    total: int
    assets: int
    assets_by_kind: dict[str, int]
    not_comparable: int
    truncated: bool
    warnings: tuple[str, ...]
    page: int
    pages: int
    items: tuple[ComponentHit, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data."""
        data = asdict(self)
        data["query"]["range"] = self.query.range_text
        return data


def parse_range(text: str) -> tuple[Constraint, ...]:
    """``<2.17.1``, ``>= 2.0, < 2.17.1``: comma-separated comparisons; ``InputError`` when malformed."""
    out = []
    for part in text.split(","):
        item = part.strip()
        if not item:
            continue
        op = next((o for o in OPERATORS if item.startswith(o)), "")
        version = item[len(op) :].strip()
        if not op or not version or any(ch.isspace() for ch in version):
            raise InputError(f"invalid version constraint {item!r}: use <, <=, >, >=, = or != and a version")
        out.append(Constraint("==" if op == "=" else op, version[:128]))
    if len(out) > 8:
        raise InputError("at most 8 version constraints")
    return tuple(out)


def _purl_base(purl: str) -> tuple[str, str]:
    """``pkg:type/ns/name`` and the version ('' when the PURL has none)."""
    text = purl.split("#", 1)[0].split("?", 1)[0]
    head, _, tail = text.rpartition("/")
    name, at, version = tail.partition("@")
    return (f"{head}/{name}" if head else name), (version if at else "")


def parse_query(text: str, version_range: str = "", *, ecosystem: str = "", status: str = "active") -> ComponentQuery:
    """Understand a search box: ``pkg:...`` a PURL, an advisory ID, or a package name with an optional range."""
    text = text.strip()[:300]
    if not text:
        raise InputError("give a package name, a PURL or an advisory ID")
    statuses: tuple[str, ...] = ACTIVE if status != "all" else ()
    constraints = parse_range(version_range)
    if text.startswith("pkg:"):
        base, version = _purl_base(text)
        if version and not constraints:
            constraints = (Constraint("==", version),)
        return ComponentQuery("purl", text, purl=base, constraints=constraints, ecosystem=ecosystem, statuses=statuses)
    if _ADVISORY.match(text) and not constraints:
        return ComponentQuery("advisory", text, name=text, ecosystem=ecosystem, statuses=statuses)
    found = _NAME_AND_RANGE.match(text)
    if found:
        name = found["name"]
        constraints = constraints + parse_range(found["range"])
    else:
        name = text
    return ComponentQuery("package", text, name=name, constraints=constraints, ecosystem=ecosystem, statuses=statuses)


_COMPARE = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}


class RangeCheck:
    """Evaluates the constraints with each ecosystem's scheme (bounds parsed once per scheme)."""

    def __init__(self, constraints: Sequence[Constraint]) -> None:
        self.constraints = tuple(constraints)
        self._bounds: dict[str, list[tuple[str, ParsedVersion]] | None] = {}
        self.warnings: list[str] = []

    def _parsed_bounds(self, ecosystem: str) -> list[tuple[str, ParsedVersion]] | None:
        if ecosystem not in self._bounds:
            try:
                scheme = scheme_for(ecosystem)
                self._bounds[ecosystem] = [(c.op, scheme.parse(c.version)) for c in self.constraints]
            except (UnknownEcosystemError, InvalidVersion) as exc:
                self.warnings.append(f"{ecosystem or 'unknown ecosystem'}: {exc}; its versions are not comparable")
                self._bounds[ecosystem] = None
        return self._bounds[ecosystem]

    def __call__(self, ecosystem: str, version: str) -> bool | None:
        """True/False when comparable, None when not (unknown scheme, unparsable version)."""
        if not self.constraints:
            return True
        bounds = self._parsed_bounds(ecosystem)
        if bounds is None:
            return None
        try:
            value = scheme_for(ecosystem).parse(version)
            return all(_COMPARE[op](value, bound) for op, bound in bounds)
        except (InvalidVersion, UnknownEcosystemError, TypeError):
            return None


def _package_condition(query: ComponentQuery) -> Any:
    if query.mode == "purl":
        base = query.purl
        return or_(
            InventoryPackage.purl == base,
            InventoryPackage.purl.startswith(base + "@", autoescape=True),
            InventoryPackage.purl.startswith(base + "?", autoescape=True),
        )
    name = query.name.lower()
    return or_(
        func.lower(InventoryPackage.name) == name,
        func.lower(InventoryPackage.lookup_name) == name,
        func.lower(InventoryPackage.name).endswith(":" + name, autoescape=True),
        func.lower(InventoryPackage.name).endswith("/" + name, autoescape=True),
    )


@dataclass(slots=True)
class _Group:
    asset: Asset
    environment: str
    name: str
    version: str
    ecosystem: str
    purl: str
    in_range: bool | None
    locations: list[str] = field(default_factory=list)
    layers: set[int] = field(default_factory=set)
    advisory: str = ""
    status: str = ""
    fixed_version: str = ""
    finding_ids: list[int] = field(default_factory=list)
    via: int | None = None
    via_owner: str = ""


def _search_packages(session: Session, query: ComponentQuery, check: RangeCheck) -> tuple[list[_Group], bool]:
    stmt = (
        select(InventoryPackage, Asset, Environment.name)
        .join(Inventory, Inventory.id == InventoryPackage.inventory_id)
        .join(Asset, Asset.id == Inventory.asset_id)
        .outerjoin(Environment, Environment.id == Asset.environment_id)
        .where(_package_condition(query))
    )
    if query.ecosystem:
        stmt = stmt.where(InventoryPackage.ecosystem == query.ecosystem)
    rows = session.execute(stmt.order_by(Asset.id, InventoryPackage.id).limit(MAX_CANDIDATES + 1)).all()
    groups: dict[tuple[int, str, str], _Group] = {}
    for package, asset, env in rows[:MAX_CANDIDATES]:
        verdict = check(package.ecosystem, package.version)
        if verdict is False:
            continue
        key = (asset.id, package.name, package.version)
        group = groups.get(key)
        if group is None:
            group = groups[key] = _Group(
                asset, env or "", package.name, package.version, package.ecosystem, package.purl, verdict
            )
        if package.path:
            group.locations.append(package.path)
        if package.layer_index is not None:
            group.layers.add(package.layer_index)
    return list(groups.values()), len(rows) > MAX_CANDIDATES


def advisory_ids(advisory: str, vulndb_path: Path | None) -> tuple[set[str], str]:
    """The ID and its aliases known to the advisory database, and a warning when they could not be looked up."""
    ids = {advisory}
    if vulndb_path is None or not vulndb_path.is_file():
        return ids, "no advisory database: aliases of the ID were not looked up"
    from shieldwall.vulndb.store import VulnDB

    try:
        with VulnDB.open(vulndb_path) as db:
            found = db.get(advisory)
            related = ([found] if found else []) + db.by_alias(advisory)
    except (OSError, sqlite3.Error, ShieldwallError) as exc:
        return ids, f"the advisory database could not be read ({exc}): aliases of the ID were not looked up"
    for item in related[:50]:
        ids.add(item.id)
        ids.update(item.aliases)
    return ids, ""


def _search_advisory(session: Session, query: ComponentQuery, ids: set[str]) -> tuple[list[_Group], bool]:
    stmt = (
        select(StoredFinding, Asset, Environment.name)
        .join(Asset, Asset.id == StoredFinding.asset_id)
        .outerjoin(Environment, Environment.id == Asset.environment_id)
        .where(StoredFinding.rule_id.in_(sorted(ids)))
    )
    if query.statuses:
        stmt = stmt.where(StoredFinding.status.in_(list(query.statuses)))
    rows = session.execute(stmt.order_by(Asset.id, StoredFinding.id).limit(MAX_CANDIDATES + 1)).all()
    groups: dict[tuple[int, str, str, str], _Group] = {}
    for finding, asset, env in rows[:MAX_CANDIDATES]:
        key = (asset.id, finding.package_name, finding.installed_version, finding.rule_id)
        group = groups.get(key)
        if group is None:
            group = groups[key] = _Group(
                asset, env or "", finding.package_name, finding.installed_version, "", "", True,
                advisory=finding.rule_id, status=finding.status, fixed_version=finding.fixed_version,
            )  # fmt: skip
        if finding.path:
            group.locations.append(finding.path)
        group.finding_ids.append(finding.id)
        if finding.status in ACTIVE:
            group.status = finding.status
    return list(groups.values()), len(rows) > MAX_CANDIDATES


def _container_groups(session: Session, groups: Sequence[_Group]) -> list[_Group]:
    """The containers running an image found: by the current tag or the digest of their image reference."""
    images = {g.asset.id: g for g in groups if g.asset.kind == "image"}
    if not images:
        return []
    repositories = sorted({g.asset.repository for g in images.values() if g.asset.repository})
    containers = list(
        session.scalars(
            select(Asset)
            .where(Asset.kind == "container", Asset.active.is_(True), Asset.repository.in_(repositories))
            .limit(MAX_CANDIDATES)
        )
    )
    if not containers:
        return []
    tags = {
        (t.repository, t.tag): t.asset_id
        for t in session.scalars(
            select(AssetTag).where(
                AssetTag.asset_id.in_(list(images)), AssetTag.current.is_(True), AssetTag.repository.in_(repositories)
            )
        )
    }
    digests = {g.asset.identifier: g.asset.id for g in images.values()}
    env_names = dict(session.execute(select(Environment.id, Environment.name)).all())
    out = []
    by_image: dict[int, list[_Group]] = {}
    for g in groups:
        by_image.setdefault(g.asset.id, []).append(g)
    for container in containers:
        image_text = labels_of(container).get("image", "")
        try:
            ref = parse_reference(image_text)
        except InputError:
            continue
        image_id = digests.get(ref.digest) if ref.digest else tags.get((ref.name, ref.tag or "latest"))
        for g in by_image.get(image_id or -1, []):
            out.append(
                _Group(
                    container, env_names.get(container.environment_id, "") if container.environment_id else "",
                    g.name, g.version, g.ecosystem, g.purl, g.in_range, list(g.locations), set(g.layers),
                    g.advisory, g.status, g.fixed_version, [], via=g.asset.id, via_owner=owner_of(g.asset),
                )
            )  # fmt: skip
    return out


def search_components(
    store: Store, query: ComponentQuery, *, page: int = 1, per_page: int = PAGE, vulndb_path: Path | None = None
) -> ComponentSearch:
    """Every (asset, package, version) matching ``query``; one page of them and the totals."""
    per_page = max(1, min(per_page, 500))
    check = RangeCheck(query.constraints)
    warnings: list[str] = []
    with store.session() as session:
        if query.mode == "advisory":
            ids, warning = advisory_ids(query.name, vulndb_path)
            warnings += [warning] if warning else []
            groups, truncated = _search_advisory(session, query, ids)
        else:
            groups, truncated = _search_packages(session, query, check)
        groups += _container_groups(session, groups)
        names = names_by_id(session, {g.asset.id for g in groups} | {g.via for g in groups if g.via})
    warnings += check.warnings
    if truncated:
        warnings.append(f"more than {MAX_CANDIDATES} candidate rows: only the first were read; narrow the search")
    groups.sort(key=lambda g: (g.environment, _label(names, g.asset.id), g.name, g.version, g.asset.id))
    hits = [_hit(g, names) for g in groups]
    pages = max(1, -(-len(hits) // per_page))
    page = max(1, min(page, pages))
    by_kind: dict[str, set[int]] = {}
    for g in groups:
        by_kind.setdefault(g.asset.kind, set()).add(g.asset.id)
    return ComponentSearch(
        query=query,
        total=len(hits),
        assets=len({g.asset.id for g in groups}),
        assets_by_kind={k: len(v) for k, v in sorted(by_kind.items())},
        not_comparable=sum(1 for h in hits if h.in_range is None),
        truncated=truncated,
        warnings=tuple(dict.fromkeys(warnings)),
        page=page,
        pages=pages,
        items=tuple(hits[(page - 1) * per_page : page * per_page]),
    )


def _label(names: dict[int, AssetName], asset_id: int) -> str:
    found = names.get(asset_id)
    return found.label if found else str(asset_id)


def _hit(group: _Group, names: dict[int, AssetName]) -> ComponentHit:
    name = names.get(group.asset.id)
    locations = tuple(dict.fromkeys(group.locations))
    return ComponentHit(
        asset_id=group.asset.id,
        asset=name.label if name else group.asset.identifier,
        asset_kind=group.asset.kind,
        digest=name.digest if name else "",
        environment=group.environment,
        owner=owner_of(group.asset) or group.via_owner,  # a container: its image's owner unless it names one
        name=group.name,
        version=group.version,
        ecosystem=group.ecosystem,
        purl=group.purl,
        locations=locations[:MAX_LOCATIONS],
        location_count=len(locations),
        layers=tuple(sorted(group.layers)),
        in_range=group.in_range,
        via_image_id=group.via,
        via_image=_label(names, group.via) if group.via else "",
        advisory=group.advisory,
        status=group.status,
        fixed_version=group.fixed_version,
        finding_ids=tuple(group.finding_ids[:50]),
    )
