"""Fuzz ``read_sbom``: mutations of small valid CycloneDX (JSON, XML) and SPDX (JSON, tag-value, YAML) documents.

The only acceptable failure is an ``InputError`` (exit 2, one-line diagnosis).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import example, given
from hypothesis import strategies as st

from fuzz.fuzzkit import FUZZ, JSONISH, deep, junk_lines, mutated, mutated_bytes
from shieldwall.errors import InputError
from shieldwall.target.sbom import read_sbom

pytestmark = pytest.mark.slow  # bounded (150 examples per property) and run by `make test`

SBOMS = Path(__file__).parents[1] / "fixtures" / "sbom"
CDX_JSON = json.loads((SBOMS / "cyclonedx-small.json").read_text())
SPDX_JSON = json.loads((SBOMS / "spdx-small.spdx.json").read_text())
SPDX_LENIENT = json.loads((SBOMS / "spdx-lenient.json").read_text())
SPDX_YAML = yaml.safe_load((SBOMS / "spdx-small.spdx.yaml").read_text())
TEXTS = {
    name: (SBOMS / name).read_text()
    for name in ("cyclonedx-small.xml", "spdx-small.spdx", "spdx-small.spdx.yaml", "cyclonedx-small.json")
}


def read_ok(data: bytes, name: str = "sbom") -> None:
    """``read_sbom`` succeeds or raises ``InputError``; a result has packages that are ``Package`` objects."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        try:
            result = read_sbom(path)
        except InputError as exc:
            assert str(exc).strip(), "an InputError must carry a diagnosis"
            return
        name_, packages, _os = result
        assert isinstance(name_, str)
        assert all(hasattr(p, "purl") for p in packages)


def _json(doc: Any) -> bytes:
    if isinstance(doc, bytes):
        return doc
    try:
        return json.dumps(doc).encode()
    except (ValueError, RecursionError):
        return b"{}"


def test_seeds_read() -> None:
    """Every seed is a readable SBOM with packages."""
    for name in ("cyclonedx-small.json", "cyclonedx-small.xml", "spdx-small.spdx", "spdx-small.spdx.json"):
        assert read_sbom(SBOMS / name)[1], name
    assert read_sbom(SBOMS / "spdx-small.spdx.yaml")[1]


@FUZZ
@given(mutated(CDX_JSON, budget=4))
@example({"bomFormat": "CycloneDX", "specVersion": "1.5", "components": 5})
@example({"bomFormat": "CycloneDX", "components": [{"purl": 7, "name": [], "version": {}}]})
@example({"bomFormat": "CycloneDX", "components": [{"components": [{"components": None}]}]})
def test_cyclonedx_json(doc: Any) -> None:
    """CycloneDX JSON with fields dropped, replaced by any type, or extra ones."""
    read_ok(_json(doc), "bom.json")


@FUZZ
@given(st.sampled_from([SPDX_JSON, SPDX_LENIENT]).flatmap(lambda d: mutated(d, budget=4)))
@example({"spdxVersion": "SPDX-2.3", "packages": "x"})
@example({"spdxVersion": 2, "SPDXID": "SPDXRef-DOCUMENT", "packages": [{"externalRefs": [1]}]})
def test_spdx_json(doc: Any) -> None:
    """SPDX JSON (strict and lenient seeds) with fields dropped or replaced."""
    read_ok(_json(doc), "sbom.spdx.json")


@FUZZ
@given(mutated(SPDX_YAML, budget=4))
def test_spdx_yaml(doc: Any) -> None:
    """SPDX YAML with fields dropped or replaced (re-serialised as YAML)."""
    try:
        text = yaml.safe_dump(doc)
    except (yaml.YAMLError, RecursionError):
        return
    if "spdxVersion:" not in text:
        text = "spdxVersion: SPDX-2.3\n" + text
    read_ok(text.encode(), "sbom.spdx.yaml")


@FUZZ
@given(st.sampled_from(sorted(TEXTS)).flatmap(lambda name: st.tuples(st.just(name), junk_lines(TEXTS[name]))))
@example(("spdx-small.spdx", "SPDXVersion: SPDX-2.3\nPackageName: a\nPackageVersion: <text>\n"))
@example(("cyclonedx-small.xml", '<?xml version="1.0"?><bom xmlns="http://cyclonedx.org/schema/bom/1.5"><components>'))
def test_text_formats_junk_lines(case: tuple[str, str]) -> None:
    """XML, tag-value, YAML and JSON texts with lines dropped, cut, duplicated or replaced by junk."""
    name, text = case
    read_ok(text.encode(), name)


@FUZZ
@given(st.sampled_from(sorted(TEXTS)).flatmap(lambda name: mutated_bytes(TEXTS[name].encode())))
def test_text_formats_byte_flips(data: bytes) -> None:
    """Byte-level damage (invalid UTF-8 included) to every seed."""
    read_ok(data)


@FUZZ
@given(JSONISH)
def test_arbitrary_json_shaped_as_sbom(value: Any) -> None:
    """Arbitrary JSON under a CycloneDX or SPDX marker."""
    for wrapper in ({"bomFormat": "CycloneDX", "components": value}, {"spdxVersion": "SPDX-2.3", "packages": value}):
        read_ok(_json(wrapper), "bom.json")
    read_ok(_json(value), "bom.json")


def test_deep_nesting() -> None:
    """JSON nested 100,000 deep at the top level and under each format's marker."""
    nested = deep(100_000)
    read_ok(nested, "bom.json")
    read_ok(b'{"bomFormat": "CycloneDX", "components": ' + nested + b"}", "bom.json")
    read_ok(b'{"spdxVersion": "SPDX-2.3", "packages": ' + nested + b"}", "bom.json")
    read_ok(b"spdxVersion: SPDX-2.3\npackages: " + b"[" * 100_000 + b"\n", "bom.spdx.yaml")
    read_ok(b"<bom>" + b"<a>" * 100_000, "bom.xml")
