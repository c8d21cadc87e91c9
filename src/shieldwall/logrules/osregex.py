"""OSSEC/Wazuh pattern syntaxes translated to Python (re2-compatible) regexes.

OS_Regex (``<regex>``, ``<prematch>``, ``<field>`` by default) is a small
language: ``\\w`` (letters, digits, ``-``, ``@``, ``_``), ``\\d``, ``\\s``
(space), ``\\t``, ``\\p`` (punctuation), their negations ``\\W \\D \\S``,
``\\.`` (any character), ``+``/``*`` only after such an escape, ``^``/``$``
anchors, ``|`` between whole alternatives, ``( )`` captures and the escapes
``\\$ \\( \\) \\\\ \\| \\<``. Every other character is literal. Matching is
case-insensitive. OSSEC's matcher consumes a repeated class only until the
next pattern element matches (a lazy match) except at the end of a pattern,
where it runs to the end of the line; the translation keeps that.

OS_Match (``<match>``, ``<program_name>`` and most rule fields) is plain
case-insensitive substring search with ``^``, ``$``, ``|`` and a leading
``!`` negation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_CLASSES = {
    "w": r"[A-Za-z0-9@_\-]",
    "W": r"[^A-Za-z0-9@_\-]",
    "d": r"[0-9]",
    "D": r"[^0-9]",
    "s": r"[ ]",
    "S": r"[^ ]",
    "t": r"\t",
    "p": r"[()*+,\-.:;<=>?\[\]!\"'#$%&|{}]",
    ".": r"(?s:.)",
}
_LITERAL_ESCAPES = frozenset("$()\\|<")


class OsRegexError(ValueError):
    """An OS_Regex pattern that cannot be translated (unbalanced parentheses...)."""


def _translate_alternative(alt: str) -> str:
    out: list[str] = []
    i = 0
    n = len(alt)
    depth = 0
    if alt.startswith("^"):
        out.append("^")
        i = 1
    while i < n:
        c = alt[i]
        if c == "\\" and i + 1 < n:
            e = alt[i + 1]
            i += 2
            if e in _CLASSES:
                token = _CLASSES[e]
                if i < n and alt[i] in "+*":
                    quant = alt[i]
                    i += 1
                    rest = alt[i:]
                    trailing = rest.strip(")") == "" or rest.strip(")") == "$"
                    out.append(token + quant + ("" if trailing else "?"))
                else:
                    out.append(token)
            elif e in _LITERAL_ESCAPES:
                out.append(re.escape(e))
            else:
                out.append(re.escape(e))
        elif c == "(":
            depth += 1
            out.append("(")
            i += 1
        elif c == ")":
            depth -= 1
            if depth < 0:
                raise OsRegexError(f"unbalanced ')' in {alt!r}")
            out.append(")")
            i += 1
        elif c == "$" and i == n - 1:
            out.append("$")
            i += 1
        else:
            out.append(re.escape(c))
            i += 1
    if depth != 0:
        raise OsRegexError(f"unbalanced '(' in {alt!r}")
    return "".join(out)


def _split_alternatives(pattern: str) -> list[str]:
    parts: list[str] = []
    cur: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            cur.append(pattern[i : i + 2])
            i += 2
            continue
        if c == "|":
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    parts.append("".join(cur))
    return parts


def translate_os_regex(pattern: str) -> str:
    """The Python regex equivalent of an OS_Regex pattern (apply case-insensitively).

    Alternatives are tried in order like OSSEC does; each keeps its own groups,
    so the translation numbers groups per alternative through a branch reset
    emulation: the caller gets the groups of whichever alternative matched
    (see ``OsRegex``).
    """
    alts = _split_alternatives(pattern)
    return "|".join(f"(?:{_translate_alternative(a)})" for a in alts)


def alternatives(pattern: str) -> list[str]:
    """Each OS_Regex alternative translated separately (for per-branch capture groups)."""
    return [_translate_alternative(a) for a in _split_alternatives(pattern)]


@dataclass(frozen=True, slots=True)
class OsMatch:
    """A compiled OS_Match pattern: case-insensitive substring tests."""

    tests: tuple[tuple[str, str], ...]
    negate: bool = False

    @classmethod
    def compile(cls, pattern: str, negate: bool = False) -> OsMatch:
        """Parse ``pattern`` (``^``, ``$``, ``|``, leading ``!``)."""
        if pattern.startswith("!"):
            negate = not negate
            pattern = pattern[1:]
        tests: list[tuple[str, str]] = []
        for alt in pattern.split("|"):
            begin = alt.startswith("^")
            end = alt.endswith("$") and len(alt) > (1 if begin else 0)
            body = alt[1 if begin else 0 : len(alt) - (1 if end else 0)].lower()
            kind = "eq" if begin and end else "start" if begin else "end" if end else "in"
            tests.append((kind, body))
        return cls(tuple(tests), negate)

    def matches(self, text: str) -> bool:
        """Whether ``text`` matches (after negation)."""
        low = text.lower()
        hit = False
        for kind, body in self.tests:
            if (
                (kind == "in" and body in low)
                or (kind == "start" and low.startswith(body))
                or (kind == "end" and low.endswith(body))
                or (kind == "eq" and low == body)
            ):
                hit = True
                break
        return hit != self.negate
