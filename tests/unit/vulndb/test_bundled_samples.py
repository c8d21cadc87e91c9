"""The sample advisories shipped for the offline demo."""

from __future__ import annotations

import json
import re
from pathlib import Path

from shieldwall.vulndb.model import normalize_name
from shieldwall.vulndb.samples import SAMPLES_SOURCE, bundled_advisories, import_bundled_samples
from shieldwall.vulndb.store import VulnDB

DEMO = Path(__file__).resolve().parents[3] / "src" / "shieldwall" / "demo" / "image"


def _demo_packages() -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    status = (DEMO / "0-base" / "var" / "lib" / "dpkg" / "status").read_text()
    for stanza in status.split("\n\n"):
        fields = dict(re.findall(r"^([A-Za-z-]+): (.*)$", stanza, re.M))
        if "Package" in fields:
            found.add(("Debian:12", fields.get("Source", fields["Package"]).split(" ")[0]))
    for dist in (DEMO / "1-python-app").rglob("*.dist-info"):
        found.add(("PyPI", normalize_name("PyPI", dist.name.removesuffix(".dist-info").rsplit("-", 1)[0])))
    lock = json.loads((DEMO / "2-node-app" / "app" / "web" / "package-lock.json").read_text())
    found.update(("npm", key.rsplit("node_modules/", 1)[1]) for key in lock["packages"] if key)
    gomod = (DEMO / "3-go-tool" / "app" / "tool" / "go.mod").read_text()
    found.update(("Go", m) for m in re.findall(r"^\s+(\S+) v\S+", gomod, re.M))
    return found


def test_every_sample_names_a_package_of_the_demo_image() -> None:
    advisories = bundled_advisories()
    assert 25 <= len(advisories) <= 45
    packages = _demo_packages()
    for advisory in advisories:
        assert advisory.summary and advisory.references and advisory.aliases, advisory.id
        for affected in advisory.affected:
            assert (affected.ecosystem, normalize_name(affected.ecosystem, affected.name)) in packages, advisory.id
    ecosystems = {a.ecosystem for adv in advisories for a in adv.affected}
    assert ecosystems == {"Debian:12", "PyPI", "npm", "Go"}


def test_import_bundled_samples(tmp_path: Path) -> None:
    db_path = tmp_path / "demo" / "vulndb.sqlite"
    count = import_bundled_samples(db_path)
    assert count == len(bundled_advisories())
    assert import_bundled_samples(db_path) == count  # idempotent
    with VulnDB.open(db_path) as db:
        assert db.changed_packages() == frozenset()  # the second import changed nothing
        assert {a.id for a in db.lookup("Debian:12", "glibc")} == {"DEBIAN-CVE-2023-4911", "DEBIAN-CVE-2010-4756"}
        assert "PYSEC-2021-142" in {a.id for a in db.lookup("PyPI", "pyyaml")}
        kev = db.kev("CVE-2023-4911")
        assert kev is not None and kev.date_added == "2023-11-21"
        epss = db.epss("CVE-2023-4911")
        assert epss is not None and 0 < epss.epss <= 1
        assert {s.name for s in db.sources()} >= {SAMPLES_SOURCE}
