"""The YAML loader: line numbers, several documents, hostile input refused."""

from __future__ import annotations

import pytest

from shieldwall.analyze.base import AnalyzerError
from shieldwall.misconfig.yamlload import YamlList, YamlMap, load_documents

POD = """# header
apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  containers:
    - name: app
      image: nginx:1.25
      securityContext:
        privileged: true
---
kind: ConfigMap
when: 2024-01-01
"""


def test_mappings_and_lists_know_their_lines() -> None:
    first, second = load_documents(POD, "pod.yaml")
    assert isinstance(first, YamlMap)
    assert (first.start, first.end) == (2, 11)
    assert first.lines_of("spec") == (6, 11)
    containers = first["spec"]["containers"]
    assert isinstance(containers, YamlList)
    assert containers.lines_of(0) == (8, 11)
    assert containers[0]["securityContext"].lines_of("privileged") == (11, 11)
    assert second["when"] == "2024-01-01"  # timestamps stay text


def test_absent_key_falls_back_to_the_mapping() -> None:
    (doc,) = load_documents("a: 1\nb:\n  c: 2\n", "x")
    assert doc["b"].lines_of("missing") == (3, 3)


def test_aliases_are_allowed_within_bounds() -> None:
    (doc,) = load_documents("base: &b {x: 1}\nuse: *b\n", "compose.yml")
    assert doc["use"] == {"x": 1}


def _bomb(levels: int) -> str:
    text = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n'
    previous = "a"
    for name in "bcdefghij"[:levels]:
        text += f"{name}: &{name} [" + ",".join(["*" + previous] * 9) + "]\n"
        previous = name
    return text


def test_alias_bomb_is_refused() -> None:
    with pytest.raises(AnalyzerError, match="alias bomb"):
        load_documents(_bomb(8), "bomb.yaml")


def test_small_alias_fanout_is_fine() -> None:
    assert load_documents(_bomb(2), "ok.yaml")


@pytest.mark.parametrize("text", ["a: &x [1, *x]\n", "a: &x {b: *x}\n"])
def test_self_referencing_alias_is_refused(text: str) -> None:
    with pytest.raises(AnalyzerError, match="refers to itself"):
        load_documents(text, "loop.yaml")


@pytest.mark.parametrize("text", ["a: [1, 2\n", "a: b: c\n", "? [1]\n: x\n"])
def test_malformed_yaml_is_an_analyzer_error(text: str) -> None:
    with pytest.raises(AnalyzerError):
        load_documents(text, "bad.yaml")


def test_python_tags_are_not_constructed() -> None:
    with pytest.raises(AnalyzerError):
        load_documents("a: !!python/object/apply:os.system ['true']\n", "evil.yaml")
