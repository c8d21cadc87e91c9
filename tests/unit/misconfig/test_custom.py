"""Custom YAML checks and their condition language; plugin checks; check IDs stay unique."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from helpers.misconfig import parse
from shieldwall.errors import ConfigError
from shieldwall.misconfig import registry
from shieldwall.misconfig.check import Check, InputKind
from shieldwall.misconfig.custom import compile_condition, load_directory, load_yaml_checks, parse_path, select
from shieldwall.misconfig.engine import run_checks
from shieldwall.misconfig.registry import CheckConfig, assemble, load_checks
from shieldwall.misconfig.yamlload import load_documents
from shieldwall.model import Severity

DOC = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
  annotations:
    team.example.com/owner: payments
spec:
  replicas: 3
  template:
    spec:
      containers:
        - name: app
          image: registry.example.com/app:1.2
          ports: [{containerPort: 8080}]
        - name: sidecar
          image: envoy:latest
"""


def _doc() -> Any:
    return load_documents(DOC, "d.yaml")[0]


def test_paths_with_wildcards_indexes_and_quoted_keys() -> None:
    assert parse_path('a.b[*].c["x.y/z"][2]') == ["a", "b", "*", "c", "x.y/z", 2]
    images = select(_doc(), parse_path("spec.template.spec.containers[*].image"))
    assert [s.value for s in images] == ["registry.example.com/app:1.2", "envoy:latest"]
    assert images[1].span == (17, 17)
    owner = select(_doc(), parse_path('metadata.annotations["team.example.com/owner"]'))
    assert [s.value for s in owner] == ["payments"]


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"path": "spec.replicas", "eq": 3}, True),
        ({"path": "spec.replicas", "ne": 3}, False),
        ({"path": "spec.replicas", "gt": 2}, True),
        ({"path": "spec.replicas", "lt": 2}, False),
        ({"path": "kind", "in": ["Deployment", "StatefulSet"]}, True),
        ({"path": "spec.template.spec.containers[*].image", "regex": ":latest$"}, True),
        ({"path": "spec.template.spec.containers[*].image", "regex": ":latest$", "match": "all"}, False),
        ({"path": "metadata.labels.team", "exists": True}, False),
        ({"path": "metadata.labels.team", "exists": False}, True),
        ({"path": "metadata.labels.team", "eq": "x"}, False),
        ({"not": {"path": "metadata.labels.app", "exists": True}}, False),
        ({"all": [{"path": "kind", "eq": "Deployment"}, {"path": "spec.replicas", "gt": 5}]}, False),
        ({"any": [{"path": "kind", "eq": "Pod"}, {"path": "spec.replicas", "gt": 1}]}, True),
        (
            {
                "path": "spec.template.spec.containers[*]",
                "where": {"all": [{"path": "name", "eq": "app"}, {"path": "ports[*].containerPort", "eq": 8080}]},
            },
            True,
        ),
    ],
)
def test_condition_language(condition: dict[str, Any], expected: bool) -> None:
    assert compile_condition(condition).evaluate(_doc())[0] is expected


@pytest.mark.parametrize(
    "condition",
    [
        {"path": "a"},
        {"path": "a", "eq": 1, "ne": 2},
        {"path": "a", "bogus": 1},
        {"all": []},
        {"not": {"path": "a", "eq": 1}, "any": []},
        {"path": "a", "regex": "("},
        {"path": "a", "in": "x"},
        {"path": "a", "gt": "many"},
        {"path": "a", "eq": 1, "match": "some"},
        ["not", "a", "mapping"],
    ],
)
def test_bad_conditions_are_config_errors(condition: Any) -> None:
    with pytest.raises(ConfigError):
        compile_condition(condition)


CUSTOM = """\
checks:
  - id: ACME-K8S-001
    title: Deployments name an owner
    severity: medium
    input: kubernetes
    kinds: [Deployment]
    description: Every workload names the team that owns it.
    remediation: Add the team.example.com/owner annotation.
    controls: [acme-policy:7.1]
    message: no owner annotation
    condition:
      not:
        path: metadata.annotations["team.example.com/owner"]
        exists: true
  - id: ACME-K8S-002
    title: No latest images
    severity: HIGH
    input: kubernetes
    condition:
      path: spec.template.spec.containers[*].image
      regex: ":latest$"
"""


def test_custom_checks_load_and_run_with_lines(tmp_path: Path) -> None:
    (tmp_path / "acme.yaml").write_text(CUSTOM)
    (tmp_path / "notes.txt").write_text("ignored")
    checks = load_directory(tmp_path)
    assert [(c.id, c.severity, c.resource_kinds, c.source) for c in checks] == [
        ("ACME-K8S-001", Severity.MEDIUM, frozenset({"Deployment"}), str(tmp_path / "acme.yaml")),
        ("ACME-K8S-002", Severity.HIGH, frozenset(), str(tmp_path / "acme.yaml")),
    ]
    parsed = parse(InputKind.KUBERNETES, "d.yaml", DOC.replace("team.example.com/owner", "x").encode())
    assert parsed is not None
    found = {f.rule_id: f for f in run_checks(parsed, checks).findings}
    assert found["ACME-K8S-001"].message == "Deployment web: no owner annotation"
    location = found["ACME-K8S-002"].location
    assert location is not None and location.line == 17


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("id: bad id\ntitle: t\nseverity: LOW\ninput: kubernetes\ncondition: {path: a, exists: true}\n", "check ID"),
        ("id: A-B-1\ntitle: t\nseverity: SEVERE\ninput: kubernetes\ncondition: {path: a, exists: true}\n", "severity"),
        ("id: A-B-1\ntitle: t\nseverity: LOW\ninput: kubernetes\n", "missing condition"),
        ("checks: {id: A-B-1}\n", "'checks' is a list"),
        ("a: [1\n", "cannot read"),
    ],
)
def test_invalid_custom_files_name_the_problem(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=problem):
        load_yaml_checks(path)


def test_missing_custom_directory_fails_the_load(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_checks(CheckConfig(custom_dirs=(tmp_path / "nope",), include_plugins=False))


def test_duplicates_and_disabled_checks(tmp_path: Path) -> None:
    (tmp_path / "dup.yaml").write_text(
        "id: SW-DF-001\ntitle: t\nseverity: LOW\ninput: dockerfile\ncondition: {path: stages, exists: true}\n"
    )
    checks = load_checks(CheckConfig(custom_dirs=(tmp_path,), include_plugins=False, disabled=frozenset({"SW-DF-002"})))
    assert checks.get("SW-DF-001") is not None and checks.get("SW-DF-001").source == "builtin"  # type: ignore[union-attr]
    assert checks.get("SW-DF-002") is None
    assert any("duplicates" in w for w in checks.warnings)


class _EntryPoint:
    def __init__(self, name: str, obj: object) -> None:
        self.name, self.value, self._obj = name, f"plugin:{name}", obj

    def load(self) -> object:
        if isinstance(self._obj, Exception):
            raise self._obj
        return self._obj


def test_plugin_checks_from_entry_points(monkeypatch: pytest.MonkeyPatch) -> None:
    plugin = Check("ACME-DF-009", "t", Severity.LOW, InputKind.DOCKERFILE, "d", "r", evaluate=lambda r: iter(()))
    points = [
        _EntryPoint("one", plugin),
        _EntryPoint("many", lambda: [plugin.__class__(**{**_fields(plugin), "id": "ACME-DF-010"})]),
        _EntryPoint("broken", ImportError("no module named acme")),
        _EntryPoint("wrong", 42),
    ]
    monkeypatch.setattr(registry, "entry_points", lambda group: points if group == "shieldwall.checks" else [])
    found, warnings = registry.plugin_checks()
    assert [c.id for c in found] == ["ACME-DF-009", "ACME-DF-010"]
    assert all(c.source.startswith("entry point") for c in found)
    assert len(warnings) == 2 and "no module named acme" in warnings[0]


def _fields(item: Check) -> dict[str, Any]:
    return {f: getattr(item, f) for f in item.__dataclass_fields__}


def test_assemble_rejects_malformed_ids() -> None:
    odd = Check("lowercase", "t", Severity.LOW, InputKind.DOCKERFILE, "d", "r", evaluate=lambda r: iter(()))
    result = assemble([odd])
    assert not result.checks and "malformed" in result.warnings[0]


def test_environment_and_config_file(tmp_path: Path) -> None:
    (tmp_path / "policies").mkdir()
    (tmp_path / "shieldwall.yaml").write_text("misconfig:\n  checks_dirs: [policies]\n  disabled: [SW-DF-004]\n")
    extra = tmp_path / "extra"
    extra.mkdir()
    config = registry.config_from_environment(
        {"SHIELDWALL_CHECKS_DIR": str(extra), "SHIELDWALL_CONFIG_DIR": str(tmp_path / "cfg")}, cwd=tmp_path
    )
    assert config.custom_dirs == ((tmp_path / "policies").resolve(), extra)
    assert config.disabled == frozenset({"SW-DF-004"})
