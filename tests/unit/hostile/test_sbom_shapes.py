"""An SBOM whose component or package list is not a list is malformed (exit 2), never an empty, passing scan.

Before, ``"components": 5`` or ``"packages": {}`` read as "no packages" and the
scan passed: a result not computed. Items of a wrong type inside a real list
are still skipped (the lenient reading the SBOM tests pin down).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shieldwall.errors import CorruptInputError
from shieldwall.target.sbom import read_sbom


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({"bomFormat": "CycloneDX", "specVersion": "1.5", "components": 5}, "components must be a list, not int"),
        ({"bomFormat": "CycloneDX", "specVersion": "1.5", "components": {"a": 1}}, "components must be a list"),
        (
            {"bomFormat": "CycloneDX", "specVersion": "1.5", "metadata": {"component": {"components": "x"}}},
            "metadata.component.components must be a list, not str",
        ),
        ({"spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT", "packages": {"a": 1}}, "packages must be a list"),
        ({"spdxVersion": "SPDX-2.3", "packages": "p"}, "packages must be a list, not str"),
    ],
)
def test_a_list_of_the_wrong_type_is_refused_naming_the_field(tmp_path: Path, doc: object, field: str) -> None:
    path = tmp_path / "bom.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(CorruptInputError, match=field.replace("[", r"\[").replace(".", r"\.")):
        read_sbom(path)


def test_absent_lists_are_an_empty_document(tmp_path: Path) -> None:
    path = tmp_path / "bom.json"
    path.write_text(json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.5"}))
    _, packages, _ = read_sbom(path)
    assert packages == ()
