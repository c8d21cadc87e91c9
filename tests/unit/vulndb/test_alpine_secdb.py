"""Alpine secdb secfixes to advisories."""

from __future__ import annotations

from pathlib import Path

import pytest

from shieldwall.errors import CorruptInputError
from shieldwall.vulndb.importers.alpine import iter_alpine_secdb, parse_secdb
from shieldwall.vulndb.model import RangeEvent, RangeType

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "vulndb" / "alpine"


def test_directory_of_branches_groups_by_vulnerability() -> None:
    warnings: list[str] = []
    advisories = {a.id: a for a in iter_alpine_secdb(FIXTURES, warnings, source="t")}
    assert warnings == []
    assert sorted(advisories) == ["ALPINE-CVE-2099-0100", "ALPINE-CVE-2099-0101", "ALPINE-CVE-2099-0102"]
    shared = advisories["ALPINE-CVE-2099-0100"]
    assert shared.aliases == ("CVE-2099-0100",)
    entries = [(a.ecosystem, a.name, a.ranges[0].events[-1].fixed) for a in shared.affected]
    assert entries == [
        ("Alpine:v3.18", "examplessl", "3.1.3-r5"),
        ("Alpine:v3.19", "examplessl", "3.1.4-r1"),
        ("Alpine:v3.19", "exampletool", "2.0_p1-r3"),
    ]
    rng = shared.affected[0].ranges[0]
    assert rng.type is RangeType.ECOSYSTEM and rng.events[0] == RangeEvent(introduced="0")
    assert advisories["ALPINE-CVE-2099-0101"].aliases == ("CVE-2099-0101", "XSA-999")
    # "CVE_2099-0102" is read as the CVE id it means; 1.10.0 stays a string
    assert advisories["ALPINE-CVE-2099-0102"].affected[0].ranges[0].events[1].fixed == "1.10.0-r0"
    # the "0" key (never affected) produced nothing
    assert all("CVE-2099-0103" not in a.aliases for a in advisories.values())
    assert shared.references == ("https://security.alpinelinux.org/vuln/CVE-2099-0100",)
    assert shared.affected[0].purl == "pkg:apk/alpine/examplessl"


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ([], "expected a mapping"),
        ({"packages": []}, "distroversion"),
        ({"distroversion": "3.19", "packages": []}, "distroversion"),
        ({"distroversion": "v3.19", "packages": {"pkg": {}}}, "must be a list"),
        ({"distroversion": "v3.19", "packages": [{"pkg": {"secfixes": {}}}]}, "pkg.name"),
        ({"distroversion": "v3.19", "packages": [{"pkg": {"name": "x", "secfixes": ["CVE-1"]}}]}, "mapping"),
        ({"distroversion": "v3.19", "packages": [{"pkg": {"name": "x", "secfixes": {"1-r0": "CVE-1"}}}]}, "list"),
    ],
)
def test_malformed_documents(doc: object, message: str) -> None:
    with pytest.raises(CorruptInputError, match=message):
        parse_secdb(doc, "main.yaml")


def test_a_broken_file_is_skipped_with_a_warning(tmp_path: Path) -> None:
    (tmp_path / "v3.19").mkdir()
    (tmp_path / "v3.19" / "main.yaml").write_text((FIXTURES / "v3.19" / "main.yaml").read_text())
    (tmp_path / "v3.19" / "community.yaml").write_text("distroversion: [broken")
    warnings: list[str] = []
    advisories = list(iter_alpine_secdb(tmp_path, warnings))
    assert len(advisories) == 3
    assert len(warnings) == 1 and "community.yaml" in warnings[0]


def test_real_secdb(shared_data: Path) -> None:
    warnings: list[str] = []
    advisories = list(iter_alpine_secdb(shared_data / "advisories" / "alpine-secdb", warnings))
    assert warnings == []
    fixes = sum(len(a.affected) for a in advisories)
    branches = {a.ecosystem for adv in advisories for a in adv.affected}
    assert branches == {f"Alpine:v3.{n}" for n in range(3, 12)}
    assert len(advisories) > 2000 and fixes > 10000
    # every fixed version is a non-empty string and never the "0" marker
    assert all(r.events[1].fixed not in ("", "0") for adv in advisories for a in adv.affected for r in a.ranges)
    print(f"alpine-secdb: {len(advisories)} advisories, {fixes} (branch, package, fix) entries")
