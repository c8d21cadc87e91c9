"""The ``secrets:`` section of a project's ``shieldwall.yaml`` (a small, self-contained loader).

.. code-block:: yaml

    secrets:
      builtin: true                 # use the bundled rules (default)
      disable: [jwt]                # bundled or imported rule IDs to switch off
      gitleaks: [.gitleaks.toml]    # gitleaks-format rule files to import (relative to this file)
      rules:                        # custom rules, same fields as the bundled ones
        - id: acme-internal-token
          title: ACME internal token
          severity: HIGH
          keywords: [acme_]
          regex: '\\b(acme_[a-z0-9]{32})\\b'
      allowlist:
        paths: ['^/app/tests/']
        regexes: ['^dev-']
        stopwords: [sandbox]
        examples: [acme_00000000000000000000000000000000]

Everything is validated when loaded; a mistake is a ``ConfigError`` naming
the file and the field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from shieldwall.analyze.secret.gitleaks import import_gitleaks
from shieldwall.analyze.secret.rules import (
    Allowlist,
    AllowlistSpec,
    Rule,
    builtin_allowlist,
    builtin_rules,
    check_unique,
    compile_allowlist,
    parse_rules,
)
from shieldwall.errors import ConfigError

CONFIG_NAMES = ("shieldwall.yaml", "shieldwall.yml", ".shieldwall.yaml")


class SecretsConfig(BaseModel):
    """The validated ``secrets:`` section."""

    model_config = ConfigDict(extra="forbid")

    builtin: bool = True
    disable: list[str] = Field(default_factory=list)
    gitleaks: list[Path] = Field(default_factory=list)
    rules: list[dict[str, Any]] = Field(default_factory=list)
    allowlist: AllowlistSpec = Field(default_factory=AllowlistSpec)
    base_dir: Path = Field(default=Path("."), exclude=True)

    @field_validator("gitleaks", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str | Path) else value


@dataclass
class Ruleset:
    """Rules and allowlist ready for an engine, plus what could not be imported."""

    rules: list[Rule]
    allowlist: Allowlist
    warnings: list[str] = field(default_factory=list)


def find_project_config(directory: Path) -> Path | None:
    """The project config the rest of Shieldwall reads (``$SHIELDWALL_CONFIG``, ``directory``, the git root).

    Falls back to the names this loader knows in ``directory`` itself.
    """
    from shieldwall.config.load import find_config_file

    found = find_config_file(directory)
    if found is not None and found.is_file():
        return found
    for name in CONFIG_NAMES:
        candidate = directory / name
        if candidate.is_file():
            return candidate
    return None


def check_rule_examples(rules: list[Rule], allowlist: Allowlist) -> list[str]:
    """Run custom rules' own ``tests`` examples; each failing example is a warning naming the rule."""
    from shieldwall.analyze.secret.engine import SecretEngine

    problems: list[str] = []
    for rule in rules:
        if not rule.match_examples and not rule.no_match_examples:
            continue
        engine = SecretEngine([rule], allowlist, prefilter="python")
        for line in rule.match_examples:
            if not engine.scan(line.encode()):
                problems.append(f"secrets rule {rule.id}: its example {line[:60]!r} does not match")
        for line in rule.no_match_examples:
            if engine.scan(line.encode()):
                problems.append(f"secrets rule {rule.id}: its no_match example {line[:60]!r} matches")
    return problems


def parse_secrets_config(raw: Any, source: str, base_dir: Path) -> SecretsConfig:
    """Validate the mapping under ``secrets:``."""
    if raw is None:
        return SecretsConfig(base_dir=base_dir)
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: 'secrets' must be a mapping")
    try:
        config = SecretsConfig.model_validate({**raw, "base_dir": base_dir})
    except ValidationError as exc:
        details = "; ".join(f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"{source}: secrets: {details}") from None
    return config


def load_secrets_config(path: Path) -> SecretsConfig:
    """Read ``path`` (YAML) and validate its ``secrets:`` section (absent means defaults)."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the project config ({exc})") from None
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: the project config must be a mapping")
    return parse_secrets_config(doc.get("secrets"), str(path), path.parent)


def build_ruleset(config: SecretsConfig) -> Ruleset:
    """Bundled rules (unless ``builtin: false``) + imported gitleaks rules + custom rules, minus ``disable``."""
    warnings: list[str] = []
    rules: list[Rule] = list(builtin_rules()) if config.builtin else []
    allowlist = builtin_allowlist() if config.builtin else Allowlist()
    for toml_path in config.gitleaks:
        full = toml_path if toml_path.is_absolute() else config.base_dir / toml_path
        imported = import_gitleaks(full)
        rules += imported.rules
        allowlist = allowlist.merged(imported.allowlist)
        warnings += imported.warnings
    custom = parse_rules(config.rules, "shieldwall.yaml secrets.rules") if config.rules else []
    rules += custom
    allowlist = allowlist.merged(compile_allowlist(config.allowlist, "shieldwall.yaml secrets.allowlist"))
    warnings += check_rule_examples(custom, allowlist)
    disabled = set(config.disable)
    known = {r.id for r in rules}
    for rule_id in sorted(disabled - known):
        warnings.append(f"secrets.disable names an unknown rule {rule_id!r}")
    rules = [r for r in rules if r.id not in disabled]
    check_unique(rules)
    if not rules:
        raise ConfigError("the secret rule set is empty (builtin: false and no custom or imported rules)")
    return Ruleset(rules, allowlist, warnings)
