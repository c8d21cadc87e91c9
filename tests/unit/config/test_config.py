"""Configuration: discovery, precedence, origins, and errors that name file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from shieldwall.config import LicenseSection, SectionModel, load_settings, register_section
from shieldwall.config.load import config_rows_text, find_config_file, find_exceptions_file
from shieldwall.config.yamlsource import load_yaml
from shieldwall.errors import ConfigError
from shieldwall.model import Severity


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_defaults_without_file(tmp_path: Path) -> None:
    settings = load_settings(environ={}, cwd=tmp_path)
    assert settings.file is None
    assert settings.config.fail_on is None and "vuln" in settings.config.scanners
    assert str(settings.origin("fail_on")) == "default"


def test_found_at_git_root_from_subdirectory(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    cfg = write(tmp_path / "shieldwall.yaml", "fail_on: high\n")
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    assert find_config_file(sub, {}) == cfg
    settings = load_settings(environ={}, cwd=sub)
    assert settings.config.fail_on is Severity.HIGH
    assert str(settings.origin("fail_on")) == f"{cfg}:1"


def test_working_directory_wins_over_git_root(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    write(tmp_path / "shieldwall.yaml", "fail_on: high\n")
    local = write(tmp_path / "sub" / "shieldwall.yaml", "fail_on: low\n")
    assert find_config_file(tmp_path / "sub", {}) == local


def test_precedence_flag_env_file_default(tmp_path: Path) -> None:
    cfg = write(tmp_path / "shieldwall.yaml", "fail_on: low\nscanners: [vuln]\nformat: json\nregistry:\n  timeout: 5\n")
    env = {"SHIELDWALL_FAIL_ON": "medium", "SHIELDWALL_SCANNERS": "secret,license", "SHIELDWALL_REGISTRY__TIMEOUT": "9"}
    settings = load_settings({"fail_on": "critical"}, environ=env, cwd=tmp_path)
    config = settings.config
    assert config.fail_on is Severity.CRITICAL and str(settings.origin("fail_on")) == "flag --fail-on"
    assert config.scanners == ("secret", "license") and str(settings.origin("scanners")) == "env SHIELDWALL_SCANNERS"
    assert config.format == "json" and str(settings.origin("format")) == f"{cfg}:3"
    assert (
        config.registry.timeout == 9.0
        and str(settings.origin("registry.timeout")) == "env SHIELDWALL_REGISTRY__TIMEOUT"
    )
    assert str(settings.origin("baseline")) == "default"


def test_show_lists_every_key_with_origin(tmp_path: Path) -> None:
    write(tmp_path / "shieldwall.yaml", "severity: [high, critical]\nlicense:\n  deny: [AGPL-*]\n")
    text = config_rows_text(load_settings(environ={"SHIELDWALL_FAIL_ON": "high"}, cwd=tmp_path))
    lines = {line.split(" = ")[0]: line for line in text.splitlines()[1:]}
    assert lines["severity"].endswith("shieldwall.yaml:1") and '"HIGH", "CRITICAL"' in lines["severity"]
    assert lines["license.deny"].endswith("shieldwall.yaml:3")
    assert lines["fail_on"].endswith("# env SHIELDWALL_FAIL_ON")
    assert lines["registry.timeout"].endswith("# default")


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("scanners: [vuln]\nfail_on: severe\n", "shieldwall.yaml:2: fail_on: Input should be"),
        ("registry:\n  timeout: 3\n  insecur: [x]\n", "shieldwall.yaml:3: registry.insecur: unknown key"),
        ("scaners: [vuln]\n", "shieldwall.yaml:1: scaners: unknown key"),
        ("scanners: [vuln, antivirus]\n", "shieldwall.yaml:1: scanners: unknown scanner(s) antivirus"),
        ("license:\n  deny: [GPL-*]\n  allow: [MIT]\n", "shieldwall.yaml:3: license.allow: unknown key"),
        ("fail_on: [high\n", "invalid YAML"),
        ("- a\n- b\n", "must be a mapping"),
        ("a: 1\na: 2\n", "shieldwall.yaml:2: duplicate key 'a'"),
        ("x: &a [1]\ny: *a\n", "aliases are not allowed"),
    ],
)
def test_invalid_configuration_names_file_line_key(tmp_path: Path, text: str, needle: str) -> None:
    write(tmp_path / "shieldwall.yaml", text)
    with pytest.raises(ConfigError) as info:
        load_settings(environ={}, cwd=tmp_path)
    assert needle in str(info.value)


def test_invalid_env_and_flag_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="env SHIELDWALL_FAIL_ON: fail_on"):
        load_settings(environ={"SHIELDWALL_FAIL_ON": "nope"}, cwd=tmp_path)
    with pytest.raises(ConfigError, match="flag --fail-on: fail_on"):
        load_settings({"fail_on": "nope"}, environ={}, cwd=tmp_path)


def test_relative_paths_follow_their_origin(tmp_path: Path) -> None:
    write(tmp_path / "conf" / "shieldwall.yaml", "policy: policy.yaml\nvex: [a.json]\n")
    settings = load_settings(
        {"baseline": "old.json"}, config_file=tmp_path / "conf" / "shieldwall.yaml", environ={}, cwd=tmp_path
    )
    assert settings.config.policy == str(tmp_path / "conf" / "policy.yaml")
    assert settings.config.vex == (str(tmp_path / "conf" / "a.json"),)
    assert settings.config.baseline == str(tmp_path / "old.json")


def test_sections_validated_and_typed(tmp_path: Path) -> None:
    write(tmp_path / "shieldwall.yaml", "license:\n  deny: [GPL-*, AGPL-*]\nsecrets:\n  anything: 1\n")
    settings = load_settings(environ={}, cwd=tmp_path)
    assert settings.section("license", LicenseSection).deny == ("GPL-*", "AGPL-*")
    assert settings.config.secrets == {"anything": 1}


def test_registered_section_checked_with_line(tmp_path: Path) -> None:
    class Malware(SectionModel):
        max_size: int = 10

    register_section("malware", Malware)
    try:
        write(tmp_path / "shieldwall.yaml", "malware:\n  max_size: big\n")
        with pytest.raises(ConfigError, match=r"shieldwall.yaml:2: malware.max_size"):
            load_settings(environ={}, cwd=tmp_path)
        write(tmp_path / "shieldwall.yaml", "malware:\n  max_size: 5\n")
        assert load_settings(environ={}, cwd=tmp_path).section("malware", Malware).max_size == 5
    finally:
        from shieldwall.config import sections

        sections._REGISTRY.pop("malware", None)


def test_exceptions_file_discovery(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    ignore = write(tmp_path / ".shieldwallignore.yaml", "exceptions: []\n")
    sub = tmp_path / "sub"
    sub.mkdir()
    assert find_exceptions_file(load_settings(environ={}, cwd=sub), sub) == ignore


def test_yaml_lines() -> None:
    doc = load_yaml("a: 1\nb:\n  - x: 2\n    y: 3\n", "f.yaml")
    assert doc.where(("b", 0, "y")) == "f.yaml:4"
    assert doc.where(("b", 0, "missing")) == "f.yaml:3"
