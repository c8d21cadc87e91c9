"""Virtual patching: recommendations follow open findings; fixed findings lose them and their rules."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from helpers.store_data import CRITICAL_VECTOR, deb, image_result, osv, pypi, with_matches
from shieldwall.agent.events import AgentEvent
from shieldwall.agent.modules.ips.rules import parse_rule
from shieldwall.model.finding import Severity
from shieldwall.store import Store
from shieldwall.store.records import record_scan
from shieldwall.vpatch.catalog import build_catalog
from shieldwall.vpatch.events import list_events, record_events
from shieldwall.vpatch.recommend import SETTING, recommendation_pass
from shieldwall.vpatch.views import policy_section, set_assigned, shields

ADVISORIES = [
    osv("DSA-3032-1", "Debian:12", "bash", "5.2.15-3", cvss=CRITICAL_VECTOR, aliases=("CVE-2014-6271",)),
    osv("PYSEC-2021-66", "PyPI", "jinja2", "2.11.3", cvss=CRITICAL_VECTOR, aliases=("CVE-2020-28493",)),
]
VULNERABLE = (deb("bash", "5.2.15-2+b2"), pypi("Jinja2", "2.11.2"))
PATCHED = (deb("bash", "5.2.15-3"), pypi("Jinja2", "2.11.2"))


def _by_cve(store: Store) -> dict[str, object]:
    return {v.cves[0]: v for v in shields(store)}


def test_catalog_from_the_pack_knows_the_shipped_cves() -> None:
    catalog = build_catalog(None)
    for cve in ("CVE-2021-44228", "CVE-2014-6271", "CVE-2021-41773", "CVE-2022-22965", "CVE-2017-5638"):
        assert catalog.rules_for(cve), cve
    assert all(r.source == "shieldwall" for r in catalog.rules_for("CVE-2014-6271"))
    assert catalog.rules_for("CVE-2020-28493") == ()


def test_catalog_with_et_open(shared_data: Path) -> None:
    catalog = build_catalog(shared_data / "ids" / "et-open" / "rules")
    sids = {r.sid for r in catalog.rules_for("CVE-2021-44228")}
    assert {2034722, 2034747, 1995001} <= sids
    assert {2034124, 2034125, 2034128} <= {r.sid for r in catalog.rules_for("CVE-2021-41773")}
    assert catalog.rules_for("CVE-2021-44228")[0].source == "shieldwall"


def test_recommend_assign_and_unassign_when_patched(store: Store) -> None:
    record_scan(store, with_matches(image_result("aa", VULNERABLE), ADVISORIES), actor="ci")
    catalog = build_catalog(None)
    first = recommendation_pass(store, catalog)
    assert first.findings == 2 and first.created == len(catalog.rules_for("CVE-2014-6271"))
    views = _by_cve(store)
    shellshock, jinja = views["CVE-2014-6271"], views["CVE-2020-28493"]
    assert not shellshock.shielded and shellshock.summary.startswith("no network shield (recommended")  # type: ignore[attr-defined]
    assert jinja.summary == "no network shield" and not jinja.rules  # type: ignore[attr-defined]
    # a second pass changes nothing
    assert recommendation_pass(store, catalog).created == 0
    for rule in shellshock.rules:  # type: ignore[attr-defined]
        set_assigned(store, rule["id"], True, actor="alice")
    shellshock = _by_cve(store)["CVE-2014-6271"]
    assert shellshock.shielded and shellshock.summary.startswith("shielded by rules 1995010")  # type: ignore[attr-defined]
    assert shellshock.summary.endswith("(Prevent)")  # type: ignore[attr-defined]
    asset_id = shellshock.asset_id  # type: ignore[attr-defined]
    section = policy_section(store, asset_id)
    assert 1995010 in section["virtual_patches"] and section["rule_modes"]["1995010"] == "prevent"
    # the package is patched: the recommendation and the assignment go away
    record_scan(store, with_matches(image_result("aa", PATCHED), ADVISORIES), actor="ci")
    after = recommendation_pass(store, catalog)
    assert after.removed == first.created and after.unassigned == first.created
    assert "CVE-2014-6271" not in _by_cve(store)
    assert policy_section(store, asset_id)["virtual_patches"] == []


def test_auto_assign_setting(store: Store) -> None:
    store.put_setting(SETTING, {"auto_assign": True, "mode": "detect"})
    record_scan(store, with_matches(image_result("bb", VULNERABLE), ADVISORIES), actor="ci")
    recommendation_pass(store, build_catalog(None))
    view = _by_cve(store)["CVE-2014-6271"]
    assert view.shielded and view.summary.endswith("(Detect)")  # type: ignore[attr-defined]
    assert {r["mode"] for r in view.rules} == {"detect"}  # type: ignore[attr-defined]


def test_ips_events_are_recorded_once(store: Store) -> None:
    record_scan(store, with_matches(image_result("cc", VULNERABLE), ADVISORIES), actor="ci")
    asset_id = shields(store)[0].asset_id
    rule = parse_rule('alert http any any -> any any (msg:"x"; sid:1995001;)')
    assert rule is not None
    event = AgentEvent(
        module="ips",
        kind="ips.drop",
        severity=Severity.HIGH,
        summary="Blocked",
        attributes={
            "sid": 1995001,
            "msg": "SHIELDWALL Log4Shell",
            "cves": ["CVE-2021-44228"],
            "src_ip": "10.0.0.1",
            "src_port": 4000,
            "dest_ip": "10.0.0.2",
            "dest_port": 80,
            "action": "blocked",
        },
        observed_at=dt.datetime(2026, 12, 7, tzinfo=dt.UTC),
    ).to_wire()
    alert = {**event, "key": "k2", "kind": "ips.alert"}
    assert record_events(store, asset_id, [event, event, alert, {"kind": "fim.modified", "key": "x"}]) == 2
    assert record_events(store, asset_id, [event]) == 0
    blocked = list_events(store)
    assert len(blocked) == 1 and blocked[0]["sid"] == 1995001 and blocked[0]["dest"] == "10.0.0.2:80"
    assert blocked[0]["cves"] == ["CVE-2021-44228"]
    assert len(list_events(store, kind=None)) == 2
