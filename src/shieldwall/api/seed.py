"""Demo data for the dashboard (``shieldwall serve --demo``) and for the API tests.

It tells the product's story with the bundled material only, offline:

1. the bundled advisories go into the advisory database, except the most
   recently published one;
2. the bundled demo image (``shieldwall.demo.build_demo_image``) is scanned and
   recorded in the store, in the ``demo`` environment, marked golden;
3. the held-back advisory is then "published": the full bundled set is
   imported, and a rematch (no pull, no layer walk) finds the new
   vulnerability on the stored image -- what the overview shows under
   "images affected by newly published advisories".

The end state is the same as scanning the image against the full bundled
set, so the dashboard's numbers match ``shieldwall findings`` and a fresh
``shieldwall scan``. Seeding a store that already holds the demo image does
nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from shieldwall import paths
from shieldwall.demo import build_demo_image
from shieldwall.service.scan import ScanOptions, scan_target
from shieldwall.store import Store
from shieldwall.store.queries import set_golden
from shieldwall.store.records import record_scan
from shieldwall.store.schema import Asset, FindingStatus, StoredFinding
from shieldwall.vulndb.model import SourceInfo
from shieldwall.vulndb.samples import SAMPLES_SOURCE, bundled_advisories, import_bundled_samples
from shieldwall.vulndb.store import VulnDB

DEMO_NAME = "shieldwall/demo:1.0"
DEMO_ENVIRONMENT = "demo"
ACTOR = "shieldwall-demo"


@dataclass(frozen=True, slots=True)
class SeedResult:
    """What the demo seeding left in the store."""

    asset_id: int
    scan_id: int | None
    open_findings: int
    held_back: str
    created: bool


def _demo_asset(store: Store) -> int | None:
    with store.session() as session:
        return session.scalars(select(Asset.id).where(Asset.name == DEMO_NAME).order_by(Asset.id).limit(1)).first()


def _open_findings(store: Store, asset_id: int) -> int:
    with store.session() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(StoredFinding)
                .where(
                    StoredFinding.asset_id == asset_id,
                    StoredFinding.status.in_([str(FindingStatus.OPEN), str(FindingStatus.REOPENED)]),
                )
            )
            or 0
        )


def newest_advisory() -> str:
    """The ID of the most recently published bundled advisory (the one the demo "publishes" late)."""
    advisories = bundled_advisories()
    return max(advisories, key=lambda a: (a.published, a.id)).id


def seed_demo(
    store: Store,
    *,
    data_dir: Path | None = None,
    cache_dir: Path | None = None,
    work_dir: Path | None = None,
) -> SeedResult:
    """Scan the bundled demo image into ``store`` (once) and rematch it against a late advisory.

    ``data_dir`` holds the advisory database (default: the data directory);
    ``work_dir`` receives the demo image archive (default: ``<data dir>/demo``).
    """
    from shieldwall.service.rematch import rematch_from_vulndb
    from shieldwall.vulndb.store import default_db_path

    data = data_dir or paths.data_dir()
    db_path = default_db_path({"SHIELDWALL_DATA_DIR": str(data)})
    existing = _demo_asset(store)
    if existing is not None:
        if not db_path.is_file():
            import_bundled_samples(db_path)
        return SeedResult(existing, None, _open_findings(store, existing), "", created=False)
    held = newest_advisory()
    early = [a for a in bundled_advisories() if a.id != held]
    import_bundled_samples(db_path)  # KEV and EPSS samples too
    with VulnDB.build(db_path) as writer:
        writer.replace_source(SourceInfo(SAMPLES_SOURCE, url="shieldwall:data/advisories", kind="osv"), early)
    archive = build_demo_image(work_dir or data / "demo")
    options = ScanOptions(data_dir=data, cache_dir=cache_dir)
    result = scan_target(f"docker-archive:{archive}", options)
    record = record_scan(
        store,
        result,
        trigger="demo",
        actor=ACTOR,
        environment=DEMO_ENVIRONMENT,
        target_text=f"docker-archive:{archive.name}",
    )
    set_golden(store, str(record.asset_id), True, actor=ACTOR)
    rematch_from_vulndb(store, db_path, actor=ACTOR)  # records this build as seen
    import_bundled_samples(db_path)  # the held-back advisory is "published"
    rematch_from_vulndb(store, db_path, actor=ACTOR)
    return SeedResult(record.asset_id, record.scan_id, _open_findings(store, record.asset_id), held, created=True)
