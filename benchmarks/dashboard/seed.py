"""Seed a store with a large, realistic fleet for the dashboard benchmark: 1,000 assets, 500,000 findings.

The schema comes from the store's own migrations (``Store.open``); rows are
written with PostgreSQL ``COPY`` (psycopg 3), so seeding takes about a minute
instead of hours of ``record_scan``. The shape follows what the store holds
after months of monitoring: 400 repositories whose tags were rebuilt one to
four times (old digests inactive, tags moved), three scans per asset, 300
packages per inventory, 500 findings per asset over a pool of 5,000 rules
(open, reopened, fixed, suppressed by exceptions and by VEX statements),
first seen over the last 120 days, 300 exceptions with expiries spread from
the past to next year, and an audit trail of one event per scan written
through ``store.audit`` (a real hash chain that verifies).

    python benchmarks/dashboard/seed.py --url postgresql+psycopg://user@127.0.0.1:5432/db
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))

from shieldwall.model import Finding, FindingKind, Severity, Suppression  # noqa: E402
from shieldwall.store import Store, audit  # noqa: E402
from shieldwall.store.records import finding_to_json  # noqa: E402

ASSETS = 1000
FINDINGS = 500_000
PACKAGES_PER_ASSET = 300
SCANS_PER_ASSET = 3
RULES = 5000
EXCEPTIONS = 300
SEVERITIES = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"]
SEVERITY_WEIGHTS = [5, 20, 40, 30, 5]
ENVIRONMENTS = ["prod", "staging", "dev", "ci"]


def _naive(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC).replace(tzinfo=None)


def _digest(*parts: object) -> str:
    return "sha256:" + hashlib.sha256("/".join(str(p) for p in parts).encode()).hexdigest()


def _rule_data(rng: random.Random) -> list[tuple[str, str, str]]:
    """(rule_id, severity, finding JSON) for the rule pool; every 10th rule carries a VEX statement."""
    out = []
    for index in range(RULES):
        rule = f"CVE-{2015 + index % 10}-{10000 + index}"
        severity = rng.choices(SEVERITIES, SEVERITY_WEIGHTS)[0]
        suppressions: tuple[Suppression, ...] = ()
        if index % 10 == 0:
            suppressions = (
                Suppression(
                    kind="vex",
                    rule=rule,
                    reason="vulnerable code not in execute path",
                    source=f"vex/team-{index % 7}.openvex.json",
                    author=f"owner{index % 13}@example.com",
                    expires=f"2027-0{1 + index % 9}-15",
                    statement=(("status", "not_affected"),),
                ),
            )
        finding = Finding(
            kind=FindingKind.VULNERABILITY,
            rule_id=rule,
            title=f"{rule} in a package",
            severity=Severity(severity),
            message=f"{rule}: upgrade",
            fingerprint_material=rule,
            suppressions=suppressions,
        )
        out.append((rule, severity, finding_to_json(finding)))
    return out


def seed(url: str, *, seed_value: int = 19, now: dt.datetime | None = None) -> dict[str, Any]:
    """Fill an empty PostgreSQL store at ``url``; return what was written and how long it took."""
    import psycopg

    rng = random.Random(seed_value)
    now = now or dt.datetime.now(dt.UTC)
    started = time.monotonic()
    with Store.open(url, audit_key_path=Path("/nonexistent/shieldwall-bench-audit.pem")) as store:
        pass  # runs the migrations
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    rules = _rule_data(rng)
    assets: list[tuple[Any, ...]] = []
    tags: list[tuple[Any, ...]] = []
    scans: list[tuple[Any, ...]] = []
    lineage: list[tuple[int, str, str]] = []
    asset_id = 0
    repo_index = 0
    while asset_id < ASSETS:
        repo = f"registry.example.com/team{repo_index % 25}/service{repo_index}"
        builds = min(rng.randint(1, 4), ASSETS - asset_id)
        start = now - dt.timedelta(days=rng.uniform(10, 120))
        for build in range(builds):
            asset_id += 1
            first = start + dt.timedelta(days=build * rng.uniform(1, 9))
            first = min(first, now - dt.timedelta(minutes=5))
            last = first + dt.timedelta(hours=rng.uniform(0, 48))
            current = build == builds - 1
            digest = _digest(repo, build)
            env_id = 1 + repo_index % len(ENVIRONMENTS)
            assets.append(
                (
                    asset_id,
                    "image",
                    digest,
                    f"{repo}:latest",
                    repo,
                    env_id,
                    "{}",
                    "linux/amd64",
                    current,
                    _naive(first),
                    _naive(last),
                    asset_id * SCANS_PER_ASSET,
                )
            )
            tags.append((asset_id, repo, "latest", digest, current, _naive(first), _naive(last)))
            for number in range(SCANS_PER_ASSET):
                scan_id = (asset_id - 1) * SCANS_PER_ASSET + number + 1
                at = first + dt.timedelta(hours=number * 6)
                summary = json.dumps(
                    {"severity": {s: rng.randint(0, 200) for s in SEVERITIES}, "kind": {"vulnerability": 500}}
                )
                scans.append(
                    (
                        scan_id,
                        asset_id,
                        f"registry:{repo}:latest",
                        repo,
                        "latest",
                        "monitor",
                        "bench",
                        "",
                        "",
                        _naive(at),
                        "bench",
                        "",
                        "",
                        "",
                        summary,
                        PACKAGES_PER_ASSET,
                        FINDINGS // ASSETS,
                        0,
                    )
                )
            lineage.append((asset_id, repo, digest))
        repo_index += 1
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        for index, name in enumerate(ENVIRONMENTS, 1):
            cur.execute(
                "INSERT INTO environments (id, name, description, created_at) VALUES (%s, %s, '', %s)",
                (index, name, _naive(now)),
            )
        _copy(
            cur,
            "assets",
            "id, kind, identifier, name, repository, environment_id, labels, platform, active, "
            "first_seen, last_seen, last_scan_id",
            assets,
            golden=True,
        )
        _copy(cur, "asset_tags", "asset_id, repository, tag, manifest_digest, current, first_seen, last_seen", tags)
        _copy(
            cur,
            "scans",
            "id, asset_id, target, repository, tag, trigger, actor, started_at, finished_at, "
            "recorded_at, tool_version, verdict, image_config, os_info, summary, package_count, finding_count, "
            "warning_count",
            scans,
        )
        _copy(
            cur,
            "inventories",
            "id, asset_id, scan_id, os_info, layers, package_count, updated_at",
            [(a[0], a[0], a[0] * SCANS_PER_ASSET, "", "[]", PACKAGES_PER_ASSET, a[10]) for a in assets],
        )
        with cur.copy(
            "COPY inventory_packages (inventory_id, ecosystem, lookup_name, alt_lookup_name, type, name, version, "
            "purl, path, layer_index, source_name, source_version, arch, found_by, licenses) FROM STDIN"
        ) as copy:
            for asset in assets:
                build_offset = asset[0] % 4
                for p in range(PACKAGES_PER_ASSET):
                    name = f"lib{p}"
                    version = f"1.{p % 7}.{build_offset + (p % 3 == 0)}"
                    copy.write_row(
                        (
                            asset[0],
                            "PyPI",
                            name,
                            "",
                            "python",
                            name,
                            version,
                            f"pkg:pypi/{name}@{version}",
                            "",
                            None,
                            "",
                            "",
                            "",
                            "python",
                            "",
                        )
                    )
        per_asset = FINDINGS // ASSETS
        with cur.copy(
            "COPY findings (asset_id, fingerprint, kind, rule_id, severity, title, package_id, package_name, "
            "installed_version, fixed_version, path, status, first_seen, last_seen, fixed_at, reopened_at, "
            "reopen_count, suppressed_reason, suppressed_by, first_scan_id, last_scan_id, data) FROM STDIN"
        ) as copy:
            for asset in assets:
                aid, first = asset[0], asset[9]
                base_scan = (aid - 1) * SCANS_PER_ASSET + 1
                for n in range(per_asset):
                    rule, severity, data = rules[rng.randrange(RULES)]
                    roll = rng.random()
                    seen = first + dt.timedelta(hours=rng.choice((0, 6, 12)))
                    scan_first = base_scan + (seen - first).seconds // 21600
                    fixed_at = None
                    reason = by = ""
                    if roll < 0.15:
                        status, fixed_at = "fixed", first + dt.timedelta(hours=12)
                    elif roll < 0.20:
                        status, reason, by = "suppressed", "accepted", f"exception #{1 + n % EXCEPTIONS} by owner"
                    elif roll < 0.24 and '"vex"' in data:
                        status, reason, by = "suppressed", "vulnerable code not in execute path", "owner@example.com"
                    elif roll < 0.28:
                        status = "reopened"
                    else:
                        status = "open"
                    copy.write_row(
                        (
                            aid,
                            hashlib.md5(f"{aid}/{n}".encode()).hexdigest(),
                            "vulnerability",
                            rule,
                            severity,
                            f"{rule} in lib{n % PACKAGES_PER_ASSET}",
                            f"p{n % PACKAGES_PER_ASSET}",
                            f"lib{n % PACKAGES_PER_ASSET}",
                            "1.0.0",
                            "1.0.1",
                            "",
                            status,
                            seen,
                            asset[10],
                            fixed_at,
                            None,
                            0,
                            reason,
                            by,
                            scan_first,
                            base_scan + SCANS_PER_ASSET - 1,
                            data,
                        )
                    )
        _copy(
            cur,
            "exceptions",
            "rule_id, package_name, fingerprint, asset_id, reason, author, created_at, expires_at, revoked_by",
            [
                (
                    rules[i * 7][0],
                    "",
                    "",
                    None if i % 3 else 1 + i,
                    f"accepted risk {i}",
                    f"owner{i % 11}",
                    _naive(now - dt.timedelta(days=200 - i % 200)),
                    None if i % 9 == 0 else _naive(now + dt.timedelta(days=(i % 120) - 30)),
                    "",
                )
                for i in range(EXCEPTIONS)
            ],
        )
        for table in ("assets", "scans", "inventories", "environments"):
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        conn.commit()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")  # what autovacuum does on a server that has been running
    with (
        Store.open(url, audit_key_path=Path("/nonexistent/shieldwall-bench-audit.pem")) as store,
        store.session() as session,
    ):
        for scan in scans:
            audit.append_event(store, session, "scan.recorded", f"image:{scan[1]}", {"scan_id": scan[0]}, actor="bench")
    with psycopg.connect(dsn, autocommit=True) as conn:
        # The first VACUUM, right after the bulk COPY, leaves PostgreSQL's visibility map empty
        # (pg_class.relallvisible = 0 for findings: every index-only scan still reads the heap);
        # on a server that has been running, autovacuum has long set it. This second pass does.
        conn.execute("VACUUM ANALYZE")
    return {
        "assets": len(assets),
        "scans": len(scans),
        "packages": len(assets) * PACKAGES_PER_ASSET,
        "findings": per_asset * len(assets),
        "exceptions": EXCEPTIONS,
        "audit_events": len(scans),
        "seconds": round(time.monotonic() - started, 1),
    }


def _copy(cur: Any, table: str, columns: str, rows: list[tuple[Any, ...]], golden: bool = False) -> None:
    if golden:
        columns += ", golden_auto, golden_reason"
        rows = [(*r, False, "") for r in rows]
    with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def main() -> None:
    """Seed the store at ``--url``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="SQLAlchemy URL of an empty PostgreSQL database")
    print(json.dumps(seed(parser.parse_args().url)))


if __name__ == "__main__":
    main()
