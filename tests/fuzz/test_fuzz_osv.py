"""Fuzz the OSV importer on generated records (JSON and YAML).

``parse_osv_bytes`` either returns advisories or raises ``CorruptInputError`` /
``FileTooLargeError``, which the feed importer turns into a warning for that
file (checked end to end through ``iter_osv_dir``) while the other files are
still imported.
"""

from __future__ import annotations

import copy
import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import example, given
from hypothesis import strategies as st

from fuzz.fuzzkit import FUZZ, JSONISH, deep, junk_lines, mutated, mutated_bytes
from shieldwall.errors import CorruptInputError, FileTooLargeError
from shieldwall.vulndb.importers.osv_feed import iter_osv_dir
from shieldwall.vulndb.osv import parse_osv_bytes

pytestmark = pytest.mark.slow  # bounded (150 examples per property) and run by `make test`

OSV = Path(__file__).parents[1] / "fixtures" / "vulndb" / "osv"
GO = json.loads((OSV / "EXAMPLE-GO-0001.json").read_text())
DEB = json.loads((OSV / "EXAMPLE-DEB-0001.json").read_text())
PY_TEXT = (OSV / "EXAMPLE-PY-0001.yaml").read_text()


def parse_ok(data: bytes, name: str) -> None:
    """Advisories, or one of the two errors the importer records as a warning."""
    try:
        advisories = parse_osv_bytes(data, name, source="fuzz")
    except (CorruptInputError, FileTooLargeError):
        return
    for advisory in advisories:
        assert isinstance(advisory.id, str) and advisory.id
        for affected in advisory.affected:
            assert isinstance(affected.ranges, tuple)


def _json(doc: Any) -> bytes:
    try:
        return json.dumps(doc).encode()
    except (ValueError, RecursionError):
        return b"{}"


def test_seeds_parse() -> None:
    """The seeds are valid records."""
    for path in sorted(OSV.iterdir()):
        assert parse_osv_bytes(path.read_bytes(), path.name), path.name


@FUZZ
@given(st.sampled_from([GO, DEB]).flatmap(lambda d: mutated(copy.deepcopy(d), budget=5)))
@example({"id": "X", "affected": [{"ranges": [{"type": "SEMVER", "events": [{"fixed": 5}]}]}]})
@example({"id": "X", "affected": [{"package": "pkg", "versions": {}}]})
@example({"id": "X", "severity": [{"type": None, "score": []}], "references": [None, 1]})
@example({"vulns": [1, {"id": []}]})
def test_json_records(doc: Any) -> None:
    """OSV JSON records with fields dropped, replaced by any type, or added."""
    parse_ok(_json(doc), "record.json")
    parse_ok(_json([doc, doc]), "records.json")
    parse_ok(_json({"vulns": [doc]}), "api.json")


@FUZZ
@given(st.sampled_from([GO, DEB]).flatmap(lambda d: mutated(copy.deepcopy(d), budget=5)))
def test_yaml_records(doc: Any) -> None:
    """The same mutations serialised as YAML (the importer reads every scalar as a string)."""
    try:
        text = yaml.safe_dump(doc, allow_unicode=True)
    except (yaml.YAMLError, RecursionError):
        return
    parse_ok(text.encode(), "record.yaml")


@FUZZ
@given(junk_lines(PY_TEXT))
@example("id: X\naffected: &a [*a]\n")
@example("id: X\nmodified: !!python/object:os.system ls\n")
def test_yaml_text_junk(text: str) -> None:
    """The YAML seed with lines dropped, cut or replaced; anchors and tags included."""
    parse_ok(text.encode(), "record.yaml")


@FUZZ
@given(st.sampled_from([(OSV / "EXAMPLE-GO-0001.json").read_bytes(), PY_TEXT.encode()]).flatmap(mutated_bytes))
def test_byte_flips(data: bytes) -> None:
    """Byte-level damage to a JSON and a YAML record."""
    parse_ok(data, "record.json" if data.lstrip().startswith(b"{") else "record.yaml")


@FUZZ
@given(JSONISH)
def test_arbitrary_json(value: Any) -> None:
    """Any JSON value as a record, and under ``affected``."""
    parse_ok(_json(value), "record.json")
    parse_ok(_json({"id": "X", "affected": value}), "record.json")


def test_deep_nesting() -> None:
    """Records nested 100,000 deep, in JSON and YAML."""
    parse_ok(deep(100_000), "record.json")
    parse_ok(b'{"id": "X", "affected": ' + deep(100_000) + b"}", "record.json")
    parse_ok(b"id: X\naffected: " + b"[" * 100_000 + b"\n", "record.yaml")


@FUZZ
@given(st.lists(st.sampled_from([GO, DEB]).flatmap(lambda d: mutated(copy.deepcopy(d), budget=3)), max_size=4))
def test_feed_directory_turns_bad_records_into_warnings(docs: list[Any]) -> None:
    """Through the importer: a bad file is one warning, the good ones are still imported."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "good.json").write_text(json.dumps(GO))
        for index, doc in enumerate(docs):
            (root / f"fuzz-{index}.json").write_bytes(_json(doc))
        warnings: list[str] = []
        ids = [a.id for a in iter_osv_dir(root, warnings, source="fuzz")]
        assert GO["id"] in ids
        assert all(isinstance(w, str) and w for w in warnings)
