"""OS_Regex / OS_Match translation and the time-boxed regex wrapper."""

from __future__ import annotations

import re

import pytest

from shieldwall.logrules.osregex import OsMatch, OsRegexError, alternatives, translate_os_regex
from shieldwall.logrules.saferegex import MAX_LINE, RegexStats, SafeRegex, bound_line, from_pcre2


def _search(pattern: str, text: str) -> re.Match[str] | None:
    return re.search(translate_os_regex(pattern), text, re.I)


@pytest.mark.parametrize(
    ("pattern", "text", "hit"),
    [
        (r"^\w+$", "user-name@host_1", True),
        (r"^\w+$", "user name", False),
        (r"^\d\d\d$", "123", True),
        (r"^\d+$", "12a", False),
        (r"a\sb", "a b", True),
        (r"a\sb", "a\tb", False),
        (r"a\tb", "a\tb", True),
        (r"^\p+$", "()*+,-.:;<=>?[]!\"'#$%&|{}", True),
        (r"^\p$", "a", False),
        (r"^\W\D\S$", " 1_", False),
        (r"^\W\D\S$", " ax", True),
        (r"a.b", "a.b", True),
        (r"a.b", "axb", False),
        (r"a\.b", "axb", True),
        (r"\$\(x\)\|\<", "$(x)|<", True),
        (r"a+b", "a+b", True),
        (r"a+b", "aab", False),
        (r"^foo|bar$", "xbar", True),
        (r"^foo|bar$", "xfoo", False),
        (r"FAILED", "failed", True),
    ],
)
def test_os_regex_classes(pattern: str, text: str, hit: bool) -> None:
    assert (_search(pattern, text) is not None) is hit


def test_repetition_is_lazy_inside_and_greedy_at_the_end() -> None:
    m = _search(r"for (\.+) from (\.+)", "for a from b from c")
    assert m is not None
    assert m.group(1) == "a"
    assert m.group(2) == "b from c"


def test_alternatives_keep_their_own_groups() -> None:
    alts = alternatives(r"key=\((\S+)\)|key=(\S+) ")
    assert len(alts) == 2
    assert re.search(alts[1], "key=abc ") is not None


def test_unbalanced_parenthesis_is_an_error() -> None:
    with pytest.raises(OsRegexError):
        translate_os_regex(r"(\w+")


@pytest.mark.parametrize(
    ("pattern", "text", "hit"),
    [
        ("^Accepted", "accepted password", True),
        ("^Accepted", "x Accepted", False),
        ("denied$", "access DENIED", True),
        ("^exact$", "exact", True),
        ("^exact$", "exactly", False),
        ("one|two", "has two", True),
        ("!one|two", "has two", False),
        ("a.b", "a.b", True),
        ("a.b", "axb", False),
    ],
)
def test_os_match(pattern: str, text: str, hit: bool) -> None:
    assert OsMatch.compile(pattern).matches(text) is hit


def test_re2_runs_nested_quantifiers_in_linear_time() -> None:
    evil = SafeRegex(r"^(a+)+$")
    assert evil.uses_re2
    assert evil.search("a" * 5000 + "b") is None


def test_patterns_re2_refuses_fall_back_and_are_counted() -> None:
    stats = RegexStats()
    backref = SafeRegex(r"(\w+) \1", stats=stats)
    assert not backref.uses_re2
    assert stats.fallback_patterns == 1
    m = backref.search("say hello hello")
    assert m is not None and m.groups == ("hello",)


def test_fallback_search_on_a_hostile_line_returns() -> None:
    stats = RegexStats()
    evil = SafeRegex(r"(?=x)(x+x+)+\1y", stats=stats)
    result = evil.search("x" * 3000)
    assert result is None  # either no match or a counted timeout, never a hang


def test_lines_are_bounded() -> None:
    stats = RegexStats()
    assert len(bound_line("x" * (MAX_LINE + 10), stats)) == MAX_LINE
    assert stats.truncated_lines == 1


def test_pcre2_dialect() -> None:
    assert from_pcre2(r"(*UTF)\N{U+202E}") == r"\x{202E}"
