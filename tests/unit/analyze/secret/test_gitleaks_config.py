"""gitleaks TOML import (Go regex conversion) and the ``secrets:`` section of shieldwall.yaml."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from helpers.secrets import token
from shieldwall.analyze.secret.config import build_ruleset, load_secrets_config, parse_secrets_config
from shieldwall.analyze.secret.engine import SecretEngine
from shieldwall.analyze.secret.gitleaks import convert_go_regex, import_gitleaks
from shieldwall.errors import ConfigError

FIXTURE = Path(__file__).parents[3] / "fixtures" / "secret" / "custom-gitleaks.toml"


@pytest.mark.parametrize(
    ("go", "python"),
    [
        (r"a(?i)b|c", r"a(?i:b)|(?i:c)"),
        (r"(x(?i)y)z", r"(x(?i:y))z"),
        (r"(?i)leading", r"(?i)leading"),
        (r"end\z", r"end\Z"),
        (r"[[:alnum:]]{4}", r"[a-zA-Z0-9]{4}"),
        (r"[[:xdigit:]_]", r"[0-9A-Fa-f_]"),
        (r"\Qa.b\E+", r"a\.b+"),
    ],
)
def test_convert_go_regex(go: str, python: str) -> None:
    assert convert_go_regex(go) == python
    re.compile(python)


def test_unconvertible_patterns_raise() -> None:
    with pytest.raises(ValueError, match="Unicode"):
        convert_go_regex(r"\p{L}+")
    with pytest.raises(ValueError, match="ungreedy"):
        convert_go_regex(r"(?U)a+")


def test_fixture_import_converts_and_warns() -> None:
    imported = import_gitleaks(FIXTURE)
    assert [r.id for r in imported.rules] == ["gitleaks.mid-flag", "gitleaks.posix-class", "gitleaks.two-groups"]
    assert any("unicode-class" in w and "Unicode" in w for w in imported.warnings)
    assert any("path-only" in w for w in imported.warnings)
    assert imported.allowlist.stopwords == ("sandbox",)
    engine = SecretEngine(imported.rules, imported.allowlist, prefilter="python")
    text = "\n".join(
        [
            "k = acme-" + token(20, "abcdefghijklmnopqrstuvwxyz0123456789").upper(),
            "z = zed_" + token(16),
            "z = zed_0000000000000000",
            "omega:" + token(12, "ABCDEF0123456789"),
        ]
    )
    found = [(m.rule.id, m.secret.decode()) for m in engine.scan(text.encode())]
    assert [rule for rule, _ in found] == ["gitleaks.mid-flag", "gitleaks.posix-class", "gitleaks.two-groups"]
    assert found[2][1] == text.splitlines()[3].removeprefix("omega:")  # the group that matched


def test_real_gitleaks_config_imports(shared_data: Path) -> None:
    path = shared_data / "secrets" / "gitleaks" / "config" / "gitleaks.toml"
    if not path.is_file():
        pytest.skip("gitleaks.toml not present")
    imported = import_gitleaks(path)
    assert len(imported.rules) >= 215
    assert all(r.id.startswith("gitleaks.") for r in imported.rules)
    assert imported.allowlist.paths and imported.allowlist.regexes
    engine = SecretEngine(imported.rules, imported.allowlist, prefilter="python")
    found = engine.scan(("GITHUB_TOKEN=ghp_" + token(36) + "\n").encode(), "/app/.env")
    assert "gitleaks.github-pat" in {m.rule.id for m in found}


def test_project_config_rules_disable_allowlist_and_import(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "extra.toml").write_text(FIXTURE.read_text())
    config_file = tmp_path / "shieldwall.yaml"
    config_file.write_text(
        """
secrets:
  disable: [jwt]
  gitleaks: rules/extra.toml
  rules:
    - id: acme-internal
      title: ACME internal token
      severity: CRITICAL
      keywords: [acmeint_]
      regex: '\\b(acmeint_[a-z0-9]{24})\\b'
      tests: {match: ['x = acmeint_abcdefghijklmnopqrstuvwx'], no_match: []}
  allowlist:
    paths: ['^/app/tests/']
    stopwords: [sandbox]
"""
    )
    ruleset = build_ruleset(load_secrets_config(config_file))
    ids = {r.id for r in ruleset.rules}
    assert {"acme-internal", "gitleaks.mid-flag", "github-pat"} <= ids and "jwt" not in ids
    assert ruleset.allowlist.path_allowed("/app/tests/x.py")
    assert any("unicode-class" in w for w in ruleset.warnings)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"rulez": []}, "rulez"),
        ({"rules": [{"id": "xx", "title": "t", "keywords": ["ab"], "regex": "("}]}, "regex does not compile"),
        ({"allowlist": {"paths": ["("]}}, "allowlist paths"),
        ({"builtin": False}, "empty"),
        ({"rules": [{"id": "github-pat", "title": "t", "keywords": ["ab"], "regex": "ab"}]}, "duplicate"),
    ],
)
def test_bad_project_config_is_a_config_error(raw: dict[str, object], message: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=message):
        build_ruleset(parse_secrets_config(raw, "shieldwall.yaml", tmp_path))


def test_missing_section_means_defaults(tmp_path: Path) -> None:
    config_file = tmp_path / "shieldwall.yaml"
    config_file.write_text("scanners: [secret]\n")
    ruleset = build_ruleset(load_secrets_config(config_file))
    assert len(ruleset.rules) >= 150 and ruleset.warnings == []


def test_custom_rule_examples_are_checked(tmp_path: Path) -> None:
    raw = {
        "rules": [
            {
                "id": "acme-token",
                "title": "ACME",
                "keywords": ["acme_"],
                "regex": r"\b(acme_[a-z0-9]{8})\b",
                "tests": {"match": ["t = acme_a1b2c3d4", "t = acme_TOO_SHORT"], "no_match": ["t = acme_b2c3d4e5"]},
            }
        ]
    }
    warnings = build_ruleset(parse_secrets_config(raw, "shieldwall.yaml", tmp_path)).warnings
    assert len(warnings) == 2
    assert "acme_TOO_SHORT" in warnings[0] and "does not match" in warnings[0]
    assert "acme_b2c3d4e5" in warnings[1] and "matches" in warnings[1]


def test_config_warnings_reach_the_scan_result(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from shieldwall.service.scan import ScanOptions, scan_target

    (tmp_path / "rules.toml").write_text(FIXTURE.read_text())
    (tmp_path / "shieldwall.yaml").write_text("secrets:\n  gitleaks: rules.toml\n")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.txt").write_text("k = acme-" + token(20, "abcdefghijklmnopqrstuvwxyz0123456789") + "\n")
    monkeypatch.chdir(tmp_path)
    result = scan_target(f"dir:{tmp_path / 'src'}", ScanOptions(scanners=frozenset({"secret"})))
    assert [f.rule_id for f in result.findings] == ["gitleaks.mid-flag"]
    assert any("unicode-class" in w.message for w in result.warnings)
