"""OSV records to Advisory values: lenient on optional fields, strict on structure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shieldwall.errors import CorruptInputError
from shieldwall.vulndb.model import RangeEvent, RangeType, Severity
from shieldwall.vulndb.osv import load_osv_path, parse_osv, parse_osv_bytes

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "vulndb" / "osv"


def test_yaml_record_keeps_every_scalar_a_string() -> None:
    (advisory,) = load_osv_path(FIXTURES / "EXAMPLE-PY-0001.yaml")
    assert advisory.id == "EXAMPLE-PY-0001"
    assert advisory.modified == "2024-03-01T10:00:00Z"  # not a datetime
    affected = advisory.affected[0]
    assert (affected.ecosystem, affected.name, affected.purl) == ("PyPI", "Example_Package", "pkg:pypi/example-package")
    assert affected.versions == ("1.0", "1.9", "1.09")  # not floats
    ecosystem_range, git_range = affected.ranges  # the unknown range type is dropped
    assert ecosystem_range.type is RangeType.ECOSYSTEM
    assert ecosystem_range.events == (RangeEvent(introduced="0"), RangeEvent(fixed="1.10"))
    assert git_range.type is RangeType.GIT and git_range.repo == "https://example.invalid/repo.git"
    assert advisory.severity == (Severity("CVSS_V3", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"),)
    assert advisory.database_specific_severity == "HIGH"
    assert advisory.details == "Multi-line details\nstay as written."
    assert advisory.references == ("https://example.invalid/advisory",)
    specific = dict(affected.ecosystem_specific)
    assert specific["severity"] == "HIGH"
    assert json.loads(specific["imports"]) == [{"path": "example.mod", "symbols": ["f"]}]
    assert dict(advisory.extra)["cwe_ids"] == '["CWE-79"]'


def test_json_record_with_last_affected_and_database_url() -> None:
    (advisory,) = load_osv_path(FIXTURES / "EXAMPLE-GO-0001.json")
    events = advisory.affected[0].ranges[0].events
    assert events[-1] == RangeEvent(last_affected="1.3.4")
    assert dict(advisory.extra) == {"schema_version": "1.3.1", "url": "https://example.invalid/GO-0001"}


def test_minimal_record_is_valid() -> None:
    advisory = parse_osv({"id": "X-1"}, source="s")
    assert (advisory.id, advisory.affected, advisory.source) == ("X-1", (), "s")


def test_lists_and_api_envelopes() -> None:
    both = json.dumps([{"id": "A"}, {"id": "B"}]).encode()
    assert [a.id for a in parse_osv_bytes(both, "x.json")] == ["A", "B"]
    envelope = json.dumps({"vulns": [{"id": "C"}]}).encode()
    assert [a.id for a in parse_osv_bytes(envelope, "x.json")] == ["C"]


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"summary": "no id"}, "missing id"),
        ({"id": "X", "affected": {"package": {}}}, "affected must be a list"),
        ({"id": "X", "affected": [{"ranges": "nope"}]}, "ranges must be a list"),
        ({"id": "X", "affected": [{"ranges": [{"type": "SEMVER", "events": [["introduced", "0"]]}]}]}, "mapping"),
        ({"id": "X", "aliases": "CVE-1"}, "aliases must be a list"),
        ({"id": {"nested": 1}}, "id must be a string"),
    ],
)
def test_malformed_structure_names_the_file(tmp_path: Path, doc: object, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(CorruptInputError, match=message) as info:
        load_osv_path(path)
    assert "bad.json" in str(info.value)


def test_parse_osv_rejects_non_mapping() -> None:
    with pytest.raises(CorruptInputError, match="mapping"):
        parse_osv(["not", "a", "record"])  # type: ignore[arg-type]


def test_invalid_json_and_yaml_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text("{nope")
    (tmp_path / "b.yaml").write_text("id: [unclosed")
    for name in ("a.json", "b.yaml"):
        with pytest.raises(CorruptInputError, match=name):
            load_osv_path(tmp_path / name)


def test_yaml_aliases_are_refused(tmp_path: Path) -> None:
    bomb = "a: &a [x, x, x]\nb: &b [*a, *a, *a]\nid: X\naffected: [*b, *b]\n"
    (tmp_path / "bomb.yaml").write_text(bomb)
    with pytest.raises(CorruptInputError, match="aliases"):
        load_osv_path(tmp_path / "bomb.yaml")


def test_yaml_tags_are_never_acted_on(tmp_path: Path) -> None:
    text = "id: !!python/object/apply:os.system ['echo pwned']\n"
    (tmp_path / "tag.yaml").write_text(text)
    with pytest.raises(CorruptInputError, match="id must be a string"):
        load_osv_path(tmp_path / "tag.yaml")
    (tmp_path / "ok.yaml").write_text("id: !!str X-1\nsummary: !custom hello\n")
    (advisory,) = load_osv_path(tmp_path / "ok.yaml")
    assert (advisory.id, advisory.summary) == ("X-1", "hello")
