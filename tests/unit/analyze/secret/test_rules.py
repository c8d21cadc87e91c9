"""Every bundled rule's own examples: lines that must and must not match, through both prefilters."""

from __future__ import annotations

import pytest
import yaml

from shieldwall.analyze.secret import engine as engine_mod
from shieldwall.analyze.secret.engine import SecretEngine
from shieldwall.analyze.secret.rules import Rule, builtin_allowlist, builtin_rules, parse_rules
from shieldwall.errors import ConfigError

RULES = builtin_rules()
PATHS = ["/app/src/main.py", "/app/.env", "/app/config/settings.yaml"]
PREFILTERS = ["python"] + (["hyperscan"] if engine_mod.HAVE_HYPERSCAN else [])


def _path_for(rule: Rule) -> str:
    return next(p for p in PATHS if rule.applies_to(p))


@pytest.fixture(scope="module", params=PREFILTERS)
def engines(request: pytest.FixtureRequest) -> dict[str, SecretEngine]:
    allow = builtin_allowlist()
    return {rule.id: SecretEngine([rule], allow, prefilter=request.param) for rule in RULES}


def test_rule_count_and_coverage() -> None:
    assert len(RULES) >= 150
    ids = {r.id for r in RULES}
    for required in [
        "aws-access-key-id",
        "gcp-api-key",
        "azure-storage-account-key",
        "github-pat",
        "github-fine-grained-pat",
        "gitlab-pat",
        "bitbucket-app-password",
        "npm-access-token",
        "pypi-upload-token",
        "rubygems-api-key",
        "nuget-api-key",
        "dockerhub-pat",
        "stripe-live-secret-key",
        "square-access-token",
        "paypal-client-secret",
        "slack-bot-token",
        "slack-webhook-url",
        "twilio-auth-token",
        "sendgrid-api-key",
        "mailgun-api-key",
        "telegram-bot-token",
        "discord-bot-token",
        "openai-api-key",
        "anthropic-api-key",
        "huggingface-access-token",
        "cohere-api-key",
        "postgres-connection-string",
        "hashicorp-vault-service-token",
        "private-key-rsa",
        "private-key-ec",
        "private-key-dsa",
        "private-key-pkcs8",
        "private-key-openssh",
        "private-key-putty",
        "private-key-pgp",
        "jwt",
        "generic-password-quoted",
        "generic-secret-config",
    ]:
        assert required in ids, required


def test_every_rule_has_examples() -> None:
    missing = [r.id for r in RULES if not r.match_examples or not r.no_match_examples]
    assert missing == []


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_rule_examples(rule: Rule, engines: dict[str, SecretEngine]) -> None:
    engine = engines[rule.id]
    path = _path_for(rule)
    for line in rule.match_examples:
        found = engine.scan(line.encode(), path)
        assert [m.rule.id for m in found] == [rule.id], f"{rule.id} should match: {line!r}"
    for line in rule.no_match_examples:
        assert engine.scan(line.encode(), path) == [], f"{rule.id} should not match: {line!r}"


def test_bad_rules_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="regex does not compile"):
        parse_rules([{"id": "x-rule", "title": "x", "keywords": ["ab"], "regex": "(unclosed"}], "custom")
    with pytest.raises(ConfigError, match="keywords"):
        parse_rules([{"id": "x-rule", "title": "x", "keywords": [], "regex": "abc"}], "custom")
    with pytest.raises(ConfigError, match="Extra inputs"):
        parse_rules([{"id": "x-rule", "title": "x", "keywords": ["ab"], "regex": "abc", "bogus": 1}], "custom")
    with pytest.raises(ConfigError, match="secret_group"):
        parse_rules([{"id": "x-rule", "title": "x", "keywords": ["ab"], "regex": "abc", "secret_group": 2}], "c")


def test_rule_files_are_plain_yaml_lists() -> None:
    from importlib import resources

    folder = resources.files("shieldwall.data.secrets")
    names = [e.name for e in folder.iterdir() if e.name.startswith("rules-")]
    assert len(names) >= 5
    for name in names:
        assert isinstance(yaml.safe_load(folder.joinpath(name).read_text()), list)
