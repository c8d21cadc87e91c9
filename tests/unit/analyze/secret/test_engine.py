"""The one-pass engine: both prefilters, binary sniffing, locations, filters, the compiled-database cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.secrets import ghp, token
from shieldwall.analyze.secret import engine as engine_mod
from shieldwall.analyze.secret.engine import SecretEngine, looks_like_words, shannon_entropy
from shieldwall.analyze.secret.rules import builtin_allowlist, builtin_rules, parse_rules

needs_hyperscan = pytest.mark.skipif(not engine_mod.HAVE_HYPERSCAN, reason="hyperscan not installed")


def _sample() -> bytes:
    lines = [
        "import os",
        f'GITHUB_TOKEN = "{ghp()}"',
        "def f(x):\n    return x",
        f"aws_access_key_id = AKIA{token(16, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567')}",
        f"slack = 'xoxb-123456789012-1234567890123-{token(24)}'",
        'password = "changeme"',
        f'db_password = "{token(14)}"',
        "-----BEGIN OPENSSH PRIVATE KEY-----",
        *[token(70, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") for _ in range(3)],
        "-----END OPENSSH PRIVATE KEY-----",
    ]
    return ("\n".join(lines) + "\n").encode()


def test_python_prefilter_is_forced(python_engine: SecretEngine) -> None:
    assert python_engine.prefilter_kind == "python"


def test_fallback_when_hyperscan_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_mod, "HAVE_HYPERSCAN", False)
    forced = SecretEngine(builtin_rules()[:5], builtin_allowlist())
    assert forced.prefilter_kind == "python"
    with pytest.raises(RuntimeError, match="hyperscan"):
        SecretEngine(builtin_rules()[:5], builtin_allowlist(), prefilter="hyperscan")


@needs_hyperscan
def test_both_prefilters_agree(engine: SecretEngine, python_engine: SecretEngine) -> None:
    data = _sample()
    assert engine.prefilter_kind == "hyperscan"
    fast = [(m.rule.id, m.start, m.end, m.line) for m in engine.scan(data, "/app/settings.py")]
    slow = [(m.rule.id, m.start, m.end, m.line) for m in python_engine.scan(data, "/app/settings.py")]
    assert fast == slow
    assert [f[0] for f in fast] == [
        "github-pat",
        "aws-access-key-id",
        "slack-bot-token",
        "generic-password-quoted",
        "private-key-openssh",
    ]


def test_locations_are_one_based_and_span_lines(python_engine: SecretEngine) -> None:
    data = _sample()
    found = {m.rule.id: m for m in python_engine.scan(data, "/app/settings.py")}
    pat = found["github-pat"]
    assert (pat.line, pat.column, pat.end_line) == (2, 17, 2)
    assert data[pat.start : pat.end] == pat.secret
    key = found["private-key-openssh"]
    assert key.line == 9 and key.end_line == 13 and key.column == 1


def test_secret_never_in_repr(python_engine: SecretEngine) -> None:
    value = ghp()
    match = python_engine.scan(f"t = '{value}'\n".encode())[0]
    assert value not in repr(match)


def test_binary_files_only_get_binary_rules(python_engine: SecretEngine) -> None:
    akid = "AKIA" + token(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    blob = b"\x7fELF\x00\x00" + f'\x00db_password = "{token(14)}"\x00'.encode() + akid.encode() + b"\x00"
    found = python_engine.scan(blob, "/usr/bin/tool")
    assert [m.rule.id for m in found] == ["aws-access-key-id"]


def test_documented_examples_placeholders_and_entropy(python_engine: SecretEngine) -> None:
    text = "\n".join(
        [
            "aws_access_key_id = AKIAIOSFODNN7EXAMPLE",
            "GITHUB_TOKEN=${GITHUB_TOKEN}",
            "token: ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            "STRIPE=sk_test_" + token(24),
            'api_key = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1"',
            'SECRET_NAME = "refresh_token_expired_v2"',
        ]
    )
    assert python_engine.scan(text.encode(), "/app/config.py") == []


def test_generic_match_is_shadowed_by_a_specific_rule(python_engine: SecretEngine) -> None:
    found = python_engine.scan(f'api_token = "{ghp()}"\n'.encode(), "/app/x.py")
    assert [m.rule.id for m in found] == ["github-pat"]


def test_path_restricted_rules(python_engine: SecretEngine) -> None:
    line = f"DB_PASSWORD={token(16)}\n".encode()
    assert [m.rule.id for m in python_engine.scan(line, "/app/.env")] == ["generic-password-config"]
    assert python_engine.scan(line, "/app/main.py") == []


def test_entropy_and_wordiness() -> None:
    assert shannon_entropy(b"") == 0.0
    assert shannon_entropy(b"aaaa") == 0.0
    assert shannon_entropy(b"abcd") == pytest.approx(2.0)
    assert looks_like_words(b"refresh_token_expired_v2")
    assert not looks_like_words(token(32).encode())


@needs_hyperscan
def test_compiled_database_is_cached(tmp_path: Path) -> None:
    rules = builtin_rules()[:20]
    first = SecretEngine(rules, builtin_allowlist(), cache_dir=tmp_path)
    cached = list((tmp_path / "secret-prefilter").glob("*.hsdb"))
    assert len(cached) == 2  # text and binary rule sets
    second = SecretEngine(rules, builtin_allowlist(), cache_dir=tmp_path)
    data = _sample()
    assert [m.rule.id for m in first.scan(data)] == [m.rule.id for m in second.scan(data)]
    for path in cached:
        path.write_bytes(b"garbage")
    third = SecretEngine(rules, builtin_allowlist(), cache_dir=tmp_path)
    assert [m.rule.id for m in third.scan(data)] == [m.rule.id for m in first.scan(data)]


@needs_hyperscan
def test_rules_hyperscan_rejects_fall_back_to_keywords() -> None:
    rules = parse_rules(
        [
            {
                "id": "huge-repeat-rule",
                "title": "a bounded repeat too large for Hyperscan",
                "keywords": ["tok_"],
                "regex": r"tok_([a-z0-9]{12,40000})\b",
            }
        ],
        "test",
    )
    hs_engine = SecretEngine(rules, builtin_allowlist(), prefilter="hyperscan")
    assert hs_engine.unaccelerated_rules == ["huge-repeat-rule"]
    found = hs_engine.scan(b"x = <tok_a1b2c3d4e5f6>\n")
    assert [m.secret for m in found] == [b"a1b2c3d4e5f6"]


@needs_hyperscan
def test_concurrent_scans_use_their_own_scratch(engine: SecretEngine) -> None:
    from concurrent.futures import ThreadPoolExecutor

    data = _sample()
    expected = [m.rule.id for m in engine.scan(data)]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: [m.rule.id for m in engine.scan(data)], range(40)))
    assert all(r == expected for r in results)


def test_secret_inside_a_huge_minified_line(python_engine: SecretEngine, engine: SecretEngine) -> None:
    secret = ghp()
    filler = ";var token=a.b,secret=c.d,password=e" * 40_000
    data = f"{filler}var t='{secret}'{filler}\n".encode()
    for candidate in (python_engine, engine):
        found = candidate.scan(data, "/app/bundle.min.js")
        assert [m.secret.decode() for m in found] == [secret]
        assert found[0].line == 1 and found[0].column == len(filler) + 8
