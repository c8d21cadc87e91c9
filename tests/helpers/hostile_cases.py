"""The contract of each hostile kind: which target types it applies to and what the scan must end with."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from helpers import hostile_matrix as hm

IMAGE_TARGETS = ("docker", "docker-gz", "oci-dir", "oci-tar", "registry")
TREE_TARGETS = (*IMAGE_TARGETS, "dir")
SBOM_TARGETS = ("sbom",)


@dataclass(frozen=True)
class Expect:
    """The contract for one kind: ``code`` 2 with ``text`` in the diagnosis, or 0 with ``text`` in a warning."""

    code: int
    text: str = ""
    fmt: str = "json"
    check: Callable[[str], None] | None = None


def _no_escape_codes(stdout: str) -> None:
    assert "\x1b" not in stdout and "\x07" not in stdout and "\u202e" not in stdout, (
        "raw control text reached the terminal"
    )


def _escaped_bytes(stdout: str) -> None:
    paths = [f["location"]["path"] for f in json.loads(stdout)["findings"] if f["kind"] == "secret"]
    assert "/app/\\xff\\xfe-caf\\xe9.env" in paths, paths


def _not_followed(stdout: str) -> None:
    paths = [f["location"]["path"] for f in json.loads(stdout)["findings"] if f["kind"] == "secret"]
    assert not [p for p in paths if "creds.env" in p], "a symlink out of the root was followed"


IMAGE_KINDS: dict[str, tuple[Callable[[Path], hm.Hostile], tuple[str, ...], Expect]] = {
    "traversal": (hm.traversal, IMAGE_TARGETS, Expect(2, "escapes")),
    "hardlink-escape": (hm.hardlink_escape, IMAGE_TARGETS, Expect(2, "escapes")),
    "symlink-escape": (hm.symlink_escape, TREE_TARGETS, Expect(0, check=_not_followed)),
    "non-utf8-names": (hm.non_utf8_names, TREE_TARGETS, Expect(0, check=_escaped_bytes)),
    "markup-names": (hm.markup_names, TREE_TARGETS, Expect(0, fmt="table", check=_no_escape_codes)),
    "huge-pax-header": (hm.huge_pax, IMAGE_TARGETS, Expect(2, "PAX header")),
    "huge-gnu-long-name": (hm.huge_long_name, IMAGE_TARGETS, Expect(2, "long name")),
    "sparse-bomb": (hm.sparse_bomb, IMAGE_TARGETS, Expect(2, "sparse bomb")),
    "secret-flood": (hm.secret_flood, TREE_TARGETS, Expect(0, "cut short")),
    "planted-secrets": (hm.planted_secrets, TREE_TARGETS, Expect(0)),
    "deep-lock-json": (hm.deep_lock_json, TREE_TARGETS, Expect(0, "package-lock.json")),
    "deep-pom-xml": (hm.deep_pom_xml, TREE_TARGETS, Expect(0)),
    "xml-entities": (hm.xml_entities, TREE_TARGETS, Expect(0)),
    "wrong-type-locks": (hm.wrong_type_lock, TREE_TARGETS, Expect(0)),
    "recursive-rpmdb-view": (hm.recursive_rpmdb, TREE_TARGETS, Expect(0, "rpmdb.sqlite")),
    "deep-config": (hm.deep_config, IMAGE_TARGETS, Expect(2, "config")),
    "wrong-type-config": (hm.wrong_type_config, IMAGE_TARGETS, Expect(2, "diff_ids")),
    "not-json-config": (hm.not_json_config, IMAGE_TARGETS, Expect(2, "config")),
    "wrong-type-repotags": (hm.wrong_type_tags, ("docker", "docker-gz"), Expect(2, "RepoTags")),
    "layer-listed-512-times": (hm.layer_listed_512_times, IMAGE_TARGETS, Expect(0)),
    "layers-past-the-limit": (hm.layers_past_the_limit, IMAGE_TARGETS, Expect(2, "512")),
    "reversed-gzip-layers": (hm.reversed_layers, ("docker-gz-reversed",), Expect(0)),
    "diff-id-mismatch": (hm.diff_id_mismatch, IMAGE_TARGETS, Expect(2, "diff")),
    "empty-diff-id": (hm.empty_diff_id, IMAGE_TARGETS, Expect(2, "diff")),
    "decompression-bomb": (hm.decompression_bomb, ("docker-gz", "oci-dir", "oci-tar", "registry"), Expect(2, "")),
}

SBOM_KINDS: dict[str, tuple[str, Callable[[Path], bytes], Expect]] = {
    "sbom-deep-cdx-json": ("bom.cdx.json", hm.sbom_deep_cdx_json, Expect(2, "bom.cdx.json")),
    "sbom-deep-cdx-xml": ("bom.cdx.xml", hm.sbom_deep_cdx_xml, Expect(2, "bom.cdx.xml")),
    "sbom-entities-cdx-xml": ("bom.cdx.xml", hm.sbom_entities_cdx_xml, Expect(2, "bom.cdx.xml")),
    "sbom-deep-spdx-json": ("bom.spdx.json", hm.sbom_deep_spdx_json, Expect(2, "bom.spdx.json")),
    "sbom-wrong-types-cdx": ("bom.cdx.json", hm.sbom_wrong_types_cdx, Expect(2, "components must be a list")),
    "sbom-wrong-items-cdx": ("bom.cdx.json", hm.sbom_wrong_items_cdx, Expect(0)),
    "sbom-wrong-types-spdx": ("bom.spdx.json", hm.sbom_wrong_types_spdx, Expect(2, "packages must be a list")),
    "sbom-too-many-components": ("bom.cdx.json", hm.sbom_too_many, Expect(2, "250000")),
    "sbom-oversize": ("bom.cdx.json", hm.sbom_oversize, Expect(2, "bom.cdx.json")),
    "sbom-junk-tag-value": ("bom.spdx", hm.sbom_junk_tag_value, Expect(2, "bom.spdx")),
    "sbom-markup-names": ("bom.cdx.json", hm.sbom_markup_names, Expect(0, fmt="table", check=_no_escape_codes)),
    "sbom-non-utf8-tag-value": ("bom.spdx", hm.sbom_non_utf8_tag_value, Expect(2, "utf-8")),
}
