"""``shields`` filters and limits in the database: pages and the unshielded filter match the full list."""

from __future__ import annotations

import pytest

from helpers.store_data import CRITICAL_VECTOR, deb, image_result, osv, pypi, with_matches
from shieldwall.store import Store
from shieldwall.store.records import record_scan
from shieldwall.vpatch.catalog import build_catalog
from shieldwall.vpatch.recommend import recommendation_pass
from shieldwall.vpatch.views import set_assigned, shields

ADVISORIES = [
    osv("DSA-3032-1", "Debian:12", "bash", "5.2.15-3", cvss=CRITICAL_VECTOR, aliases=("CVE-2014-6271",)),
    osv("PYSEC-2021-66", "PyPI", "jinja2", "2.11.3", cvss=CRITICAL_VECTOR, aliases=("CVE-2020-28493",)),
]
VULNERABLE = (deb("bash", "5.2.15-2+b2"), pypi("Jinja2", "2.11.2"))


def test_pages_and_unshielded_filter_match_the_full_list(store: Store) -> None:
    for digest in ("aa", "bb", "cc"):
        record_scan(store, with_matches(image_result(digest, VULNERABLE), ADVISORIES), actor="ci")
    recommendation_pass(store, build_catalog(None))
    full = shields(store, limit=5000)
    assert len(full) == 6
    assert [v.finding_id for v in full] == sorted(v.finding_id for v in full)
    # shield the bash finding of the first asset only
    first_bash = next(v for v in full if "CVE-2014-6271" in v.cves)
    for rule in first_bash.rules:
        set_assigned(store, rule["id"], True, actor="alice")
    full = shields(store, limit=5000)
    assert [v.finding_id for v in full if v.shielded] == [first_bash.finding_id]
    paged = [v for offset in range(0, 6, 2) for v in shields(store, limit=2, offset=offset)]
    assert [v.to_dict() for v in paged] == [v.to_dict() for v in full]
    unshielded = [v.to_dict() for v in full if not v.shielded]
    assert [v.to_dict() for v in shields(store, only_unshielded=True, limit=5000)] == unshielded
    assert [v.to_dict() for v in shields(store, only_unshielded=True, limit=2)] == unshielded[:2]
    asset = first_bash.asset_id
    assert [v.to_dict() for v in shields(store, asset_id=asset, limit=5000)] == [
        v.to_dict() for v in full if v.asset_id == asset
    ]


def test_ips_page_is_paged(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    import re

    from fastapi.testclient import TestClient

    from shieldwall.api.app import create_app
    from shieldwall.api.dashboard import ips as ips_page
    from shieldwall.api.tokens import Role, create_token

    for digest in ("aa", "bb"):
        record_scan(store, with_matches(image_result(digest, VULNERABLE), ADVISORIES), actor="ci")
    full = [v.finding_id for v in shields(store, limit=5000)]
    monkeypatch.setattr(ips_page, "PAGE", 3)
    viewer = create_token(store, "v", Role.VIEWER).token
    client = TestClient(create_app(store), base_url="https://testserver")
    form = client.get("/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form)
    assert csrf
    client.post(
        "/login",
        data={"token": viewer, "csrf": csrf.group(1), "next": "/ips"},
        headers={"Origin": "https://testserver"},
        follow_redirects=False,
    )
    first = client.get("/ips").text
    second = client.get("/ips?offset=3").text
    ids = [int(i) for page in (first, second) for i in re.findall(r'data-finding-id="(\d+)"', page)]
    assert ids == full
    assert 'href="/ips?offset=3"' in first and "Next 3" not in second and 'href="/ips?offset=0"' in second
