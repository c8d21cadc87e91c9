"""Rematch at fleet scale: 10,000 stored inventories (~3 million package rows), two change sizes.

Generates a fleet of image inventories with a realistic ecosystem mix
(Debian 12, Alpine 3.19 and Ubuntu 22.04 base images, each with its OS
packages drawn from a skewed popularity distribution, plus Python, npm, Maven
and Go dependencies), bulk-inserts it straight into the store's tables
(PostgreSQL ``COPY``, SQLite ``executemany``), then measures ``rematch`` after
an advisory-database change that touches 1% and then 0.1% of the distinct
package names in the fleet. Half of the changed names get an advisory that
affects every version, so the rematch writes new findings too.

It reports, per backend and change size: wall time of the rematch (the
indexed lookup alone and the whole run: rebuild, match, lifecycle, audit),
the package rows read, the inventories touched, and the query plan of the
lookup. The claim under test: cost follows the size of the change, not the
size of the fleet.

    PYTHONPATH=src:tests .venv/bin/python benchmarks/rematch_scale.py              # both backends
    PYTHONPATH=src:tests .venv/bin/python benchmarks/rematch_scale.py --backend sqlite --inventories 2000

PostgreSQL is a throw-away server (tests/helpers/postgres_server.py) unless
``--pg-url`` names one. Takes several minutes; not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "src"))

from sqlalchemy import insert, select, text  # noqa: E402

from shieldwall.match.matcher import InMemoryAdvisories  # noqa: E402
from shieldwall.model import OSInfo  # noqa: E402
from shieldwall.service.rematch import candidate_rows, rematch  # noqa: E402
from shieldwall.store import Store  # noqa: E402
from shieldwall.store.inventory import changed_keys, os_to_json  # noqa: E402
from shieldwall.store.schema import Asset, AssetTag, Inventory  # noqa: E402
from shieldwall.vulndb.osv import parse_osv  # noqa: E402

DISTROS = [
    # (weight, OSInfo, purl type, OSV ecosystem base, name universe size, packages per image range)
    (0.55, OSInfo("debian", "Debian GNU/Linux", "12", "bookworm"), "deb", "Debian", 4000, (90, 260)),
    (0.25, OSInfo("alpine", "Alpine Linux", "3.19.1"), "apk", "Alpine", 1500, (15, 60)),
    (0.20, OSInfo("ubuntu", "Ubuntu", "22.04"), "deb", "Ubuntu", 4000, (90, 230)),
]
LANGUAGES = [
    # (purl type, OSV ecosystem, universe size, probability an image has this stack, packages range)
    ("pypi", "PyPI", 20_000, 0.45, (20, 180)),
    ("npm", "npm", 60_000, 0.35, (80, 500)),
    ("maven", "Maven", 12_000, 0.20, (40, 250)),
    ("golang", "Go", 6_000, 0.20, (10, 80)),
]
COLUMNS = (
    "inventory_id",
    "ecosystem",
    "lookup_name",
    "alt_lookup_name",
    "type",
    "name",
    "version",
    "purl",
    "path",
    "layer_index",
    "source_name",
    "source_version",
    "arch",
    "found_by",
    "licenses",
)


def _name(kind: str, index: int) -> str:
    if kind == "maven":
        return f"org.example{index % 97}:artifact-{index:05d}"
    if kind == "golang":
        return f"github.com/example{index % 89}/module-{index:05d}"
    if kind == "npm" and index % 5 == 0:
        return f"@scope{index % 31}/pkg-{index:05d}"
    return f"{kind}-pkg-{index:05d}"


def _version(rng: random.Random, kind: str) -> str:
    major, minor, patch = rng.randint(0, 9), rng.randint(0, 30), rng.randint(0, 20)
    if kind == "deb":
        return f"{major}.{minor}.{patch}-{rng.randint(1, 5)}"
    if kind == "apk":
        return f"{major}.{minor}.{patch}-r{rng.randint(0, 5)}"
    if kind == "golang":
        return f"v{major}.{minor}.{patch}"  # as Go build info spells it
    return f"{major}.{minor}.{patch}"


def _skewed(rng: random.Random, universe: int, count: int) -> set[int]:
    """``count`` distinct indexes with a heavy head (base packages in almost every image)."""
    chosen: set[int] = set()
    while len(chosen) < count:
        chosen.add(min(universe - 1, int(universe * rng.random() ** 3)))
    return chosen


def _lookup(ecosystem: str, name: str) -> str:
    if ecosystem == "PyPI":
        return name.replace("_", "-").replace(".", "-").lower()
    return name


def generate(inventories: int, seed: int) -> Iterator[tuple[int, OSInfo, list[tuple[Any, ...]]]]:
    """Yield ``(index, os, package rows without inventory_id)`` for each image."""
    rng = random.Random(seed)
    weights = [d[0] for d in DISTROS]
    for index in range(inventories):
        _, os_info, kind, ecosystem, universe, (low, high) = rng.choices(DISTROS, weights)[0]
        rows: list[tuple[Any, ...]] = []
        for item in sorted(_skewed(rng, universe, rng.randint(low, high))):
            name = f"{ecosystem.lower()}-{_name(kind, item)}"
            version = _version(rng, kind)
            rows.append(
                (
                    ecosystem,
                    name,
                    "",
                    kind,
                    name,
                    version,
                    f"pkg:{kind}/{ecosystem.lower()}/{name}@{version}",
                    "/var/lib/dpkg/status" if kind == "deb" else "/lib/apk/db/installed",
                    0,
                    "",
                    "",
                    "amd64",
                    kind,
                    "",
                )
            )
        for kind, ecosystem, universe, probability, (low, high) in LANGUAGES:
            if rng.random() > probability:
                continue
            for item in sorted(_skewed(rng, universe, rng.randint(low, high))):
                name = _name(kind, item)
                version = _version(rng, kind)
                rows.append(
                    (
                        ecosystem,
                        _lookup(ecosystem, name),
                        "",
                        kind,
                        name,
                        version,
                        f"pkg:{kind}/{name}@{version}",
                        f"/app/{kind}/{name}/manifest",
                        1,
                        "",
                        "",
                        "",
                        kind,
                        "",
                    )
                )
        yield index, os_info, rows


def populate(store: Store, inventories: int, seed: int) -> tuple[int, dict[tuple[str, str], int]]:
    """Insert the fleet; returns (package rows, distinct (ecosystem, name) -> number of images holding it)."""
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    names: dict[tuple[str, str], int] = {}
    total = 0
    batch_assets = 500
    pending: list[tuple[int, OSInfo, list[tuple[Any, ...]]]] = []

    def flush() -> None:
        nonlocal total
        if not pending:
            return
        with store.engine.begin() as conn:
            asset_rows = [
                {
                    "kind": "image",
                    "identifier": f"sha256:{index:064x}",
                    "name": f"registry.bench/app{index % 400}:{index}",
                    "repository": f"registry.bench/app{index % 400}",
                    "golden_auto": False,
                    "golden_reason": "",
                    "labels": "{}",
                    "platform": "linux/amd64",
                    "active": True,
                    "first_seen": now,
                    "last_seen": now,
                }
                for index, _, _ in pending
            ]
            conn.execute(insert(Asset), asset_rows)
            ids = dict(
                conn.execute(
                    select(Asset.identifier, Asset.id).where(
                        Asset.identifier.in_([r["identifier"] for r in asset_rows])
                    )
                ).all()
            )
            conn.execute(
                insert(AssetTag),
                [
                    {
                        "asset_id": ids[f"sha256:{index:064x}"],
                        "repository": f"registry.bench/app{index % 400}",
                        "tag": str(index),
                        "manifest_digest": f"sha256:{index:064x}",
                        "current": True,
                        "first_seen": now,
                        "last_seen": now,
                    }
                    for index, _, _ in pending
                ],
            )
            conn.execute(
                insert(Inventory),
                [
                    {
                        "asset_id": ids[f"sha256:{index:064x}"],
                        "os_info": os_to_json(os_info),
                        "layers": "[]",
                        "package_count": len(rows),
                        "updated_at": now,
                    }
                    for index, os_info, rows in pending
                ],
            )
            inventory_ids = dict(
                conn.execute(
                    select(Inventory.asset_id, Inventory.id).where(Inventory.asset_id.in_(list(ids.values())))
                ).all()
            )
            package_rows = [
                (inventory_ids[ids[f"sha256:{index:064x}"]], *row) for index, _, rows in pending for row in rows
            ]
            _bulk_insert(conn, store.dialect, package_rows)
            total += len(package_rows)
        pending.clear()

    for index, os_info, rows in generate(inventories, seed):
        for row in rows:
            key = (row[0], row[1])
            names[key] = names.get(key, 0) + 1
        pending.append((index, os_info, rows))
        if len(pending) >= batch_assets:
            flush()
            print(f"  {index + 1} inventories, {total} package rows", file=sys.stderr, flush=True)
    flush()
    with store.engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    return total, names


def reuse(store: Store) -> tuple[int, dict[tuple[str, str], int]] | None:
    """The fleet a previous run left (its findings cleared), or None when the store is empty."""
    with store.engine.begin() as conn:
        rows = conn.execute(
            text("SELECT ecosystem, lookup_name, COUNT(*) FROM inventory_packages GROUP BY ecosystem, lookup_name")
        ).all()
        if not rows:
            return None
        conn.execute(text("DELETE FROM findings"))
        conn.execute(text("DELETE FROM alert_outbox"))
    names = {(str(e), str(n)): int(c) for e, n, c in rows}
    return sum(names.values()), names


def _bulk_insert(conn: Any, dialect: str, rows: list[tuple[Any, ...]]) -> None:
    raw = conn.connection.driver_connection
    if dialect == "postgresql":
        with raw.cursor() as cursor, cursor.copy(f"COPY inventory_packages ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    marks = ", ".join("?" for _ in COLUMNS)
    cursor = raw.cursor()
    cursor.executemany(f"INSERT INTO inventory_packages ({', '.join(COLUMNS)}) VALUES ({marks})", rows)
    cursor.close()


def advisories_for(changed: list[tuple[str, str]], seed: int) -> list[Any]:
    """An advisory affecting every version for every other changed name (the rest: advisories removed)."""
    rng = random.Random(seed)
    out = []
    for position, (ecosystem, name) in enumerate(changed):
        if position % 2:
            continue
        osv_ecosystem = {"Debian": "Debian:12", "Alpine": "Alpine:v3.19", "Ubuntu": "Ubuntu:22.04:LTS"}.get(
            ecosystem, ecosystem
        )
        event_type = "SEMVER" if ecosystem in ("npm", "Go") else "ECOSYSTEM"
        doc = {
            "id": f"BENCH-{position:06d}-{rng.randint(0, 999999):06d}",
            "modified": "2026-01-01T00:00:00Z",
            "summary": f"benchmark advisory for {name}",
            "aliases": [f"CVE-2099-{position + 10000}"],
            "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
            "affected": [
                {
                    "package": {"ecosystem": osv_ecosystem, "name": name},
                    "ranges": [{"type": event_type, "events": [{"introduced": "0"}]}],
                }
            ],
        }
        out.append(parse_osv(doc, source="bench"))
    return out


def explain(store: Store, keys: dict[str, set[str]]) -> str:
    """The plan of one lookup batch of the rematch."""
    ecosystem, names = max(keys.items(), key=lambda item: len(item[1]))
    batch = sorted(names)[:500]
    with store.engine.connect() as conn:
        if store.dialect == "postgresql":
            marks = ", ".join(f"'{n}'" for n in batch)
            sql = (
                "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT p.* FROM inventory_packages p "
                "JOIN inventories i ON i.id = p.inventory_id JOIN assets a ON a.id = i.asset_id "
                f"WHERE p.ecosystem = '{ecosystem}' AND p.lookup_name IN ({marks}) AND a.active"
            )
            return "\n".join(str(r[0]) for r in conn.execute(text(sql)))
        marks = ", ".join("?" for _ in batch)
        sql = (
            "EXPLAIN QUERY PLAN SELECT p.* FROM inventory_packages p JOIN inventories i ON i.id = p.inventory_id "
            f"JOIN assets a ON a.id = i.asset_id WHERE p.ecosystem = ? AND p.lookup_name IN ({marks}) AND a.active"
        )
        rows = conn.exec_driver_sql(sql, (ecosystem, *batch)).all()
        return "\n".join(str(r[-1]) for r in rows)


@dataclass
class Measure:
    """One rematch measurement."""

    backend: str
    change: str
    changed_names: int
    lookup_seconds: float
    rematch_seconds: float
    rows_read: int
    total_rows: int
    inventories: int
    new_findings: int


def measure(store: Store, backend: str, label: str, changed: list[tuple[str, str]], total: int, seed: int) -> Measure:
    """Time the indexed lookup alone, then the whole rematch, for one change."""
    keys = changed_keys(changed)
    start = time.perf_counter()
    with store.session() as session:
        rows = len(candidate_rows(session, keys))
    lookup = time.perf_counter() - start
    source = InMemoryAdvisories(advisories_for(changed, seed))
    start = time.perf_counter()
    report = rematch(store, source, changed, actor="benchmark")
    elapsed = time.perf_counter() - start
    assert report.package_rows_read == rows
    return Measure(
        backend,
        label,
        len(changed),
        lookup,
        elapsed,
        report.package_rows_read,
        total,
        report.inventories,
        report.new_findings,
    )


def run_backend(backend: str, url: str, args: argparse.Namespace, workdir: Path) -> list[Measure]:
    """Populate one backend and measure both change sizes."""
    store = Store.open(url, audit_key_path=workdir / f"{backend}-audit.pem", checkpoint_every=1000)
    try:
        reused = reuse(store) if args.reuse else None
        start = time.perf_counter()
        if reused is not None:
            total, names = reused
        else:
            print(f"[{backend}] generating {args.inventories} inventories", file=sys.stderr, flush=True)
            total, names = populate(store, args.inventories, args.seed)
        print(
            f"[{backend}] inserted {total} package rows ({len(names)} distinct names) in "
            f"{time.perf_counter() - start:.1f}s",
            file=sys.stderr,
            flush=True,
        )
        rng = random.Random(args.seed + 1)
        universe = sorted(names)
        results = []
        for label, fraction in (("1%", 0.01), ("0.1%", 0.001)):
            changed = rng.sample(universe, max(1, int(len(universe) * fraction)))
            result = measure(store, backend, label, changed, total, args.seed)
            results.append(result)
            print(json.dumps(result.__dict__), flush=True)
        print(f"[{backend}] plan of one lookup batch:\n{explain(store, changed_keys(changed))}", flush=True)
        return results
    finally:
        store.close()


def main() -> None:
    """Parse arguments, run the chosen backends, print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--inventories", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--pg-url", default="", help="An empty PostgreSQL database (default: a throw-away server).")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--reuse", action="store_true", help="Reuse the SQLite fleet in --workdir (findings cleared).")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="shieldwall-rematch-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    results: list[Measure] = []
    if args.backend in ("sqlite", "both"):
        db = workdir / "store.db"
        if not args.reuse:
            db.unlink(missing_ok=True)
        results += run_backend("sqlite", f"sqlite:///{db}", args, workdir)
    if args.backend in ("postgresql", "both"):
        server = None
        url = args.pg_url
        if not url:
            from helpers.postgres_server import fresh_database, start_postgres

            server = start_postgres()
            url = server.url(fresh_database(server, "bench"))
        try:
            results += run_backend("postgresql", url, args, workdir)
        finally:
            if server is not None:
                server.stop()
    print("\n| backend | change | changed names | rows read / total | inventories | new findings | lookup | rematch |")
    print("|---|---|---|---|---|---|---|---|")
    for m in results:
        print(
            f"| {m.backend} | {m.change} | {m.changed_names} | {m.rows_read:,} / {m.total_rows:,} | "
            f"{m.inventories:,} | {m.new_findings:,} | {m.lookup_seconds:.3f}s | {m.rematch_seconds:.2f}s |"
        )


if __name__ == "__main__":
    main()
