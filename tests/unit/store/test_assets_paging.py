"""``list_assets`` pages in the database; ``count_assets`` counts what the unpaged list holds."""

from __future__ import annotations

import pytest

from helpers.store_data import CRITICAL_VECTOR, image_result, osv, pypi, with_matches
from shieldwall.store import Store
from shieldwall.store.queries import count_assets, list_assets
from shieldwall.store.records import record_scan

ADVISORIES = [osv("PYSEC-2021-66", "PyPI", "jinja2", "2.11.3", cvss=CRITICAL_VECTOR, aliases=("CVE-2020-28493",))]


def test_pages_concatenate_to_the_full_list(store: Store) -> None:
    for n, digest in enumerate(("aa", "bb", "cc", "dd", "ee")):
        packages = (pypi("Jinja2", "2.11.2"),) if n % 2 == 0 else (pypi("Jinja2", "3.1.4"),)
        record_scan(store, with_matches(image_result(digest, packages, tag=f"t{n}"), ADVISORIES), actor="ci")
    full = list_assets(store)
    assert len(full) == 5 == count_assets(store)
    assert sorted(a.open_findings for a in full) == [0, 0, 1, 1, 1]
    paged = [a for offset in range(0, 6, 2) for a in list_assets(store, limit=2, offset=offset)]
    assert paged == full
    assert count_assets(store, kind="image") == 5 and count_assets(store, kind="host") == 0
    assert list_assets(store, kind="host", limit=10) == []
    with pytest.raises(ValueError):
        list_assets(store, golden=True, limit=1)
