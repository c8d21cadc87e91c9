"""The sample advisories shipped for the offline demo, and how to import them.

``import_bundled_samples(db_path)`` loads ``shieldwall/data/advisories/*.json``
(OSV records written for the demo image) plus a KEV and an EPSS sample into
the database at ``db_path`` as three sources, atomically like any import.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from shieldwall.vulndb.importers.epss import iter_epss
from shieldwall.vulndb.importers.kev import parse_kev
from shieldwall.vulndb.model import Advisory, SourceInfo
from shieldwall.vulndb.osv import parse_osv_bytes
from shieldwall.vulndb.store import VulnDB

SAMPLES_SOURCE = "bundled-samples"
KEV_SAMPLE_SOURCE = "bundled-samples-kev"
EPSS_SAMPLE_SOURCE = "bundled-samples-epss"


def _data() -> Traversable:
    return resources.files("shieldwall.data")


def bundled_advisories() -> list[Advisory]:
    """Every bundled sample advisory, sorted by file name."""
    folder = _data() / "advisories"
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".json")), key=lambda f: f.name)
    out: list[Advisory] = []
    for f in files:
        out.extend(parse_osv_bytes(f.read_bytes(), f"shieldwall/data/advisories/{f.name}", source=SAMPLES_SOURCE))
    return out


def import_bundled_samples(db_path: Path) -> int:
    """Import the bundled sample advisories, KEV and EPSS samples into ``db_path``; returns the advisory count.

    Safe to call repeatedly: each call replaces the previous samples (and
    leaves any other imported feed alone).
    """
    advisories = bundled_advisories()
    prioritisation = _data() / "prioritisation"
    kev = parse_kev((prioritisation / "kev-sample.json").read_bytes(), "kev-sample.json")
    epss_data = (prioritisation / "epss-sample.csv").read_bytes()
    with VulnDB.build(db_path) as writer:
        writer.replace_source(SourceInfo(SAMPLES_SOURCE, url="shieldwall:data/advisories", kind="osv"), advisories)
        writer.replace_kev(SourceInfo(KEV_SAMPLE_SOURCE, url="shieldwall:data/prioritisation", kind="kev"), kev)
        writer.replace_epss(
            SourceInfo(EPSS_SAMPLE_SOURCE, url="shieldwall:data/prioritisation", kind="epss"),
            iter_epss(epss_data, "epss-sample.csv"),
        )
    return len(advisories)
